package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/store"
)

// MaxTotalsRange bounds the span Totals accepts.
const MaxTotalsRange = 400 * 24 * time.Hour

// Totals is a tenant's usage over [From, To): per meter, and per UTC day.
type Totals struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Meters has every meter, zero included.
	Meters map[string]int64 `json:"meters"`
	// Days has one entry per UTC day that [From, To) touches, oldest first.
	Days []DayTotals `json:"days"`
}

// DayTotals is one UTC day's usage (the part of it within the range).
type DayTotals struct {
	Day    string           `json:"day"` // "2006-01-02"
	Meters map[string]int64 `json:"meters"`
}

// Totals sums the tenant's usage over [from, to): runtime periods contribute the part of their
// span inside the range and each day (an open period counts up to now), builds count on the
// day they finished. Quantities are rounded per period and day, as billed.
func (s *Service) Totals(ctx context.Context, tenant string, from, to time.Time) (Totals, error) {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) || to.Sub(from) > MaxTotalsRange {
		return Totals{}, fmt.Errorf("%w: the range must be non-empty and at most %d days", ErrInvalid, int(MaxTotalsRange/(24*time.Hour)))
	}
	periods, err := s.periodsTouching(ctx, tenant, from, to)
	if err != nil {
		return Totals{}, err
	}
	now := s.now()
	t := Totals{From: from, To: to, Meters: zeroMeters()}
	index := map[string]int{}
	for d := dayStart(from); d.Before(to); d = d.AddDate(0, 0, 1) {
		index[d.Format("2006-01-02")] = len(t.Days)
		t.Days = append(t.Days, DayTotals{Day: d.Format("2006-01-02"), Meters: zeroMeters()})
	}
	add := func(day time.Time, meter string, v int64) {
		if v == 0 {
			return
		}
		i, ok := index[day.Format("2006-01-02")]
		if !ok {
			return
		}
		t.Days[i].Meters[meter] += v
		t.Meters[meter] += v
	}
	for _, p := range periods {
		switch p.Kind {
		case KindBuild:
			if p.Status == StatusClosed && !p.End.Before(from) && p.End.Before(to) {
				add(dayStart(p.End), MeterBuildMinutes, p.BuildMinutes)
			}
		case KindRuntime:
			end := p.End
			if p.Status == StatusOpen {
				end = now
			}
			start := maxTime(p.Start, from)
			end = minTime(end, to)
			for d := dayStart(start); d.Before(end); d = d.AddDate(0, 0, 1) {
				a, b := maxTime(start, d), minTime(end, d.AddDate(0, 0, 1))
				vcpu, gib := runtimeSeconds(p.VCPU, p.GiB, p.Rate, a, b)
				add(d, MeterVCPUSeconds, vcpu)
				add(d, MeterGiBSeconds, gib)
			}
		}
	}
	return t, nil
}

// periodsTouching lists the tenant's periods that may overlap [from, to): those that started in
// a month from two days before from up to to (a closed period spans at most a day and a
// sweeper tick), and every open period (whatever its start, in case the sweeper fell behind).
func (s *Service) periodsTouching(ctx context.Context, tenant string, from, to time.Time) ([]Period, error) {
	seen := map[string]bool{}
	var out []Period
	collect := func(f store.Filter) error {
		q := store.Query{Where: []store.Filter{f}, Limit: store.MaxLimit}
		for {
			page, next, err := store.ListOf[Period](ctx, s.store, tenant, KindUsage, q)
			if err != nil {
				return fmt.Errorf("usage: list periods: %w", err)
			}
			for _, p := range page {
				if !seen[p.ID] {
					seen[p.ID] = true
					out = append(out, p)
				}
			}
			if next == "" {
				return nil
			}
			q.Cursor = next
		}
	}
	first := dayStart(from.Add(-48 * time.Hour))
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, 1, 0) {
		if err := collect(store.Filter{Field: "month", Value: monthOf(m)}); err != nil {
			return nil, err
		}
	}
	if err := collect(store.Filter{Field: "status", Value: string(StatusOpen)}); err != nil {
		return nil, err
	}
	return out, nil
}

func zeroMeters() map[string]int64 {
	m := make(map[string]int64, len(Meters))
	for _, k := range Meters {
		m[k] = 0
	}
	return m
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
