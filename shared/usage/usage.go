// Package usage is the domain of metered usage (ARCHITECTURE.md §8): usage periods of runtimes
// (vCPU-seconds and GiB-seconds) and builds (build minutes), stored at
// tenants/{tenant}/usage/{period}, and the totals per meter and UTC day that budgets and
// GET /v1/tenants/{t}/usage read.
//
// A runtime always has at most one open period: each state change closes it and opens the next
// in the same store transaction as the change (Recorder, a runtime.Hook), and the sweeper splits
// an open period at each UTC midnight it has crossed (Service.Split), so no period is longer than
// a day plus a sweeper tick. Only running time is billed at full rate; paused and stopped time is
// recorded and billed at Config.StorageRate (default 0: recorded, not billed); other states are
// recorded at rate 0.
//
// A closed period is an outbox entry (Outbox true) written in the same transaction that closes
// it; after the commit it is published to the usage topic and marked published, and Drain
// republishes whatever a crash left behind. The usage function turns each published period into
// Stripe meter events whose identifier is the period id, so a period is billed once however often
// it is published or delivered.
package usage

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// KindUsage is the collection of periods: tenants/{tenant}/usage/{period}.
const KindUsage = "usage"

// Meters: the Stripe meter event names, and the keys of Totals.
const (
	MeterVCPUSeconds  = "runtime_vcpu_seconds"
	MeterGiBSeconds   = "runtime_gib_seconds"
	MeterBuildMinutes = "build_minutes"
)

// Meters lists every meter.
var Meters = []string{MeterVCPUSeconds, MeterGiBSeconds, MeterBuildMinutes}

// Kind says what a period meters.
type Kind string

// Period kinds.
const (
	KindRuntime Kind = "runtime"
	KindBuild   Kind = "build"
)

// Status of a period.
type Status string

// Statuses.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Errors.
var (
	ErrInvalid = errors.New("usage: invalid argument")
)

// Period is the record tenants/{t}/usage/{id}: one stretch of one runtime in one state, or one
// finished build.
type Period struct {
	ID     string `firestore:"id" json:"id"`
	Tenant string `firestore:"tenant" json:"tenant"`
	Kind   Kind   `firestore:"kind" json:"kind"`
	// Runtime (KindRuntime) or Build (KindBuild) metered.
	Runtime string `firestore:"runtime,omitempty" json:"runtime,omitempty"`
	Build   string `firestore:"build,omitempty" json:"build,omitempty"`
	// State is the runtime's state during the period.
	State string `firestore:"state,omitempty" json:"state,omitempty"`
	// VCPU and GiB are the runtime's size.
	VCPU int `firestore:"vcpu" json:"vcpu"`
	GiB  int `firestore:"gib" json:"gib"`
	// Rate is the fraction of VCPU and GiB billed over the period: 1 running, the storage rate
	// paused or stopped, 0 otherwise. Fixed when the period opens.
	Rate  float64   `firestore:"rate" json:"rate"`
	Start time.Time `firestore:"start" json:"start"`
	// End is zero while the period is open.
	End    time.Time `firestore:"end" json:"end,omitzero"`
	Status Status    `firestore:"status" json:"status"`
	// Month is Start's UTC month ("2006-01"), the field Totals queries by.
	Month string `firestore:"month" json:"-"`

	// Quantities, set when the period closes.
	VCPUSeconds  int64 `firestore:"vcpu_seconds" json:"vcpu_seconds"`
	GiBSeconds   int64 `firestore:"gib_seconds" json:"gib_seconds"`
	BuildMinutes int64 `firestore:"build_minutes" json:"build_minutes"`

	// Outbox is true from the transaction that closes the period until it has been published
	// to the usage topic.
	Outbox      bool      `firestore:"outbox" json:"-"`
	ClosedAt    time.Time `firestore:"closed_at" json:"-"`
	PublishedAt time.Time `firestore:"published_at" json:"-"`
	MessageID   string    `firestore:"message_id,omitempty" json:"-"`

	// Billing outcome, recorded by the usage function.
	// MeterEvents are the identifiers of the meter events Stripe accepted for this period.
	MeterEvents []string  `firestore:"meter_events" json:"-"`
	BilledAt    time.Time `firestore:"billed_at" json:"-"`
	// NotBilled says why a closed period was acknowledged without reaching Stripe
	// ("billing_off", "no_customer", "nothing_to_bill"); StripeError is a permanent Stripe
	// error (type and message, never a key).
	NotBilled   string `firestore:"not_billed,omitempty" json:"-"`
	StripeError string `firestore:"stripe_error,omitempty" json:"-"`
}

