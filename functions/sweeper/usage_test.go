package sweeper_test

import (
	"context"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/sweeper"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/usage"
)

// TestTickSplitsAndDrainsUsage: a tick splits a running period at each UTC midnight it has
// crossed and publishes what the outbox holds (a period closed by a process that never
// published it), each exactly once however many ticks follow.
func TestTickSplitsAndDrainsUsage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{})
	ctx := context.Background()
	old := &clock{t: f.clock.Now().Add(-50 * time.Hour)}
	f.rts.SetClock(old.Now)

	long := f.running(t, "acme") // running for 50 hours
	if err := f.rts.Touch(ctx, long.Tenant, long.ID, f.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	closed := f.running(t, "acme") // ran for one hour, 49 hours ago; never published
	old.Add(time.Hour)
	f.do(t, closed, runtime.ActionPause)

	f.tick(t)
	f.tick(t)

	published := map[string]int{}
	for _, m := range f.pub.Messages() {
		ev, err := usage.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		published[ev.Period]++
	}
	use, err := usage.NewService(f.st, usage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := f.get(t, long).UpdatedAt
	wantPieces := int(dayOf(f.clock.Now()).Sub(dayOf(start)) / (24 * time.Hour))
	for _, r := range []runtime.Runtime{long, closed} {
		ps, err := use.ListRuntime(ctx, r.Tenant, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		pieces := 0
		for _, p := range ps {
			if p.Outbox {
				t.Errorf("period %s still in the outbox after two ticks", p.ID)
			}
			if p.State != string(runtime.StateRunning) || p.Status != usage.StatusClosed {
				continue
			}
			pieces++
			if published[p.ID] != 1 {
				t.Errorf("period %s published %d times, want once", p.ID, published[p.ID])
			}
		}
		if r.ID == closed.ID && pieces != 1 {
			t.Errorf("the paused runtime has %d closed running periods, want 1", pieces)
		}
		if r.ID == long.ID && pieces != wantPieces {
			t.Errorf("the long-running runtime was split into %d pieces, want %d (one per midnight)", pieces, wantPieces)
		}
	}
	if len(f.pub.Messages()) != wantPieces+1 {
		t.Errorf("published %d messages, want %d", len(f.pub.Messages()), wantPieces+1)
	}
}

func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
