package usage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// seed writes periods straight to the store, closing those with an end.
func seed(t *testing.T, st store.Store, ps ...Period) {
	t.Helper()
	for _, p := range ps {
		p.Month = monthOf(p.Start)
		if p.Kind == "" {
			p.Kind = KindRuntime
		}
		if p.End.IsZero() {
			p.Status = StatusOpen
		} else {
			p.Close(p.End)
		}
		if _, err := st.Create(context.Background(), periodKey(p.Tenant, p.ID), p); err != nil {
			t.Fatal(err)
		}
	}
}

func meters(vcpu, gib, build int64) map[string]int64 {
	return map[string]int64{MeterVCPUSeconds: vcpu, MeterGiBSeconds: gib, MeterBuildMinutes: build}
}

func TestTotals(t *testing.T) {
	t.Parallel()
	st := storetest.NewEmulatorStore(t)
	now := at("2026-11-03T12:00:00Z")
	svc, err := NewService(st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st,
		// Two hours running on Nov 1 at 2 vCPU / 4 GiB.
		Period{ID: "a-000001", Tenant: "acme", Runtime: "a", State: "running", VCPU: 2, GiB: 4, Rate: 1, Start: at("2026-11-01T10:00:00Z"), End: at("2026-11-01T12:00:00Z")},
		// Paused for the rest of the day: recorded, not billed.
		Period{ID: "a-000002", Tenant: "acme", Runtime: "a", State: "paused", VCPU: 2, GiB: 4, Rate: 0, Start: at("2026-11-01T12:00:00Z"), End: at("2026-11-01T20:00:00Z")},
		// Across midnight Oct 31 → Nov 1: one hour each side, the October hour is outside.
		Period{ID: "b-000003", Tenant: "acme", Runtime: "b", State: "running", VCPU: 1, GiB: 2, Rate: 1, Start: at("2026-10-31T23:00:00Z"), End: at("2026-11-01T01:00:00Z")},
		// Across midnight Nov 1 → Nov 2: split between the days.
		Period{ID: "c-000001", Tenant: "acme", Runtime: "c", State: "running", VCPU: 1, GiB: 2, Rate: 1, Start: at("2026-11-01T23:30:00Z"), End: at("2026-11-02T00:30:00Z")},
		// Open since 11:00 today: counts up to now (one hour).
		Period{ID: "d-000002", Tenant: "acme", Runtime: "d", State: "running", VCPU: 4, GiB: 8, Rate: 1, Start: at("2026-11-03T11:00:00Z")},
		// A build that finished on Nov 2 after 2m01s: 3 minutes.
		Period{ID: BuildPeriodID("bld1"), Tenant: "acme", Kind: KindBuild, Build: "bld1", Start: at("2026-11-02T08:00:00Z"), End: at("2026-11-02T08:02:01Z")},
		// A build in September: outside.
		Period{ID: BuildPeriodID("bld0"), Tenant: "acme", Kind: KindBuild, Build: "bld0", Start: at("2026-09-02T08:00:00Z"), End: at("2026-09-02T08:10:00Z")},
		// Another tenant's usage never counts.
		Period{ID: "z-000001", Tenant: "other", Runtime: "z", State: "running", VCPU: 8, GiB: 16, Rate: 1, Start: at("2026-11-01T10:00:00Z"), End: at("2026-11-01T12:00:00Z")},
		Period{ID: "y-000001", Tenant: "other", Runtime: "y", State: "running", VCPU: 8, GiB: 16, Rate: 1, Start: at("2026-11-03T10:00:00Z")},
	)

	got, err := svc.Totals(context.Background(), "acme", at("2026-11-01T00:00:00Z"), at("2026-11-04T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{
		From:   at("2026-11-01T00:00:00Z"),
		To:     at("2026-11-04T00:00:00Z"),
		Meters: meters(2*7200+3600+3600+4*3600, 4*7200+2*3600+2*3600+8*3600, 3),
		Days: []DayTotals{
			{Day: "2026-11-01", Meters: meters(2*7200+3600+1800, 4*7200+2*3600+2*1800, 0)},
			{Day: "2026-11-02", Meters: meters(1800, 2*1800, 3)},
			{Day: "2026-11-03", Meters: meters(4*3600, 8*3600, 0)},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Totals mismatch (-want +got):\n%s", diff)
	}

	// A range starting mid-period counts only the part inside it.
	got, err = svc.Totals(context.Background(), "acme", at("2026-11-01T11:00:00Z"), at("2026-11-01T12:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(meters(2*3600, 4*3600, 0), got.Meters); diff != "" {
		t.Errorf("partial range mismatch (-want +got):\n%s", diff)
	}
}

func TestTotalsRejectsBadRanges(t *testing.T) {
	t.Parallel()
	st := storetest.NewEmulatorStore(t)
	svc, err := NewService(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
	}{
		{"empty", at("2026-11-01T00:00:00Z"), at("2026-11-01T00:00:00Z")},
		{"reversed", at("2026-11-02T00:00:00Z"), at("2026-11-01T00:00:00Z")},
		{"too long", at("2020-01-01T00:00:00Z"), at("2026-11-01T00:00:00Z")},
	} {
		if _, err := svc.Totals(context.Background(), "acme", tc.from, tc.to); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestQuantities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Period
		end  time.Time
		want map[string]int64
	}{
		{"running", Period{Kind: KindRuntime, VCPU: 2, GiB: 4, Rate: 1, Start: at("2026-11-01T00:00:00Z")}, at("2026-11-01T00:01:00Z"),
			map[string]int64{MeterVCPUSeconds: 120, MeterGiBSeconds: 240}},
		{"storage rate", Period{Kind: KindRuntime, VCPU: 2, GiB: 4, Rate: 0.25, Start: at("2026-11-01T00:00:00Z")}, at("2026-11-01T00:01:00Z"),
			map[string]int64{MeterVCPUSeconds: 30, MeterGiBSeconds: 60}},
		{"end before start", Period{Kind: KindRuntime, VCPU: 2, GiB: 4, Rate: 1, Start: at("2026-11-01T00:00:00Z")}, at("2026-10-01T00:00:00Z"),
			map[string]int64{MeterVCPUSeconds: 0, MeterGiBSeconds: 0}},
		{"build rounds up", Period{Kind: KindBuild, Start: at("2026-11-01T00:00:00Z")}, at("2026-11-01T00:00:01Z"),
			map[string]int64{MeterBuildMinutes: 1}},
		{"build exact", Period{Kind: KindBuild, Start: at("2026-11-01T00:00:00Z")}, at("2026-11-01T00:02:00Z"),
			map[string]int64{MeterBuildMinutes: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			if diff := cmp.Diff(tc.want, p.Quantities(tc.end)); diff != "" {
				t.Errorf("open Quantities mismatch (-want +got):\n%s", diff)
			}
			p.Close(tc.end)
			if diff := cmp.Diff(tc.want, p.Quantities(time.Time{})); diff != "" {
				t.Errorf("closed Quantities mismatch (-want +got):\n%s", diff)
			}
			if !p.Outbox || p.Status != StatusClosed {
				t.Errorf("closed period: outbox %v status %q", p.Outbox, p.Status)
			}
		})
	}
}
