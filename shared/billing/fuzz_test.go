package billing_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/runyard/runyard/shared/billing"
)

// FuzzParseMicroUSD: no input panics; an accepted budget is within bounds and prints back to
// the same amount.
func FuzzParseMicroUSD(f *testing.F) {
	for _, s := range []string{"0", "50", "12.5", "0.000001", "1000000000", "1e3", "-1", ".5", "1.", "", "99999999999", "1.0000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := billing.ParseMicroUSD(s)
		if err != nil {
			return
		}
		if m < 0 || m > billing.MaxBudgetMicroUSD {
			t.Fatalf("ParseMicroUSD(%q) = %d out of bounds", s, m)
		}
		back, err := billing.ParseMicroUSD(fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000))
		if err != nil || back != m {
			t.Fatalf("round trip of %q: %d → %d, %v", s, m, back, err)
		}
		if v, err := strconv.ParseFloat(s, 64); err != nil || v < 0 {
			t.Fatalf("accepted %q, which is not a non-negative number", s)
		}
	})
}

// FuzzParseUSD: no input panics; an accepted unit price is at most 1000 dollars.
func FuzzParseUSD(f *testing.F) {
	for _, s := range []string{"0.000024", "0.0000025", "0.003", "1000", "1000.000000001", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := billing.ParseUSD(s)
		if err == nil && (n < 0 || n > 1000*1e9) {
			t.Fatalf("ParseUSD(%q) = %d out of bounds", s, n)
		}
	})
}
