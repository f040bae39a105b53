package billing

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/config"
)

// Meters: the usage Runyard records and reports to Stripe (shared/usage names the same).
const (
	MeterVCPUSeconds  = "runtime_vcpu_seconds"
	MeterGiBSeconds   = "runtime_gib_seconds"
	MeterBuildMinutes = "build_minutes"
)

// Meters lists the meters in display order.
var Meters = []string{MeterVCPUSeconds, MeterGiBSeconds, MeterBuildMinutes}

// NanoUSD is an amount in billionths of a US dollar: unit prices (a vCPU-second costs a few
// hundred-thousandths of a dollar) are exact in it.
type NanoUSD int64

// MicroUSD is an amount in millionths of a US dollar: spend and budgets.
type MicroUSD int64

// USD renders m in dollars with six decimals.
func (m MicroUSD) USD() float64 { return float64(m) / 1e6 }

// Prices are the unit prices that turn usage into spend, per meter.
type Prices map[string]NanoUSD

// Default unit prices (US dollars), close to Cloud Run's and Cloud Build's list prices.
const (
	DefaultPriceVCPUSecond  = "0.000024"
	DefaultPriceGiBSecond   = "0.0000025"
	DefaultPriceBuildMinute = "0.003"
)

// PriceConfig is the unit prices from the environment, as decimal US dollars (at most nine
// decimals): "0.000024" is 2.4 thousandths of a cent.
type PriceConfig struct {
	VCPUSecond  string `env:"PRICE_VCPU_SECOND, default=0.000024"`
	GiBSecond   string `env:"PRICE_GIB_SECOND, default=0.0000025"`
	BuildMinute string `env:"PRICE_BUILD_MINUTE, default=0.003"`
}

// DefaultPriceConfig is PriceConfig's defaults, for callers that build configs by hand.
var DefaultPriceConfig = PriceConfig{VCPUSecond: DefaultPriceVCPUSecond, GiBSecond: DefaultPriceGiBSecond,
	BuildMinute: DefaultPriceBuildMinute}

// Prices parses the configuration; empty entries take their defaults.
func (c PriceConfig) Prices() (Prices, error) {
	var p config.Problems
	out := Prices{}
	for _, e := range []struct{ env, meter, v, def string }{
		{"PRICE_VCPU_SECOND", MeterVCPUSeconds, c.VCPUSecond, DefaultPriceVCPUSecond},
		{"PRICE_GIB_SECOND", MeterGiBSeconds, c.GiBSecond, DefaultPriceGiBSecond},
		{"PRICE_BUILD_MINUTE", MeterBuildMinutes, c.BuildMinute, DefaultPriceBuildMinute},
	} {
		v := e.v
		if v == "" {
			v = e.def
		}
		n, err := ParseUSD(v)
		p.Check(err == nil, "%s: %v", e.env, err)
		out[e.meter] = n
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Validate reports every bad price at once.
func (c PriceConfig) Validate() error {
	_, err := c.Prices()
	return err
}

// maxPrice bounds a unit price: 1000 US dollars.
const maxPrice = 1000 * 1e9

// ParseUSD parses a non-negative decimal amount of US dollars with at most nine decimals
// ("0.000024", "3", "0.5") into billionths of a dollar.
func ParseUSD(s string) (NanoUSD, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 4 || len(frac) > 9 || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal amount of US dollars with at most nine decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
	}
	n := w*1e9 + f
	if n > maxPrice {
		return 0, fmt.Errorf("%q is more than 1000 US dollars per unit", s)
	}
	return NanoUSD(n), nil
}

// Spend is what totals (per meter, in the meter's unit) cost at these prices, rounded to the
// nearest micro-dollar. Meters without a price cost nothing.
func (p Prices) Spend(totals map[string]float64) MicroUSD {
	nano := 0.0
	for meter, units := range totals {
		if units > 0 {
			nano += units * float64(p[meter])
		}
	}
	micro := math.Round(nano / 1000)
	if micro > math.MaxInt64/2 {
		return MicroUSD(math.MaxInt64 / 2)
	}
	return MicroUSD(micro)
}

// MonthStart is the first instant of t's calendar month in UTC: budgets run per month.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ParseMicroUSD parses a budget: a non-negative decimal amount of US dollars with at most six
// decimals and at most MaxBudgetMicroUSD ("50", "12.5", "0").
func ParseMicroUSD(s string) (MicroUSD, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 10 || len(frac) > 6 || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q is not a decimal amount of US dollars with at most six decimals", ErrInvalid, s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
	}
	m := MicroUSD(w*1e6 + f)
	if m > MaxBudgetMicroUSD {
		return 0, fmt.Errorf("%w: at most 1000000000 US dollars", ErrInvalid)
	}
	return m, nil
}
