package usage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	fnusage "github.com/runyard/runyard/functions/usage"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
	"github.com/runyard/runyard/shared/localevents"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
	"github.com/runyard/runyard/shared/usage"
)

const (
	tenant   = "acme"
	customer = "cus_acme"
	project  = "test-project"
	image    = "us-docker.pkg.dev/test-project/r/acme@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testKey  = "sk_test_RunyardSecretValue4eC39HqLyjWDarjtT1zdp7dc"
)

var cell = deploy.Cell{Name: "c1", Project: project, Region: "us-central1", Limit: 50}

// clock is the fake clock of the runtime and usage services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	st    store.Store
	proxy *stripemocktest.Proxy
	srv   *httptest.Server // the usage function, served as the functions framework does
	h     *fnusage.Handler
	logs  *syncBuffer
	clock *clock
	msgs  atomic.Int64
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// newFixture builds the usage function on the emulator store with Stripe at a recording proxy
// in front of stripe-mock. mutate may change the config (billing off, retries).
func newFixture(t testing.TB, mutate func(*fnusage.Config)) *fixture {
	t.Helper()
	f := &fixture{st: storetest.NewEmulatorStore(t), proxy: stripemocktest.NewProxy(t), logs: &syncBuffer{},
		clock: &clock{t: time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)}}
	cfg := fnusage.Config{ProjectID: project, StripeSecretKey: config.Secret(testKey), StripeAPIURL: f.proxy.URL(),
		StripeTimeout: 10 * time.Second, StripeMaxRetries: 0}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := fnusage.Build(context.Background(), cfg, fnusage.Options{Store: f.st, Logger: slog.New(slog.NewJSONHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	rh, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(ctx context.Context, e cloudevents.Event) error {
		if err := h.Handle(ctx, e); err != nil {
			return cloudevents.NewHTTPResult(http.StatusInternalServerError, "%s", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv = httptest.NewServer(rh)
	t.Cleanup(f.srv.Close)
	f.setCustomer(t, tenant, customer)
	return f
}

func (f *fixture) setCustomer(t testing.TB, tenant, customer string) {
	t.Helper()
	if _, err := f.st.Put(context.Background(), billing.AccountKey(tenant), billing.Account{Tenant: tenant, Customer: customer}, store.Version{}); err != nil {
		t.Fatal(err)
	}
}

// services returns a runtime service on the fixture's store and clock whose state changes
// record usage with pub (nil: closed periods stay in the outbox).
func (f *fixture) services(t *testing.T, pub events.Publisher) (*runtime.Service, *usage.Service) {
	t.Helper()
	rts, err := runtime.NewService(f.st, []deploy.Cell{cell})
	if err != nil {
		t.Fatal(err)
	}
	rts.SetClock(f.clock.Now)
	use, err := usage.NewService(f.st, usage.Options{Publisher: pub, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rts.SetHook(use)
	return rts, use
}

// closedRunning records a runtime that ran for d (1 vCPU, 2 GiB) and was paused, without
// publishing, and returns the closed running period.
func (f *fixture) closedRunning(t *testing.T, d time.Duration) usage.Period {
	t.Helper()
	ctx := context.Background()
	rts, use := f.services(t, nil)
	r, err := rts.Create(ctx, tenant, runtime.Spec{Image: image, State: runtime.StateDeploying})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rts.Transition(ctx, tenant, r.ID, runtime.StateRunning, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(d)
	if _, err := rts.Transition(ctx, tenant, r.ID, runtime.StatePaused, nil); err != nil {
		t.Fatal(err)
	}
	p, err := use.Get(ctx, tenant, usage.RuntimePeriodID(r.ID, 2))
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != usage.StatusClosed || !p.Outbox || p.VCPUSeconds != int64(d/time.Second) {
		t.Fatalf("closed running period %+v", p)
	}
	return p
}

// deliver POSTs the usage event of p as Eventarc does (binary-mode messagePublished CloudEvent)
// and returns the status.
func (f *fixture) deliver(t *testing.T, p usage.Period) int {
	t.Helper()
	data, err := json.Marshal(usage.EventOf(p))
	if err != nil {
		t.Fatal(err)
	}
	return f.deliverRaw(t, data)
}

func (f *fixture) deliverRaw(t *testing.T, data []byte) int {
	t.Helper()
	id := fmt.Sprint(f.msgs.Add(1))
	env, _ := json.Marshal(map[string]any{
		"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": id,
			"attributes": map[string]string{"tenant": tenant}, "publishTime": time.Now().UTC().Format(time.RFC3339Nano)},
		"subscription": "projects/runyard-prod/subscriptions/eventarc-us-central1-usage-sub-1",
	})
	req, _ := http.NewRequest("POST", f.srv.URL, bytes.NewReader(env))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", fnusage.MessagePublishedType)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/runyard-prod/topics/usage")
	req.Header.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// meterRequests returns the meter event requests the proxy saw.
func (f *fixture) meterRequests() []stripemocktest.Request {
	var out []stripemocktest.Request
	for _, r := range f.proxy.Requests() {
		if r.Path == "/v1/billing/meter_events" {
			out = append(out, r)
		}
	}
	return out
}

// accepted is the identifiers Stripe answered 200 for, with how often.
func (f *fixture) accepted() map[string]int {
	out := map[string]int{}
	for _, r := range f.meterRequests() {
		if r.Status == http.StatusOK {
			out[r.Form.Get("identifier")]++
		}
	}
	return out
}

func (f *fixture) period(t *testing.T, id string) usage.Period {
	t.Helper()
	var p usage.Period
	if _, err := f.st.Get(context.Background(), store.Key{Tenant: tenant, Kind: usage.KindUsage, ID: id}, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds; it fails the test after a generous bound (this is a wait
// for asynchronous delivery, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pubsubRoute publishes to a fresh emulator project's usage topic and pushes its messages to
// the fixture's function as Eventarc does (runyard dev's pusher). It fails without the emulator.
func (f *fixture) pubsubRoute(t *testing.T) events.Publisher {
	t.Helper()
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		t.Fatal("PUBSUB_EMULATOR_HOST is not set: run the tests through `bin/runyard testenv` (make test)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	proj := "usage-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	ps, err := pubsub.NewClient(ctx, proj)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	if err := localevents.EnsureTopics(ctx, ps, usage.Topic); err != nil {
		t.Fatal(err)
	}
	pusher, err := localevents.Start(ctx, ps, localevents.Config{ProjectID: proj, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Routes: []localevents.Route{{Topic: usage.Topic, URL: f.srv.URL}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pusher.Close() })
	pub := eventspubsub.New(ps)
	t.Cleanup(func() { pub.Close() })
	return pub
}

// TestLifecycleReachesStripe: create → running → pause → resume → running → stop through the
// orchestrator (Cloud Run fakes behind the real client); the closed running periods travel
// through the Pub/Sub emulator to the function and reach Stripe as meter events.
func TestLifecycleReachesStripe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	pub := f.pubsubRoute(t)
	ctx := context.Background()
	rts, _ := f.services(t, pub)
	runFake, _, runClient, iapClient := deploytest.NewFakes(t)
	dep := cloudrun.NewFromClients(runClient, iapClient, cloudrun.Config{ProjectNumbers: map[string]string{project: "1234"}})
	builds, err := build.NewService(f.st, build.NoBuilder{})
	if err != nil {
		t.Fatal(err)
	}
	orch, err := runtime.NewOrchestrator(rts, dep, builds, runtime.OrchestratorConfig{IngressImage: "us-docker.pkg.dev/x/ingress:1",
		ServiceAccount: func(string) string { return "rt@test-project.iam.gserviceaccount.com" }})
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(r runtime.Runtime) {
		t.Helper()
		runFake.SetReady(cloudrun.ServiceResource(cell, r.Service))
		got, err := orch.Refresh(ctx, tenant, r.ID)
		if err != nil || got.State != runtime.StateRunning {
			t.Fatalf("refresh: %+v %v", got, err)
		}
	}
	do := func(r runtime.Runtime, a runtime.Action) {
		t.Helper()
		if _, err := orch.Do(ctx, tenant, r.ID, a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	r, err := orch.Create(ctx, tenant, runtime.Request{Image: image, Mode: deploy.ModeToken, ResourceFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(20 * time.Second)
	refresh(r)
	f.clock.Add(time.Hour)
	do(r, runtime.ActionPause)
	f.clock.Add(30 * time.Minute)
	do(r, runtime.ActionResume)
	f.clock.Add(10 * time.Second)
	refresh(r)
	f.clock.Add(30 * time.Minute)
	do(r, runtime.ActionStop)

	first, second := usage.RuntimePeriodID(r.ID, 2), usage.RuntimePeriodID(r.ID, 5)
	want := map[string]string{ // identifier → value (2 vCPU, 4 GiB)
		usage.MeterEventID(first, usage.MeterVCPUSeconds):  "7200",
		usage.MeterEventID(first, usage.MeterGiBSeconds):   "14400",
		usage.MeterEventID(second, usage.MeterVCPUSeconds): "3600",
		usage.MeterEventID(second, usage.MeterGiBSeconds):  "7200",
	}
	waitFor(t, "four meter events", func() bool { return len(f.accepted()) == len(want) })
	for _, req := range f.meterRequests() {
		id := req.Form.Get("identifier")
		if v, ok := want[id]; !ok || req.Form.Get("payload[value]") != v || req.IdempotencyKey != id ||
			req.Form.Get("payload[stripe_customer_id]") != customer || req.Form.Get("event_name") == "" || !strings.Contains(id, req.Form.Get("event_name")) {
			t.Errorf("meter event request %+v, want one of %v", req, want)
		}
	}
	for _, id := range []string{first, second} {
		waitFor(t, "the outcome on "+id, func() bool { return len(f.period(t, id).MeterEvents) == 2 })
		p := f.period(t, id)
		sort.Strings(p.MeterEvents)
		if len(p.MeterEvents) != 2 || p.BilledAt.IsZero() || p.Outbox || p.End.Unix() != mustInt(t, f.requestFor(usage.MeterEventID(id, usage.MeterVCPUSeconds)).Form.Get("timestamp")) {
			t.Errorf("period %s after billing: %+v", id, p)
		}
	}
	if n := len(f.meterRequests()); n != len(want) {
		t.Errorf("%d meter event requests, want %d (each once)", n, len(want))
	}
	if strings.Contains(f.logs.String(), testKey) {
		t.Error("the Stripe key appears in the function's logs")
	}
}

func (f *fixture) requestFor(identifier string) stripemocktest.Request {
	for _, r := range f.meterRequests() {
		if r.Form.Get("identifier") == identifier {
			return r
		}
	}
	return stripemocktest.Request{}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return n
}

// TestRedeliveredThriceBillsOnce: the same event delivered three times in a row, and three
// times at once, yields one meter event per meter.
func TestRedeliveredThriceBillsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	p := f.closedRunning(t, 10*time.Minute)
	for i := range 3 {
		if code := f.deliver(t, p); code/100 != 2 {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	if reqs := f.meterRequests(); len(reqs) != 2 {
		t.Fatalf("%d meter event requests after three deliveries, want 2 (vCPU and GiB once)", len(reqs))
	}

	q := f.closedRunning(t, 5*time.Minute)
	f.proxy.Reset()
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range 3 {
		wg.Go(func() { codes[i] = f.deliver(t, q) })
	}
	wg.Wait()
	ids, keys := map[string]bool{}, map[string]bool{}
	for _, r := range f.meterRequests() {
		ids[r.Form.Get("identifier")], keys[r.IdempotencyKey] = true, true
	}
	// Concurrent deliveries may each reach Stripe before any records the outcome; they carry
	// the same identifier and idempotency key, which Stripe turns into one meter event.
	if len(ids) != 2 || len(keys) != 2 {
		t.Errorf("concurrent deliveries used identifiers %v and idempotency keys %v, want one of each per meter", ids, keys)
	}
	for i, c := range codes {
		if c/100 != 2 {
			t.Errorf("concurrent delivery %d answered %d", i, c)
		}
	}
	if got := f.period(t, q.ID); len(got.MeterEvents) != 2 {
		t.Errorf("period %+v, want both meter events recorded", got)
	}
}

// TestCrashBetweenCloseAndPublish: the process dies after the commit that closes a period and
// before publishing it; the sweeper's drain publishes it once, and it is billed once.
func TestCrashBetweenCloseAndPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	pub := f.pubsubRoute(t)
	ctx := context.Background()
	rts, _ := f.services(t, crashing{})
	r, err := rts.Create(ctx, tenant, runtime.Spec{Image: image, State: runtime.StateDeploying})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rts.Transition(ctx, tenant, r.ID, runtime.StateRunning, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(15 * time.Minute)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the publisher did not crash")
			}
		}()
		_, _ = rts.Transition(ctx, tenant, r.ID, runtime.StatePaused, nil)
	}()
	id := usage.RuntimePeriodID(r.ID, 2)
	if p := f.period(t, id); p.Status != usage.StatusClosed || !p.Outbox {
		t.Fatalf("after the crash: %+v, want closed and in the outbox", p)
	}

	f.clock.Add(2 * time.Minute)
	drain, err := usage.NewService(f.st, usage.Options{Publisher: pub, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := drain.Drain(ctx, tenant); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v; want 1 published", n, err)
	}
	waitFor(t, "the drained period's meter events", func() bool { return len(f.accepted()) == 2 })
	if n, err := drain.Drain(ctx, tenant); err != nil || n != 0 {
		t.Fatalf("second drain: %d, %v; want nothing", n, err)
	}
	waitFor(t, "the outcome on the period", func() bool { return len(f.period(t, id).MeterEvents) == 2 })
	for ident, n := range f.accepted() {
		if n != 1 || !strings.HasPrefix(ident, id+".") {
			t.Errorf("meter event %s accepted %d times", ident, n)
		}
	}
	if p := f.period(t, id); p.VCPUSeconds != 900 {
		t.Errorf("period %+v, want 900 vCPU-seconds", p)
	}
}

// crashing is a publisher that takes the process down.
type crashing struct{}

func (crashing) Publish(context.Context, string, []byte, map[string]string) (string, error) {
	panic("process killed between close and publish")
}

// TestStripeErrors: retryable errors answer 500 so Eventarc redelivers, and the redelivery
// bills; permanent ones are recorded on the period and acknowledged, and never resent.
func TestStripeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		status  int
		errType string
	}{
		{"server error", http.StatusInternalServerError, "api_error"},
		{"rate limited", http.StatusTooManyRequests, "rate_limit_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			p := f.closedRunning(t, time.Minute)
			f.proxy.FailNext(2, tc.status, tc.errType)
			if code := f.deliver(t, p); code != http.StatusInternalServerError {
				t.Fatalf("delivery with Stripe answering %d: %d, want 500 (redeliver)", tc.status, code)
			}
			if got := f.period(t, p.ID); len(got.MeterEvents) != 0 || got.StripeError != "" {
				t.Fatalf("after a retryable error: %+v", got)
			}
			if code := f.deliver(t, p); code/100 != 2 {
				t.Fatalf("redelivery answered %d", code)
			}
			if got := f.period(t, p.ID); len(got.MeterEvents) != 2 {
				t.Errorf("after the redelivery: %+v, want both meter events", got)
			}
			if acc := f.accepted(); len(acc) != 2 {
				t.Errorf("accepted %v", acc)
			}
		})
	}
	t.Run("bad request", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		p := f.closedRunning(t, time.Minute)
		f.proxy.FailNext(2, http.StatusBadRequest, "invalid_request_error")
		if code := f.deliver(t, p); code/100 != 2 {
			t.Fatalf("delivery with Stripe answering 400: %d, want 2xx (acknowledged)", code)
		}
		got := f.period(t, p.ID)
		if got.NotBilled != usage.NotBilledPermanent || !strings.Contains(got.StripeError, "400 invalid_request_error") || len(got.MeterEvents) != 0 {
			t.Errorf("after a permanent error: %+v", got)
		}
		if code := f.deliver(t, p); code/100 != 2 {
			t.Fatalf("redelivery answered %d", code)
		}
		if n := len(f.meterRequests()); n != 2 {
			t.Errorf("%d meter event requests, want 2: a rejected period is not resent", n)
		}
		if strings.Contains(f.logs.String(), testKey) || strings.Contains(got.StripeError, testKey) {
			t.Error("the Stripe key leaked into logs or the period")
		}
	})
}

// TestNotBilled: without a key billing is off, and a tenant without a Stripe customer is not
// billed; both are recorded and acknowledged without calling Stripe.
func TestNotBilled(t *testing.T) {
	t.Parallel()
	t.Run("billing off", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(c *fnusage.Config) { c.StripeSecretKey = "" })
		p := f.closedRunning(t, time.Minute)
		if code := f.deliver(t, p); code/100 != 2 {
			t.Fatalf("answered %d", code)
		}
		if got := f.period(t, p.ID); got.NotBilled != usage.NotBilledOff {
			t.Errorf("period %+v, want billing_off", got)
		}
		if n := len(f.proxy.Requests()); n != 0 {
			t.Errorf("%d Stripe requests with billing off", n)
		}
	})
	t.Run("no customer", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		f.setCustomer(t, tenant, "")
		p := f.closedRunning(t, time.Minute)
		if code := f.deliver(t, p); code/100 != 2 {
			t.Fatalf("answered %d", code)
		}
		if got := f.period(t, p.ID); got.NotBilled != usage.NotBilledNoCustomer {
			t.Errorf("period %+v, want no_customer", got)
		}
		if n := len(f.proxy.Requests()); n != 0 {
			t.Errorf("%d Stripe requests for a tenant without a customer", n)
		}
	})
}

// TestAcknowledged: what a retry cannot fix is acknowledged without calling Stripe.
func TestAcknowledged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		data string
	}{
		{"not json", `{`},
		{"no tenant", `{"period":"x-000001"}`},
		{"bad period id", `{"tenant":"acme","period":"../x"}`},
		{"unknown period", `{"tenant":"acme","period":"nosuch-000001"}`},
		{"other tenant's period id", `{"tenant":"other","period":"nosuch-000001"}`},
	} {
		if code := f.deliverRaw(t, []byte(tc.data)); code/100 != 2 {
			t.Errorf("%s: answered %d, want 2xx", tc.name, code)
		}
	}
	if n := len(f.proxy.Requests()); n != 0 {
		t.Errorf("%d Stripe requests for unusable events", n)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     fnusage.Config
		wantErr string
	}{
		{"ok", fnusage.Config{ProjectID: "p", StripeTimeout: time.Second, StripeMaxRetries: 2}, ""},
		{"no project", fnusage.Config{StripeTimeout: time.Second}, "GOOGLE_CLOUD_PROJECT"},
		{"plain http", fnusage.Config{ProjectID: "p", StripeTimeout: time.Second, StripeAPIURL: "http://stripe.example"}, "STRIPE_API_URL"},
		{"retries", fnusage.Config{ProjectID: "p", StripeTimeout: time.Second, StripeMaxRetries: 9}, "STRIPE_MAX_NETWORK_RETRIES"},
	} {
		err := tc.cfg.Validate()
		if (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestStripeKeyNeverRecorded: stripe-mock (like Stripe) quotes the key of a request it refuses;
// the error recorded on the period and logged has it redacted.
func TestStripeKeyNeverRecorded(t *testing.T) {
	t.Parallel()
	const refused = "sk_test_not_a_valid_looking_key_9f8e7d"
	f := newFixture(t, func(c *fnusage.Config) { c.StripeSecretKey = refused })
	p := f.closedRunning(t, time.Minute)
	if code := f.deliver(t, p); code/100 != 2 {
		t.Fatalf("answered %d, want 2xx (401 is permanent)", code)
	}
	got := f.period(t, p.ID)
	if !strings.HasPrefix(got.StripeError, "401 ") || !strings.Contains(got.StripeError, "[redacted key]") {
		t.Errorf("recorded error %q, want Stripe's 401 with the key redacted", got.StripeError)
	}
	if strings.Contains(got.StripeError, "not_a_valid") || strings.Contains(f.logs.String(), "not_a_valid") {
		t.Error("the refused key reached the period or the logs")
	}
}
