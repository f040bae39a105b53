package sweeper_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/functions/sweeper"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
	"github.com/runyard/runyard/shared/events/eventstest"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/usage"
)

const (
	project = "test-project"
	region  = "us-central1"
	image   = "us-docker.pkg.dev/test-project/r/acme@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

var cell = deploy.Cell{Name: "c1", Project: project, Region: region, Limit: 50}

// clock is the sweeper's fake clock. It stands a minute after the fixture was made and moves
// only when a test says so: tests age runtime records instead (runtime.Service stamps them
// with the real time).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	st    store.Store
	run   *deploytest.FakeCloudRun
	dep   *cloudrun.Deployer
	orch  *runtime.Orchestrator
	rts   *runtime.Service
	clock *clock
	srvs  []*httptest.Server
	msgs  atomic.Int64
	// pub receives what the sweepers publish (usage periods).
	pub *eventstest.Recorder
	// createService creates a Cloud Run service directly (not through the deployer).
	createService func(ctx context.Context, req *runpb.CreateServiceRequest) error
	deleteService func(ctx context.Context, name string) error
}

// newFixture starts the Cloud Run fake, an emulator store and sweepers sweepers (each its own
// handler and HTTP server, as two instances of the function would be).
func newFixture(t *testing.T, sweepers int, cfg sweeper.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: storetest.NewEmulatorStore(t), clock: &clock{t: time.Now().UTC().Add(time.Minute)}, pub: &eventstest.Recorder{}}
	runFake, _, runClient, iapClient := deploytest.NewFakes(t)
	f.run = runFake
	f.dep = cloudrun.NewFromClients(runClient, iapClient, cloudrun.Config{ProjectNumbers: map[string]string{project: "1234"}})
	f.createService = func(ctx context.Context, req *runpb.CreateServiceRequest) error {
		_, err := runClient.CreateService(ctx, req)
		return err
	}
	f.deleteService = func(ctx context.Context, name string) error {
		_, err := runClient.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name})
		return err
	}
	var err error
	if f.rts, err = runtime.NewService(f.st, []deploy.Cell{cell}); err != nil {
		t.Fatal(err)
	}
	// The fixture's own state changes record usage without publishing it, as a function that
	// crashed after the commit would: the sweepers' drain publishes it.
	use, err := usage.NewService(f.st, usage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.rts.SetHook(use)
	builds, err := build.NewService(f.st, noBuilder{})
	if err != nil {
		t.Fatal(err)
	}
	if f.orch, err = runtime.NewOrchestrator(f.rts, f.dep, builds, runtime.OrchestratorConfig{IngressImage: "us-docker.pkg.dev/x/ingress:1",
		ServiceAccount: func(string) string { return "rt@test-project.iam.gserviceaccount.com" }}); err != nil {
		t.Fatal(err)
	}
	cfg.ProjectID = project
	cfg.Runtimes = cloudrun.EnvConfig{Cells: []string{"c1:test-project:us-central1:50"}}
	for range sweepers {
		h, err := sweeper.Build(ctx, cfg, sweeper.Options{Store: f.st, Deployer: f.dep, Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler), Publisher: f.pub})
		if err != nil {
			t.Fatal(err)
		}
		// Served the way the functions framework serves a CloudEvent function.
		p, err := cloudevents.NewHTTP()
		if err != nil {
			t.Fatal(err)
		}
		rh, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, e cloudevents.Event) error {
			if err := h.Handle(ctx, e); err != nil {
				return cloudevents.NewHTTPResult(http.StatusInternalServerError, "%s", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(rh)
		t.Cleanup(srv.Close)
		f.srvs = append(f.srvs, srv)
	}
	return f
}

type noBuilder struct{}

func (noBuilder) Start(context.Context, build.Request) (build.Started, error) {
	return build.Started{}, build.ErrInvalid
}
func (noBuilder) Cancel(context.Context, string) error { return build.ErrInvalid }

// deliver POSTs a tick to sweeper i as Eventarc does: a binary-mode messagePublished
// CloudEvent whose data is testdata/eventarc-envelope.json. It returns the HTTP status.
func (f *fixture) deliver(t *testing.T, i int, eventType string) int {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/eventarc-envelope.json")
	if err != nil {
		t.Error(err)
		return 0
	}
	id := fmt.Sprint(f.msgs.Add(1))
	body := strings.NewReplacer("{{MESSAGE_ID}}", id).Replace(string(tmpl))
	req, _ := http.NewRequest("POST", f.srvs[i].URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", eventType)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/runyard-prod/topics/sweeper-tick")
	req.Header.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tick delivers one tick to the first sweeper and fails the test unless it is acknowledged.
func (f *fixture) tick(t *testing.T) {
	t.Helper()
	if code := f.deliver(t, 0, sweeper.MessagePublishedType); code/100 != 2 {
		t.Fatalf("tick answered %d", code)
	}
}

// running creates a runtime of tenant and brings it to running.
func (f *fixture) running(t *testing.T, tenant string) runtime.Runtime {
	t.Helper()
	r := f.deploying(t, tenant)
	f.run.SetReady(f.serviceName(r))
	got, err := f.orch.Refresh(context.Background(), tenant, r.ID)
	if err != nil || got.State != runtime.StateRunning {
		t.Fatalf("refresh: %+v %v", got, err)
	}
	return got
}

// deploying creates a runtime of tenant, deploying (its service is not ready).
func (f *fixture) deploying(t *testing.T, tenant string) runtime.Runtime {
	t.Helper()
	r, err := f.orch.Create(context.Background(), tenant, runtime.Request{Image: image, Mode: deploy.ModeToken})
	if err != nil || r.State != runtime.StateDeploying {
		t.Fatalf("create: %+v %v", r, err)
	}
	return r
}

func (f *fixture) do(t *testing.T, r runtime.Runtime, a runtime.Action) {
	t.Helper()
	if _, err := f.orch.Do(context.Background(), r.Tenant, r.ID, a); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
}

// age moves the runtime's last state change and last activity d into the past.
func (f *fixture) age(t *testing.T, r runtime.Runtime, d time.Duration) {
	t.Helper()
	_, err := store.Update(context.Background(), f.st, store.Key{Tenant: r.Tenant, Kind: runtime.KindRuntimes, ID: r.ID}, func(x *runtime.Runtime) error {
		x.UpdatedAt, x.LastActivityAt = x.UpdatedAt.Add(-d), x.LastActivityAt.Add(-d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) get(t *testing.T, r runtime.Runtime) runtime.Runtime {
	t.Helper()
	got, err := f.rts.Get(context.Background(), r.Tenant, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) serviceName(r runtime.Runtime) string {
	return cloudrun.ServiceResource(cell, r.Service)
}

// outcome is what a test checks of a runtime after ticks.
type outcome struct {
	State   runtime.State
	Service bool // its Cloud Run service exists
	Paused  bool // the service is scaled to zero
}

func (f *fixture) outcome(t *testing.T, r runtime.Runtime) outcome {
	t.Helper()
	s := f.run.Service(f.serviceName(r))
	return outcome{State: f.get(t, r).State, Service: s != nil,
		Paused: s != nil && s.GetScaling().GetScalingMode() == runpb.ServiceScaling_MANUAL && s.GetScaling().GetManualInstanceCount() == 0}
}

func TestTick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) runtime.Runtime
		want  outcome
	}{
		{name: "idle running runtime is paused", want: outcome{State: runtime.StatePaused, Service: true, Paused: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.age(t, r, 21*time.Minute)
				return r
			}},
		{name: "activity within the idle timeout keeps it running", want: outcome{State: runtime.StateRunning, Service: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.age(t, r, 3*time.Hour)
				if err := f.rts.Touch(context.Background(), r.Tenant, r.ID, f.clock.Now().Add(-5*time.Minute)); err != nil {
					t.Fatal(err)
				}
				return r
			}},
		{name: "running within the idle timeout", want: outcome{State: runtime.StateRunning, Service: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.age(t, r, 10*time.Minute)
				return r
			}},
		{name: "the tenant's own idle timeout", want: outcome{State: runtime.StatePaused, Service: true, Paused: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				if err := f.rts.SetLifecycle(context.Background(), "acme", runtime.Lifecycle{IdleTimeout: 5 * time.Minute, ArchiveAfter: time.Hour}); err != nil {
					t.Fatal(err)
				}
				r := f.running(t, "acme")
				f.age(t, r, 6*time.Minute)
				return r
			}},
		{name: "paused past the archive timeout is archived", want: outcome{State: runtime.StateStopped},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.do(t, r, runtime.ActionPause)
				f.age(t, r, 7*24*time.Hour+time.Hour)
				return r
			}},
		{name: "paused within the archive timeout stays", want: outcome{State: runtime.StatePaused, Service: true, Paused: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.do(t, r, runtime.ActionPause)
				f.age(t, r, 6*24*time.Hour)
				return r
			}},
		{name: "archived past the tenant's retention is deleted", want: outcome{State: runtime.StateDeleted},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				if err := f.rts.SetLifecycle(context.Background(), "acme", runtime.Lifecycle{IdleTimeout: time.Hour, ArchiveAfter: time.Hour, Retention: 24 * time.Hour}); err != nil {
					t.Fatal(err)
				}
				r := f.running(t, "acme")
				f.tick(t) // the sweeper meets the tenant while it has a service
				f.do(t, r, runtime.ActionStop)
				f.age(t, r, 25*time.Hour)
				return r
			}},
		{name: "archived without retention stays", want: outcome{State: runtime.StateStopped},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.tick(t)
				f.do(t, r, runtime.ActionStop)
				f.age(t, r, 300*24*time.Hour)
				return r
			}},
		{name: "deploying for more than 15 minutes fails", want: outcome{State: runtime.StateFailed},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.deploying(t, "acme")
				f.age(t, r, 16*time.Minute)
				return r
			}},
		{name: "deploying for 10 minutes is left alone", want: outcome{State: runtime.StateDeploying, Service: true},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.deploying(t, "acme")
				f.age(t, r, 10*time.Minute)
				return r
			}},
		{name: "running whose service vanished fails", want: outcome{State: runtime.StateFailed},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.tick(t)
				if err := f.deleteService(context.Background(), f.serviceName(r)); err != nil {
					t.Fatal(err)
				}
				f.age(t, r, 3*time.Minute)
				return r
			}},
		{name: "paused whose service vanished is archived", want: outcome{State: runtime.StateStopped},
			setup: func(t *testing.T, f *fixture) runtime.Runtime {
				r := f.running(t, "acme")
				f.do(t, r, runtime.ActionPause)
				f.tick(t)
				if err := f.deleteService(context.Background(), f.serviceName(r)); err != nil {
					t.Fatal(err)
				}
				f.age(t, r, 3*time.Minute)
				return r
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1, sweeper.Config{})
			r := tc.setup(t, f)
			f.tick(t)
			if diff := cmp.Diff(tc.want, f.outcome(t, r)); diff != "" {
				t.Errorf("after a tick (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLifecycle follows one runtime from running to deleted, tick by tick.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{})
	ctx := context.Background()
	if err := f.rts.SetLifecycle(ctx, "acme", runtime.Lifecycle{IdleTimeout: 20 * time.Minute, ArchiveAfter: 7 * 24 * time.Hour, Retention: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	r := f.running(t, "acme")
	steps := []struct {
		name string
		age  time.Duration
		want outcome
	}{
		{name: "active", age: 0, want: outcome{State: runtime.StateRunning, Service: true}},
		{name: "idle", age: 21 * time.Minute, want: outcome{State: runtime.StatePaused, Service: true, Paused: true}},
		{name: "paused a day", age: 24 * time.Hour, want: outcome{State: runtime.StatePaused, Service: true, Paused: true}},
		{name: "paused a week", age: 7 * 24 * time.Hour, want: outcome{State: runtime.StateStopped}},
		{name: "archived a week", age: 7 * 24 * time.Hour, want: outcome{State: runtime.StateStopped}},
		{name: "archived past retention", age: 31 * 24 * time.Hour, want: outcome{State: runtime.StateDeleted}},
		{name: "deleted stays deleted", age: 365 * 24 * time.Hour, want: outcome{State: runtime.StateDeleted}},
	}
	for _, s := range steps {
		f.age(t, r, s.age)
		f.tick(t)
		if diff := cmp.Diff(s.want, f.outcome(t, r)); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", s.name, diff)
		}
	}
}

// orphanSpec is a deploy spec for a runtime id that no record has.
func orphanSpec(tenant, id string) deploy.Spec {
	return deploy.Spec{Tenant: tenant, RuntimeID: id, Service: "rt-" + id, Cell: cell, Image: image, IngressImage: "us-docker.pkg.dev/x/ingress:1",
		Size: deploy.Sizes[1], ServiceAccount: "rt@test-project.iam.gserviceaccount.com", Mode: deploy.ModeToken}
}

func TestOrphans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{})
	ctx := context.Background()
	live := f.running(t, "acme")
	// A service labelled as ours whose runtime has no record.
	if _, err := f.dep.Deploy(ctx, orphanSpec("acme", "ghost")); err != nil {
		t.Fatal(err)
	}
	// A service of a runtime deleted long ago (a crash between the delete and its record, say).
	gone := f.running(t, "globex")
	f.do(t, gone, runtime.ActionDelete)
	f.age(t, gone, time.Hour)
	if _, err := f.dep.Deploy(ctx, orphanSpec("globex", gone.ID)); err != nil {
		t.Fatal(err)
	}
	// A service that is not ours: same region, no managed-by label.
	svc, err := f.dep.BuildService(orphanSpec("acme", "notours"))
	if err != nil {
		t.Fatal(err)
	}
	delete(svc.Labels, cloudrun.LabelManagedBy)
	svc.Name = ""
	if err := f.createService(ctx, &runpb.CreateServiceRequest{Parent: cloudrun.Parent(cell), ServiceId: "rt-notours", Service: svc}); err != nil {
		t.Fatal(err)
	}
	f.tick(t)
	want := []string{cloudrun.ServiceResource(cell, "rt-notours"), f.serviceName(live)}
	if diff := cmp.Diff(want, f.run.ServiceNames(), sortStrings); diff != "" {
		t.Errorf("services after the tick (-want +got):\n%s", diff)
	}
	if got := f.get(t, live).State; got != runtime.StateRunning {
		t.Errorf("the live runtime is %s", got)
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestConcurrentSweepers delivers the same tick to two sweepers at once: every action happens
// once (one Cloud Run write each).
func TestConcurrentSweepers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2, sweeper.Config{})
	ctx := context.Background()
	var idle, old []runtime.Runtime
	for range 3 {
		r := f.running(t, "acme")
		f.age(t, r, time.Hour)
		idle = append(idle, r)
	}
	for range 3 {
		r := f.running(t, "globex")
		f.do(t, r, runtime.ActionPause)
		f.age(t, r, 8*24*time.Hour)
		old = append(old, r)
	}
	for _, id := range []string{"ghost1", "ghost2"} {
		if _, err := f.dep.Deploy(ctx, orphanSpec("acme", id)); err != nil {
			t.Fatal(err)
		}
	}
	before := f.run.WriteCalls()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i] = f.deliver(t, i, sweeper.MessagePublishedType) })
	}
	wg.Wait()
	for i, c := range codes {
		if c/100 != 2 {
			t.Fatalf("sweeper %d answered %d", i, c)
		}
	}
	// 3 pauses (UpdateService) + 3 archives (DeleteService) + 2 orphans (DeleteService).
	if got := f.run.WriteCalls() - before; got != 8 {
		t.Errorf("%d Cloud Run write calls, want 8 (each action once)", got)
	}
	for _, r := range idle {
		if got := f.outcome(t, r); got != (outcome{State: runtime.StatePaused, Service: true, Paused: true}) {
			t.Errorf("idle runtime: %+v", got)
		}
	}
	for _, r := range old {
		if got := f.outcome(t, r); got != (outcome{State: runtime.StateStopped}) {
			t.Errorf("old paused runtime: %+v", got)
		}
	}
	if n := len(f.run.ServiceNames()); n != 3 {
		t.Errorf("%d services left, want the 3 paused ones", n)
	}
	// Both again (a redelivery, say): nothing left to do.
	before = f.run.WriteCalls()
	for i := range 2 {
		wg.Go(func() { f.deliver(t, i, sweeper.MessagePublishedType) })
	}
	wg.Wait()
	if got := f.run.WriteCalls() - before; got != 0 {
		t.Errorf("%d Cloud Run write calls on a repeated tick, want 0", got)
	}
}

