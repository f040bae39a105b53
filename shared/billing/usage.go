package billing

import (
	"context"
	"time"

	"github.com/runyard/runyard/shared/usage"
)

// TotalsOf is UsageTotals over shared/usage's recorded periods.
func TotalsOf(u *usage.Service) UsageTotals {
	return func(ctx context.Context, tenant string, from, to time.Time) (map[string]float64, error) {
		out := map[string]float64{}
		if !from.Before(to) {
			return out, nil // the first instant of a month: nothing spent yet
		}
		t, err := u.Totals(ctx, tenant, from, to)
		if err != nil {
			return nil, err
		}
		for m, v := range t.Meters {
			out[m] = float64(v)
		}
		return out, nil
	}
}
