package usage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
)

// Service is a runtime.Hook: install it with runtime.Service.SetHook and every state change
// closes the runtime's open period and opens the next in the change's own transaction.
var _ runtime.Hook = (*Service)(nil)

// Prepare implements runtime.Hook: it reads the runtime's open period (before any write). A
// runtime recorded before usage metering existed has none; its first change opens one.
func (s *Service) Prepare(tx store.Tx, before runtime.Runtime) (runtime.Change, error) {
	c := &change{s: s}
	if before.ID == "" {
		return c, nil
	}
	var p Period
	_, err := tx.Get(periodKey(before.Tenant, RuntimePeriodID(before.ID, before.Generation)), &p)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("usage: read open period: %w", err)
	case p.Status == StatusOpen:
		c.open = &p
	}
	return c, nil
}

// change is one state change's part: close the open period, open the next.
type change struct {
	s      *Service
	open   *Period
	closed []Period // closed periods to publish after the commit
}

// Write implements runtime.Change.
func (c *change) Write(tx store.Tx, after runtime.Runtime) error {
	at := after.UpdatedAt.UTC()
	if c.open != nil {
		p := *c.open
		p.Close(at)
		settle(&p)
		if err := tx.Put(periodKey(p.Tenant, p.ID), p); err != nil {
			return err
		}
		if p.Outbox {
			c.closed = append(c.closed, p)
		}
	}
	if after.State == runtime.StateDeleted {
		return nil
	}
	next := c.s.openPeriod(after, at)
	return tx.Put(periodKey(next.Tenant, next.ID), next)
}

// Committed implements runtime.Change: it publishes the closed period. A failure leaves it in
// the outbox for Drain.
func (c *change) Committed(ctx context.Context) {
	for _, p := range c.closed {
		c.s.publishLogged(ctx, p)
	}
}

// openPeriod is the period r opens at at.
func (s *Service) openPeriod(r runtime.Runtime, at time.Time) Period {
	return Period{
		ID: RuntimePeriodID(r.ID, r.Generation), Tenant: r.Tenant, Kind: KindRuntime, Runtime: r.ID,
		State: string(r.State), VCPU: r.VCPU, GiB: deploy.Sizes[r.ResourceFactor].GiB, Rate: s.rate(r.State),
		Start: at, Status: StatusOpen, Month: monthOf(at), MeterEvents: []string{},
	}
}

// rate is the billed fraction of a runtime's size in state st.
func (s *Service) rate(st runtime.State) float64 {
	switch st {
	case runtime.StateRunning:
		return 1
	case runtime.StatePaused, runtime.StateStopped:
		return s.opts.StorageRate
	}
	return 0
}

// settle takes a closed period with nothing to bill out of the outbox: there is nothing to
// publish.
func settle(p *Period) {
	if p.Outbox && !p.Billable() {
		p.Outbox, p.NotBilled = false, NotBilledNothing
	}
}

// Reasons a closed period was not billed (Period.NotBilled).
const (
	NotBilledNothing    = "nothing_to_bill"
	NotBilledOff        = "billing_off"
	NotBilledNoCustomer = "no_customer"
	NotBilledPermanent  = "stripe_rejected"
)

// MaxSplitDays bounds the midnights one Split call closes per period (a sweeper that was down
// for longer catches up over several ticks).
const MaxSplitDays = 62

// Split closes, at each UTC midnight it has crossed, every open period of the tenant that
// started before today (UTC), opening the rest of it from that midnight under the same id; the
// pieces are published like any closed period. It returns how many pieces it closed. Run by the
// sweeper each tick.
func (s *Service) Split(ctx context.Context, tenant string) (int, error) {
	now := s.now()
	today := dayStart(now)
	open, err := s.list(ctx, tenant, store.Filter{Field: "status", Value: string(StatusOpen)})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, o := range open {
		if !o.Start.Before(today) {
			continue
		}
		var pieces []Period
		err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
			pieces = nil
			var p Period
			if _, err := tx.Get(periodKey(tenant, o.ID), &p); err != nil {
				return err
			}
			for days := 0; p.Status == StatusOpen && p.Start.Before(today) && days < MaxSplitDays; days++ {
				boundary := dayStart(p.Start).AddDate(0, 0, 1)
				piece := p
				piece.ID = splitPieceID(p.ID, p.Start)
				piece.Close(boundary)
				piece.ClosedAt = now
				settle(&piece)
				pieces = append(pieces, piece)
				p.Start, p.Month = boundary, monthOf(boundary)
			}
			for _, piece := range pieces {
				if err := tx.Put(periodKey(tenant, piece.ID), piece); err != nil {
					return err
				}
			}
			if len(pieces) == 0 {
				return nil
			}
			return tx.Put(periodKey(tenant, p.ID), p)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("usage: split %s: %w", o.ID, err))
			continue
		}
		n += len(pieces)
		for _, piece := range pieces {
			if piece.Outbox {
				s.publishLogged(ctx, piece)
			}
		}
	}
	return n, errors.Join(errs...)
}

// RecordBuild records a finished build's minutes once: a second call for the same build changes
// nothing. The period is published after the commit.
func (s *Service) RecordBuild(ctx context.Context, tenant, build string, start, end time.Time) error {
	if build == "" || start.IsZero() || end.IsZero() {
		return fmt.Errorf("%w: a build id, start and end are required", ErrInvalid)
	}
	start = start.UTC()
	p := Period{ID: BuildPeriodID(build), Tenant: tenant, Kind: KindBuild, Build: build, Start: start,
		Month: monthOf(start), MeterEvents: []string{}}
	p.Close(end)
	p.ClosedAt = s.now()
	settle(&p)
	created := false
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		created = false
		var existing Period
		_, err := tx.Get(periodKey(tenant, p.ID), &existing)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		created = true
		return tx.Create(periodKey(tenant, p.ID), p)
	})
	if err != nil {
		return fmt.Errorf("usage: record build %s: %w", build, err)
	}
	if created && p.Outbox {
		s.publishLogged(ctx, p)
	}
	return nil
}

// list returns every period of the tenant matching f.
func (s *Service) list(ctx context.Context, tenant string, f store.Filter) ([]Period, error) {
	var out []Period
	q := store.Query{Where: []store.Filter{f}, Limit: store.MaxLimit}
	for {
		page, next, err := store.ListOf[Period](ctx, s.store, tenant, KindUsage, q)
		if err != nil {
			return nil, fmt.Errorf("usage: list periods: %w", err)
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		q.Cursor = next
	}
}