// TestBoundedWork: with MAX_PER_TICK=N and N+5 due runtimes, a tick acts on N and the next
// tick on the rest.
func TestBoundedWork(t *testing.T) {
	t.Parallel()
	const n = 4
	f := newFixture(t, 1, sweeper.Config{MaxPerTick: n})
	if err := f.rts.SetQuotas(context.Background(), "acme", runtime.Quotas{MaxRuntimes: 50, MaxVCPU: 50, CreatesPerMinute: 50}); err != nil {
		t.Fatal(err)
	}
	var rs []runtime.Runtime
	for range n + 5 {
		r := f.running(t, "acme")
		f.age(t, r, time.Hour)
		rs = append(rs, r)
	}
	paused := func() int {
		c := 0
		for _, r := range rs {
			if f.get(t, r).State == runtime.StatePaused {
				c++
			}
		}
		return c
	}
	for i, want := range []int{n, 2 * n, n + 5, n + 5} {
		f.tick(t)
		if got := paused(); got != want {
			t.Errorf("after tick %d: %d paused, want %d", i+1, got, want)
		}
	}
}

func TestOtherEventsAcknowledged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{})
	r := f.running(t, "acme")
	f.age(t, r, time.Hour)
	if code := f.deliver(t, 0, "com.example.other"); code/100 != 2 {
		t.Errorf("an event of another type answered %d, want 2xx", code)
	}
	if got := f.get(t, r).State; got != runtime.StateRunning {
		t.Errorf("an event of another type swept: %s", got)
	}
}

// TestFailedActionRetriedAfterLease: an action that fails (as a crash would leave it) keeps
// its lease, so the next ticks leave it alone; once the lease expires a tick does it.
func TestFailedActionRetriedAfterLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{LeaseTTL: 5 * time.Minute})
	r := f.running(t, "acme")
	f.age(t, r, time.Hour)
	f.run.FailNext("UpdateService", codes.PermissionDenied, 1)
	f.tick(t)
	f.tick(t) // within the lease: not retried
	if got := f.outcome(t, r); got != (outcome{State: runtime.StateRunning, Service: true}) {
		t.Fatalf("after the failed pause: %+v", got)
	}
	if n := f.run.Calls("UpdateService"); n != 1 {
		t.Errorf("%d UpdateService calls within the lease, want 1", n)
	}
	f.clock.Add(6 * time.Minute)
	f.tick(t)
	if got := f.outcome(t, r); got != (outcome{State: runtime.StatePaused, Service: true, Paused: true}) {
		t.Errorf("after the lease expired: %+v", got)
	}
}
