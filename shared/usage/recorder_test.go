package usage_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/events/eventstest"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/usage"
)

// clock is a settable clock shared by the runtime and usage services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st    store.Store
	clock *clock
	rts   *runtime.Service
	use   *usage.Service
	pub   *eventstest.Recorder
}

func newEnv(t *testing.T, opts usage.Options) *env {
	t.Helper()
	e := &env{st: storetest.NewEmulatorStore(t), clock: &clock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}, pub: &eventstest.Recorder{}}
	var err error
	if e.rts, err = runtime.NewService(e.st, []deploy.Cell{{Name: "c1", Project: "p", Region: "r", Limit: 10}}); err != nil {
		t.Fatal(err)
	}
	e.rts.SetClock(e.clock.Now)
	if opts.Publisher == nil {
		opts.Publisher = e.pub
	}
	opts.Now = e.clock.Now
	if e.use, err = usage.NewService(e.st, opts); err != nil {
		t.Fatal(err)
	}
	e.rts.SetHook(e.use)
	return e
}

func (e *env) create(t *testing.T, tenant string) runtime.Runtime {
	t.Helper()
	r, err := e.rts.Create(context.Background(), tenant, runtime.Spec{Image: "img", ResourceFactor: 2, State: runtime.StateDeploying})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) move(t *testing.T, r runtime.Runtime, after time.Duration, to runtime.State) {
	t.Helper()
	e.clock.Add(after)
	if _, err := e.rts.Transition(context.Background(), r.Tenant, r.ID, to, nil); err != nil {
		t.Fatal(err)
	}
}

// summary is what the tests compare of a period.
type summary struct {
	ID          string
	State       string
	Status      usage.Status
	VCPUSeconds int64
	GiBSeconds  int64
	Outbox      bool
	Published   bool
	NotBilled   string
}

func (e *env) periods(t *testing.T, tenant, runtimeID string) []summary {
	t.Helper()
	ps, err := e.use.ListRuntime(context.Background(), tenant, runtimeID)
	if err != nil {
		t.Fatal(err)
	}
	var out []summary
	for _, p := range ps {
		out = append(out, summary{ID: p.ID, State: p.State, Status: p.Status, VCPUSeconds: p.VCPUSeconds, GiBSeconds: p.GiBSeconds,
			Outbox: p.Outbox, Published: !p.PublishedAt.IsZero(), NotBilled: p.NotBilled})
	}
	return out
}

func events_(t *testing.T, msgs []eventstest.Message) []usage.Event {
	t.Helper()
	var out []usage.Event
	for _, m := range msgs {
		if m.Topic != usage.Topic {
			t.Errorf("published to %q, want %q", m.Topic, usage.Topic)
		}
		ev, err := usage.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Attrs["tenant"] != ev.Tenant || m.Attrs["period"] != ev.Period {
			t.Errorf("attributes %v do not match event %s/%s", m.Attrs, ev.Tenant, ev.Period)
		}
		out = append(out, ev)
	}
	return out
}

func TestLifecyclePeriods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{})
	r := e.create(t, "acme")
	e.move(t, r, 10*time.Second, runtime.StateRunning)
	e.move(t, r, time.Hour, runtime.StatePaused)
	e.move(t, r, 30*time.Minute, runtime.StateRunning)
	e.move(t, r, 30*time.Minute, runtime.StateStopped)
	e.move(t, r, 24*time.Hour, runtime.StateDeleted)

	id := func(g int64) string { return usage.RuntimePeriodID(r.ID, g) }
	want := []summary{
		{ID: id(1), State: "deploying", Status: usage.StatusClosed, NotBilled: usage.NotBilledNothing},
		{ID: id(2), State: "running", Status: usage.StatusClosed, VCPUSeconds: 2 * 3600, GiBSeconds: 4 * 3600, Published: true},
		{ID: id(3), State: "paused", Status: usage.StatusClosed, NotBilled: usage.NotBilledNothing},
		{ID: id(4), State: "running", Status: usage.StatusClosed, VCPUSeconds: 2 * 1800, GiBSeconds: 4 * 1800, Published: true},
		{ID: id(5), State: "stopped", Status: usage.StatusClosed, NotBilled: usage.NotBilledNothing},
	}
	if diff := cmp.Diff(want, e.periods(t, "acme", r.ID)); diff != "" {
		t.Errorf("periods mismatch (-want +got):\n%s", diff)
	}
	evs := events_(t, e.pub.Messages())
	if len(evs) != 2 || evs[0].Period != id(2) || evs[1].Period != id(4) {
		t.Fatalf("published %+v, want the two running periods", evs)
	}
	if diff := cmp.Diff(map[string]int64{usage.MeterVCPUSeconds: 7200, usage.MeterGiBSeconds: 14400}, evs[0].Quantities); diff != "" {
		t.Errorf("event quantities mismatch (-want +got):\n%s", diff)
	}
}

func TestStorageRateBillsPausedTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{StorageRate: 0.25})
	r := e.create(t, "acme")
	e.move(t, r, 0, runtime.StateRunning)
	e.move(t, r, time.Minute, runtime.StatePaused)
	e.move(t, r, time.Hour, runtime.StateStopped)
	got := e.periods(t, "acme", r.ID)
	if len(got) != 4 {
		t.Fatalf("got %d periods, want 4: %+v", len(got), got)
	}
	if p := got[2]; p.State != "paused" || p.VCPUSeconds != 1800 || p.GiBSeconds != 3600 || !p.Published {
		t.Errorf("paused period %+v, want a quarter of 2 vCPU / 4 GiB over an hour, published", p)
	}
	if p := got[3]; p.Status != usage.StatusOpen || p.State != "stopped" {
		t.Errorf("last period %+v, want the open stopped period", p)
	}
}

func TestFailedChangeRecordsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{})
	r := e.create(t, "acme")
	e.move(t, r, time.Minute, runtime.StateRunning)
	before := e.periods(t, "acme", r.ID)
	e.clock.Add(time.Hour)
	boom := errors.New("boom")
	if _, err := e.rts.Transition(context.Background(), "acme", r.ID, runtime.StatePaused, func(*runtime.Runtime) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("transition: %v, want boom", err)
	}
	if _, err := e.rts.Transition(context.Background(), "acme", r.ID, runtime.StateBuilding, nil); !errors.Is(err, runtime.ErrIllegalTransition) {
		t.Fatalf("illegal transition: %v", err)
	}
	if diff := cmp.Diff(before, e.periods(t, "acme", r.ID)); diff != "" {
		t.Errorf("failed changes touched periods (-before +after):\n%s", diff)
	}
}

// panicking is a publisher that dies, as a process that crashes right after the commit.
type panicking struct{}

func (panicking) Publish(context.Context, string, []byte, map[string]string) (string, error) {
	panic("crash between close and publish")
}

var _ events.Publisher = panicking{}

func TestCrashBetweenCloseAndPublishDrainsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{Publisher: panicking{}})
	r := e.create(t, "acme")
	e.move(t, r, 0, runtime.StateRunning)
	e.clock.Add(time.Hour)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the publisher did not panic")
			}
		}()
		_, _ = e.rts.Transition(context.Background(), "acme", r.ID, runtime.StatePaused, nil)
	}()
	got := e.periods(t, "acme", r.ID)
	if len(got) != 3 || got[1].Status != usage.StatusClosed || !got[1].Outbox || got[1].Published {
		t.Fatalf("after the crash: %+v, want the running period closed and in the outbox", got)
	}

	// A restarted process (the sweeper) with a working publisher.
	pub := &eventstest.Recorder{}
	drain, err := usage.NewService(e.st, usage.Options{Publisher: pub, Now: e.clock.Now, Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := drain.Drain(context.Background(), "acme"); err != nil || n != 0 {
		t.Fatalf("drain within the grace: %d, %v; want nothing yet", n, err)
	}
	e.clock.Add(2 * time.Minute)
	pub.FailNext(errors.New("pubsub unavailable"))
	if n, err := drain.Drain(context.Background(), "acme"); err == nil || n != 0 {
		t.Fatalf("drain with a failing publisher: %d, %v; want an error", n, err)
	}
	for range 2 {
		if _, err := drain.Drain(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
	}
	evs := events_(t, pub.Messages())
	if len(evs) != 1 || evs[0].Period != usage.RuntimePeriodID(r.ID, 2) || evs[0].Quantities[usage.MeterVCPUSeconds] != 7200 {
		t.Fatalf("drained %+v, want the running period exactly once", evs)
	}
	if got := e.periods(t, "acme", r.ID)[1]; got.Outbox || !got.Published {
		t.Errorf("after the drain: %+v, want published", got)
	}
}

func TestSplitAtMidnights(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{})
	e.clock.t = time.Date(2026, 11, 1, 22, 0, 0, 0, time.UTC)
	r := e.create(t, "acme")
	e.move(t, r, 0, runtime.StateRunning)
	e.clock.Add(27 * time.Hour) // 2026-11-03T01:00
	n, err := e.use.Split(context.Background(), "acme")
	if err != nil || n != 2 {
		t.Fatalf("split: %d, %v; want 2 pieces", n, err)
	}
	if n, err := e.use.Split(context.Background(), "acme"); err != nil || n != 0 {
		t.Fatalf("second split: %d, %v; want nothing", n, err)
	}
	e.move(t, r, 0, runtime.StatePaused)
	got := e.periods(t, "acme", r.ID)
	var running []int64
	for _, p := range got {
		if p.State == "running" {
			running = append(running, p.VCPUSeconds)
			if !p.Published || p.Status != usage.StatusClosed {
				t.Errorf("running piece %+v, want closed and published", p)
			}
		}
	}
	if diff := cmp.Diff([]int64{2 * 2 * 3600, 2 * 24 * 3600, 2 * 3600}, running); diff != "" {
		t.Errorf("running pieces (vCPU-seconds) mismatch (-want +got):\n%s", diff)
	}
	tot, err := e.use.Totals(context.Background(), "acme", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if tot.Meters[usage.MeterVCPUSeconds] != 2*27*3600 || tot.Days[1].Meters[usage.MeterVCPUSeconds] != 2*24*3600 {
		t.Errorf("totals %+v, want 27 h at 2 vCPU, 24 h of it on Nov 2", tot)
	}
	if len(e.pub.Messages()) != 3 {
		t.Errorf("published %d events, want 3", len(e.pub.Messages()))
	}
}

func TestRecordBuildOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, usage.Options{})
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for range 3 {
		if err := e.use.RecordBuild(context.Background(), "acme", "b1", start, start.Add(90*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := e.use.Get(context.Background(), "acme", usage.BuildPeriodID("b1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.BuildMinutes != 2 || p.Outbox || p.PublishedAt.IsZero() {
		t.Errorf("build period %+v, want 2 minutes, published", p)
	}
	evs := events_(t, e.pub.Messages())
	if len(evs) != 1 || evs[0].Quantities[usage.MeterBuildMinutes] != 2 {
		t.Errorf("published %+v, want one build event of 2 minutes", evs)
	}
	if err := e.use.RecordBuild(context.Background(), "acme", "", start, start); !errors.Is(err, usage.ErrInvalid) {
		t.Errorf("empty build id: %v", err)
	}
}

func TestDecodeEventRejects(t *testing.T) {
	t.Parallel()
	good, _ := json.Marshal(usage.Event{Tenant: "acme", Period: "abc-000001"})
	if _, err := usage.DecodeEvent(good); err != nil {
		t.Fatalf("good event: %v", err)
	}
	for _, data := range []string{``, `{`, `[]`, `{"tenant":"","period":"x"}`, `{"tenant":"acme","period":""}`,
		`{"tenant":"acme","period":"a/b"}`, `{"tenant":"Bad Tenant","period":"x"}`} {
		if _, err := usage.DecodeEvent([]byte(data)); !errors.Is(err, usage.ErrInvalid) {
			t.Errorf("DecodeEvent(%q): %v, want ErrInvalid", data, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"tenant":"acme","period":"abc-000001","quantities":{"runtime_vcpu_seconds":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := usage.DecodeEvent(data)
		if err == nil && (ev.Tenant == "" || ev.Period == "") {
			t.Fatalf("accepted %q without tenant or period", data)
		}
	})
}
