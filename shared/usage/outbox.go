package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
)

// Event is the message published to the usage topic for one closed period (JSON data;
// attributes "tenant" and "period" repeat the key).
type Event struct {
	Tenant  string    `json:"tenant"`
	Period  string    `json:"period"`
	Kind    Kind      `json:"kind"`
	Runtime string    `json:"runtime,omitempty"`
	Build   string    `json:"build,omitempty"`
	State   string    `json:"state,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Quantities per meter (meters with nothing to bill are left out).
	Quantities map[string]int64 `json:"quantities"`
}

// EventOf is the event of a closed period.
func EventOf(p Period) Event {
	q := map[string]int64{}
	for m, v := range p.quantities() {
		if v > 0 {
			q[m] = v
		}
	}
	return Event{Tenant: p.Tenant, Period: p.ID, Kind: p.Kind, Runtime: p.Runtime, Build: p.Build, State: p.State,
		Start: p.Start, End: p.End, Quantities: q}
}

// MaxEventBytes bounds an event's encoding.
const MaxEventBytes = 16 << 10

// DecodeEvent parses and checks a usage event.
func DecodeEvent(data []byte) (Event, error) {
	if len(data) > MaxEventBytes {
		return Event{}, fmt.Errorf("%w: event larger than %d bytes", ErrInvalid, MaxEventBytes)
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: event: %v", ErrInvalid, err)
	}
	if !ids.ValidTenant(e.Tenant) {
		return Event{}, fmt.Errorf("%w: event tenant %q", ErrInvalid, e.Tenant)
	}
	if err := periodKey(e.Tenant, e.Period).Validate(); err != nil || e.Period == "" {
		return Event{}, fmt.Errorf("%w: event period id %q", ErrInvalid, e.Period)
	}
	return e, nil
}

// publish sends p to the usage topic and takes it out of the outbox.
func (s *Service) publish(ctx context.Context, p Period) error {
	if s.opts.Publisher == nil {
		return errors.New("usage: no publisher")
	}
	data, err := json.Marshal(EventOf(p))
	if err != nil {
		return fmt.Errorf("usage: encode event: %w", err)
	}
	id, err := s.opts.Publisher.Publish(ctx, s.opts.Topic, data, map[string]string{"tenant": p.Tenant, "period": p.ID})
	if err != nil {
		return fmt.Errorf("usage: publish %s: %w", p.ID, err)
	}
	now := s.now()
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var cur Period
		if _, err := tx.Get(periodKey(p.Tenant, p.ID), &cur); err != nil {
			return err
		}
		if !cur.Outbox {
			return nil
		}
		cur.Outbox, cur.PublishedAt, cur.MessageID = false, now, id
		return tx.Put(periodKey(p.Tenant, p.ID), cur)
	})
	if err != nil {
		// Published but still in the outbox: Drain publishes it again, and the usage function
		// bills it once anyway.
		return fmt.Errorf("usage: mark %s published: %w", p.ID, err)
	}
	return nil
}

// publishLogged publishes right after a commit; a failure is logged and left to Drain.
func (s *Service) publishLogged(ctx context.Context, p Period) {
	if s.opts.Publisher == nil {
		return
	}
	if err := s.publish(ctx, p); err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "usage period left in the outbox", "tenant", p.Tenant, "period", p.ID, "error", err)
	}
}

// Drain publishes the tenant's closed periods still in the outbox that closed more than the
// grace ago (younger ones are being published by whoever closed them). It returns how many it
// published. Run by the sweeper each tick.
func (s *Service) Drain(ctx context.Context, tenant string) (int, error) {
	if s.opts.Publisher == nil {
		return 0, errors.New("usage: Drain needs a publisher")
	}
	pending, err := s.list(ctx, tenant, store.Filter{Field: "outbox", Value: true})
	if err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-s.opts.Grace)
	n := 0
	var errs []error
	for _, p := range pending {
		if p.ClosedAt.After(cutoff) {
			continue
		}
		if err := s.publish(ctx, p); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Outcome is what the usage function did with a period.
type Outcome struct {
	// MeterEvents Stripe accepted (identifiers).
	MeterEvents []string
	// NotBilled says why the period was acknowledged without billing ("" when billed).
	NotBilled string
	// StripeError is a permanent Stripe error (no secret in it).
	StripeError string
}

// RecordOutcome records the billing outcome on the period: accepted meter events accumulate
// (a redelivery adds none twice), the last reason and error replace earlier ones.
func (s *Service) RecordOutcome(ctx context.Context, tenant, id string, o Outcome) (Period, error) {
	now := s.now()
	p, err := store.Update(ctx, s.store, periodKey(tenant, id), func(p *Period) error {
		for _, m := range o.MeterEvents {
			if !contains(p.MeterEvents, m) {
				p.MeterEvents = append(p.MeterEvents, m)
			}
		}
		if len(o.MeterEvents) > 0 {
			p.BilledAt = now
		}
		p.NotBilled, p.StripeError = o.NotBilled, o.StripeError
		return nil
	})
	if err != nil {
		return Period{}, fmt.Errorf("usage: record outcome of %s: %w", id, err)
	}
	return p, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// SweepReport is what one Sweep did for a tenant.
type SweepReport struct {
	// Split is how many pieces were closed at midnights; Published how many outbox entries
	// were published.
	Split, Published int
	// Pending counts what needs later sweeps: entries still in the outbox and open periods
	// that are billed.
	Pending int
}

// Sweep is the sweeper's usage pass over one tenant: Split, then Drain, then a count of what is
// left for later ticks (the sweeper keeps visiting the tenant while it is not zero).
func (s *Service) Sweep(ctx context.Context, tenant string) (SweepReport, error) {
	var r SweepReport
	var errs []error
	var err error
	if r.Split, err = s.Split(ctx, tenant); err != nil {
		errs = append(errs, err)
	}
	if r.Published, err = s.Drain(ctx, tenant); err != nil {
		errs = append(errs, err)
	}
	pending, err := s.list(ctx, tenant, store.Filter{Field: "outbox", Value: true})
	if err != nil {
		errs = append(errs, err)
	}
	open, err := s.list(ctx, tenant, store.Filter{Field: "status", Value: string(StatusOpen)})
	if err != nil {
		errs = append(errs, err)
	}
	r.Pending = len(pending)
	for _, p := range open {
		if p.Rate > 0 {
			r.Pending++
		}
	}
	return r, errors.Join(errs...)
}