// Quantities returns the period's quantity per meter, for a closed period as recorded and for
// an open one as if it closed at now.
func (p Period) Quantities(now time.Time) map[string]int64 {
	if p.Status == StatusClosed {
		return p.quantities()
	}
	q := p
	q.End = now
	q.computeQuantities()
	return q.quantities()
}

func (p Period) quantities() map[string]int64 {
	if p.Kind == KindBuild {
		return map[string]int64{MeterBuildMinutes: p.BuildMinutes}
	}
	return map[string]int64{MeterVCPUSeconds: p.VCPUSeconds, MeterGiBSeconds: p.GiBSeconds}
}

// Close ends an open period at end: it records the end and the quantities and puts the period
// in the outbox. A period ending before it starts ends at its start.
func (p *Period) Close(end time.Time) {
	end = end.UTC()
	if end.Before(p.Start) {
		end = p.Start
	}
	p.End, p.Status, p.ClosedAt, p.Outbox = end, StatusClosed, end, true
	p.computeQuantities()
}

// computeQuantities sets the quantities from the size, rate and span.
func (p *Period) computeQuantities() {
	switch p.Kind {
	case KindBuild:
		p.BuildMinutes = BuildMinutes(p.End.Sub(p.Start))
	default:
		p.VCPUSeconds, p.GiBSeconds = runtimeSeconds(p.VCPU, p.GiB, p.Rate, p.Start, p.End)
	}
}

// runtimeSeconds is vCPU-seconds and GiB-seconds over [start, end) at rate, rounded to the
// nearest whole second (Stripe meter values are integers).
func runtimeSeconds(vcpu, gib int, rate float64, start, end time.Time) (int64, int64) {
	secs := end.Sub(start).Seconds()
	if secs <= 0 || rate <= 0 {
		return 0, 0
	}
	return int64(math.Round(float64(vcpu) * rate * secs)), int64(math.Round(float64(gib) * rate * secs))
}

// BuildMinutes is a build's billed minutes: its duration rounded up to a whole minute (a build
// of no measurable duration is 0).
func BuildMinutes(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Minute - 1) / time.Minute)
}

// Billable reports whether the closed period has anything to bill.
func (p Period) Billable() bool {
	for _, v := range p.quantities() {
		if v > 0 {
			return true
		}
	}
	return false
}

// RuntimePeriodID is the id of the period a runtime opened when it reached generation gen
// (runtime.Runtime.Generation): "{runtime}-{gen, 6 digits}". It is known without a read, so the
// transaction of the next state change finds the open period by key.
func RuntimePeriodID(runtime string, gen int64) string {
	return fmt.Sprintf("%s-%06d", runtime, gen)
}

// splitPieceID is the id of the piece split off an open period at the sweeper's rollover: the
// open period's id and the piece's UTC start day.
func splitPieceID(openID string, start time.Time) string {
	return openID + "-" + start.UTC().Format("20060102T150405")
}

// BuildPeriodID is the id of a build's period.
func BuildPeriodID(build string) string { return "build-" + build }

// MeterEventID is the Stripe meter event identifier (and idempotency key) of a period's
// event for meter: unique per period and meter, the same on every delivery.
func MeterEventID(periodID, meter string) string { return periodID + "." + meter }

// monthOf is the UTC month of t, "2006-01".
func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// dayStart is the UTC midnight at or before t.
func dayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
