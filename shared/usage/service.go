package usage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/store"
)

// Topic is the Pub/Sub topic closed periods are published to.
const Topic = "usage"

// Options configure a Service.
type Options struct {
	// StorageRate is the fraction of a runtime's vCPU and GiB billed while it is paused or
	// stopped (its service is scaled to zero or gone, its workspace kept). 0, the default,
	// records those periods without billing them. Between 0 and 1.
	StorageRate float64
	// Publisher publishes closed periods to Topic. Without one, closed periods stay in the
	// outbox until a Service with a publisher drains them.
	Publisher events.Publisher
	// Topic overrides the topic (default Topic).
	Topic string
	// Grace is how old an unpublished closed period must be before Drain publishes it (the
	// closing call publishes it itself right after the commit); default DefaultGrace.
	Grace time.Duration
	// Now is the clock (default time.Now in UTC).
	Now func() time.Time
}

// DefaultGrace is the default Options.Grace.
const DefaultGrace = time.Minute

// Service records and reads usage periods.
type Service struct {
	store store.Store
	opts  Options
}

// NewService returns a Service over st.
func NewService(st store.Store, opts Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("usage.NewService: a store is required")
	}
	if opts.StorageRate < 0 || opts.StorageRate > 1 {
		return nil, fmt.Errorf("usage.NewService: storage rate %v is not between 0 and 1", opts.StorageRate)
	}
	if opts.Topic == "" {
		opts.Topic = Topic
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{store: st, opts: opts}, nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Get returns one period.
func (s *Service) Get(ctx context.Context, tenant, id string) (Period, error) {
	var p Period
	if _, err := s.store.Get(ctx, periodKey(tenant, id), &p); err != nil {
		return Period{}, fmt.Errorf("usage: get %s: %w", id, err)
	}
	return p, nil
}

// ListRuntime returns every period of one runtime, oldest first.
func (s *Service) ListRuntime(ctx context.Context, tenant, runtime string) ([]Period, error) {
	var out []Period
	q := store.Query{Where: []store.Filter{{Field: "runtime", Value: runtime}}, Limit: store.MaxLimit}
	for {
		page, next, err := store.ListOf[Period](ctx, s.store, tenant, KindUsage, q)
		if err != nil {
			return nil, fmt.Errorf("usage: list periods of %s: %w", runtime, err)
		}
		out = append(out, page...)
		if next == "" {
			sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
			return out, nil
		}
		q.Cursor = next
	}
}

func periodKey(tenant, id string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindUsage, ID: id}
}
