package runtimeapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/runyard/runyard/functions/runtimeapi"
	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/buildtest"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/deploy"
	deployrun "github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
	"github.com/runyard/runyard/shared/httpx/httpxtest"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/sources/gcs"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/tenancy"
)

// env is one runtimeapi handler over its own emulator project, on the Cloud Run and Cloud
// Build fakes, with an /alive server that every runtime URL reaches.
type env struct {
	h  http.Handler
	st store.Store
	cb *buildtest.FakeCloudBuild
	// builds shares the handler's store and builder, to play Cloud Build's notifications.
	builds *build.Service
	run    *deploytest.FakeCloudRun
	alive  atomic.Bool // whether the sandbox's /alive answers 200
	// aliveHost is the scheme://host the last readiness check was sent to.
	aliveHost atomic.Value
	// keys: "acme" (runtimes scope), "other" (another tenant, runtimes scope), "noscope".
	keys map[string]string
}

// rewrite sends every request to the local sandbox server, whatever its host, and records the
// scheme://host it was meant for.
type rewrite struct {
	target *url.URL
	host   *atomic.Value
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	rw.host.Store(r.URL.Scheme + "://" + r.URL.Host)
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rw.target.Scheme, rw.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func newEnv(tb testing.TB, local bool) *env { tb.Helper(); return newEnvWith(tb, local, false) }

// newEnvWith can also offer image builds (an Artifact Registry repo and a fake GCS bucket).
func newEnvWith(tb testing.TB, local, builds bool) *env {
	tb.Helper()
	return newEnvDomain(tb, local, builds, "")
}

// newEnvDomain is newEnvWith in domain mode when runtimeDomain is set (RUNTIME_DOMAIN).
func newEnvDomain(tb testing.TB, local, builds bool, runtimeDomain string) *env {
	tb.Helper()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(tb)
	cb, cbClient := buildtest.NewFake(tb)
	runFake, _, runClient, iapClient := deploytest.NewFakes(tb)
	e := &env{run: runFake, cb: cb, keys: map[string]string{}}
	e.alive.Store(true)
	sandbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/alive" || r.Header.Get("X-Session-API-Key") == "" || !e.alive.Load() {
			http.Error(w, "not ready", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	tb.Cleanup(sandbox.Close)
	target, _ := url.Parse(sandbox.URL)
	cfg := runtimeapi.Config{ProjectID: "test", RequestTimeout: time.Minute, MaxBodyBytes: runtimeapi.DefaultMaxBodyBytes,
		AliveTimeout: 5 * time.Second,
		Runtimes: deployrun.EnvConfig{Cells: []string{"c1:test-project:us-central1:10"},
			IngressImage: "us-docker.pkg.dev/runyard/ingress:1", ServiceAccount: "runtimes@test-project.iam.gserviceaccount.com",
			ProjectNumbers: []string{"test-project=123456789012"}, RuntimeDomain: runtimeDomain}}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	numbers, err := deploy.ParseProjectNumbers(cfg.Runtimes.ProjectNumbers)
	if err != nil {
		tb.Fatal(err)
	}
	builder := cloudbuild.NewFromClient(cbClient, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: artifactRepo})
	if e.builds, err = build.NewService(st, builder); err != nil {
		tb.Fatal(err)
	}
	var src sources.Store
	if builds {
		cfg.Build.ArtifactRepo = artifactRepo
		gcsFake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(gcsFake.Stop)
		gcsFake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "sources"})
		src = gcs.NewFromClient(gcsFake.Client(), "sources")
	}
	h, err := runtimeapi.Build(ctx, cfg, runtimeapi.Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:       st,
		Sources:     src,
		Builder:     builder,
		Deployer:    deployrun.NewFromClients(runClient, iapClient, deployrun.Config{ProjectNumbers: numbers}),
		HTTPClient:  &http.Client{Transport: rewrite{target, &e.aliveHost}},
		LocalImages: local,
	})
	if err != nil {
		tb.Fatalf("runtimeapi.Build: %v", err)
	}
	e.h, e.st = h, st
	ten, err := tenancy.NewService(st, func(t string) (string, string, string, string, error) {
		k, err := auth.NewAPIKey(t)
		return k.ID, k.Plaintext, k.Hash, k.Prefix, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range []struct {
		name, tenant string
		scopes       []string
	}{{"acme", "acme", []string{tenancy.ScopeRuntimes}}, {"other", "other", []string{tenancy.ScopeRuntimes}}, {"noscope", "acme", nil}} {
		owner := tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@" + k.tenant + ".test"}
		if _, err := ten.GetTenant(ctx, owner, k.tenant); err != nil {
			if _, err := ten.CreateTenant(ctx, owner, k.tenant, k.tenant); err != nil {
				tb.Fatal(err)
			}
		}
		_, plain, err := ten.CreateAPIKey(ctx, owner, k.tenant, k.name, k.scopes)
		if err != nil {
			tb.Fatal(err)
		}
		e.keys[k.name] = plain
	}
	return e
}

// do sends a request with key as X-API-Key; body is JSON unless it is a string.
func (e *env) do(tb testing.TB, key, method, path string, body any) *httptest.ResponseRecorder {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", e.keys[key])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// must sends a request, fails unless it gets want, and decodes the answer into out.
func (e *env) must(tb testing.TB, want int, key, method, path string, body, out any) {
	tb.Helper()
	httpxtest.Expect(tb, e.do(tb, key, method, path, body), want, method+" "+path, out)
}

// detail returns the {"detail"} of an error answer, failing if there is none.
func detail(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.Detail == "" {
		tb.Fatalf("no detail (%v): %s", err, rec.Body)
	}
	return d.Detail
}

const artifactRepo = "us-central1-docker.pkg.dev/test-project/runyard"

func svcName(id string) string {
	return "projects/test-project/locations/us-central1/services/rt-" + id
}

// V0 RemoteRuntime's /start body.
func v0Start(sid string) map[string]any {
	return map[string]any{
		"image":       "us-central1-docker.pkg.dev/p/r/runtime:oh_v0.62.0_abc_def",
		"command":     []string{"/openhands/micromamba/bin/micromamba", "run", "-n", "openhands", "poetry", "run", "python", "-u", "-m", "openhands.runtime.action_execution_server", "60000", "--working-dir", "/workspace", "--plugins", "agent_skills", "jupyter", "vscode", "--username", "openhands", "--user-id", "1000"},
		"working_dir": "/openhands/code/", "environment": map[string]string{"DEBUG": "true"},
		"session_id": sid, "resource_factor": 1, "runtime_class": "sysbox-runc",
	}
}

// V1 RemoteSandboxService's /start body.
func v1Start(sid string) map[string]any {
	return map[string]any{
		"image": "ghcr.io/openhands/agent-server:5f62cee-python", "command": []string{"/usr/local/bin/openhands-agent-server", "--port", "60000"},
		"working_dir": "/workspace", "environment": map[string]string{"OH_VSCODE_PORT": "60001", "LOG_JSON": "true"},
		"session_id": sid, "resource_factor": 1, "run_as_user": 10001, "run_as_group": 10001, "fs_group": 10001, "runtime_class": "sysbox-runc",
	}
}

// SDK APIRemoteWorkspace's /start body: command is one string.
func sdkStart(sid string) map[string]any {
	return map[string]any{
		"image": "ghcr.io/openhands/agent-server:5f62cee-python", "command": "/usr/local/bin/openhands-agent-server --port 60000",
		"working_dir": "/", "environment": map[string]string{}, "session_id": sid,
		"run_as_user": 10001, "fs_group": 10001, "image_pull_policy": "IfNotPresent", "runtime_class": "sysbox-runc",
	}
}

type rt = runtimeapi.Runtime

// checkStarted checks /start's answer: every field a client reads, key not the tenant key.
func (e *env) checkStarted(tb testing.TB, got rt, sid string) {
	tb.Helper()
	if got.RuntimeID == "" || got.URL == "" || got.SessionAPIKey == "" || got.SessionID != sid {
		tb.Fatalf("start answer lacks fields: %+v", got)
	}
	if got.SessionAPIKey == e.keys["acme"] {
		tb.Fatal("session_api_key is the tenant key")
	}
	if got.Status != "starting" || got.PodStatus != "pending" {
		tb.Fatalf("fresh runtime: status %s pod %s, want starting/pending", got.Status, got.PodStatus)
	}
	if len(got.WorkHosts) != 2 || strings.HasSuffix(got.URL, "/") {
		tb.Fatalf("url %q work_hosts %v", got.URL, got.WorkHosts)
	}
	for u, p := range got.WorkHosts {
		if u != got.URL+"/_port/"+itoa(p) {
			tb.Fatalf("work host %s → %d", u, p)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestV0RemoteRuntimeFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	sid := "conv-v0-1"
	// connect: no runtime yet.
	if rec := e.do(t, "acme", "GET", "/sessions/"+sid, nil); rec.Code != 404 {
		t.Fatalf("unknown session: %d %s", rec.Code, rec.Body)
	} else {
		detail(t, rec)
	}
	var started rt
	e.must(t, 200, "acme", "POST", "/start", v0Start(sid), &started)
	e.checkStarted(t, started, sid)
	// poll /runtime/{id}: pending until the service is ready, then ready once /alive answers.
	var polled rt
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, &polled)
	if polled.RuntimeID != started.RuntimeID || polled.PodStatus != "pending" {
		t.Fatalf("before ready: %+v", polled)
	}
	e.run.SetReady(svcName(started.RuntimeID))
	e.alive.Store(false)
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, &polled)
	if polled.PodStatus != "running" || polled.Status != "starting" {
		t.Fatalf("service ready, /alive not: %+v", polled)
	}
	e.alive.Store(true)
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, &polled)
	if polled.PodStatus != "ready" || polled.Status != "running" || polled.SessionAPIKey != started.SessionAPIKey {
		t.Fatalf("ready: %+v", polled)
	}
	// reconnect: running → attach.
	var got rt
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "running" || got.RuntimeID != started.RuntimeID || got.URL != started.URL {
		t.Fatalf("attach: %+v", got)
	}
	// close with pause; reconnect sees paused and resumes.
	e.must(t, 200, "acme", "POST", "/pause", map[string]string{"runtime_id": started.RuntimeID}, nil)
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "paused" {
		t.Fatalf("after pause: %+v", got)
	}
	e.must(t, 200, "acme", "POST", "/resume", map[string]string{"runtime_id": started.RuntimeID}, &got)
	if got.RuntimeID != started.RuntimeID || got.Status != "starting" {
		t.Fatalf("resume: %+v", got)
	}
	e.run.SetReady(svcName(started.RuntimeID))
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, &polled)
	if polled.PodStatus != "ready" {
		t.Fatalf("after resume: %+v", polled)
	}
	// close with stop; reconnect sees stopped and starts a fresh runtime for the same session.
	e.must(t, 200, "acme", "POST", "/stop", map[string]string{"runtime_id": started.RuntimeID}, nil)
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "stopped" {
		t.Fatalf("after stop: %+v", got)
	}
	var fresh rt
	e.must(t, 200, "acme", "POST", "/start", v0Start(sid), &fresh)
	e.checkStarted(t, fresh, sid)
	if fresh.RuntimeID == started.RuntimeID {
		t.Fatal("restart after stop reused the stopped runtime")
	}
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.RuntimeID != fresh.RuntimeID {
		t.Fatalf("session now points at %s, want %s", got.RuntimeID, fresh.RuntimeID)
	}
	// a starting runtime: /start again for the session returns it.
	var again rt
	e.must(t, 200, "acme", "POST", "/start", v0Start(sid), &again)
	if again.RuntimeID != fresh.RuntimeID {
		t.Fatalf("second start made %s, want %s", again.RuntimeID, fresh.RuntimeID)
	}
	// build endpoints are not offered: 501 with a detail.
	for _, p := range []string{"GET /registry_prefix", "GET /image_exists?image=x", "GET /build_status?build_id=x"} {
		m, path, _ := strings.Cut(p, " ")
		if rec := e.do(t, "acme", m, path, nil); rec.Code != 501 {
			t.Fatalf("%s: %d", p, rec.Code)
		} else {
			detail(t, rec)
		}
	}
}

func TestV1RemoteSandboxServiceFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	sid := "4Xk9v1SandboxId"
	var started rt
	e.must(t, 200, "acme", "POST", "/start", v1Start(sid), &started)
	e.checkStarted(t, started, sid)
	// poll GET /sessions/{sid}; pod_status is always present.
	var got rt
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.PodStatus != "pending" || got.SessionAPIKey != started.SessionAPIKey {
		t.Fatalf("starting: %+v", got)
	}
	e.run.SetReady(svcName(started.RuntimeID))
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.PodStatus != "ready" || got.Status != "running" {
		t.Fatalf("ready: %+v", got)
	}
	// batch lookup: unknown ids are null.
	var batch []*rt
	e.must(t, 200, "acme", "GET", "/sessions/batch?ids="+sid+"&ids=nope", nil, &batch)
	if len(batch) != 2 || batch[0] == nil || batch[0].SessionID != sid || batch[1] != nil {
		t.Fatalf("batch: %s", mustJSON(batch))
	}
	// list: session_id, runtime_id, status, url, session_api_key.
	var list struct {
		Total    int  `json:"total"`
		Runtimes []rt `json:"runtimes"`
	}
	e.must(t, 200, "acme", "GET", "/list", nil, &list)
	if list.Total != 1 || len(list.Runtimes) != 1 || list.Runtimes[0].SessionID != sid || list.Runtimes[0].SessionAPIKey == "" || list.Runtimes[0].Status != "running" {
		t.Fatalf("list: %+v", list)
	}
	// pause (V1 looks the runtime up by session first), resume, pause twice is fine.
	e.must(t, 200, "acme", "POST", "/pause", map[string]string{"runtime_id": got.RuntimeID}, nil)
	e.must(t, 200, "acme", "POST", "/pause", map[string]string{"runtime_id": got.RuntimeID}, nil)
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "paused" {
		t.Fatalf("paused: %+v", got)
	}
	e.must(t, 200, "acme", "POST", "/resume", map[string]string{"runtime_id": got.RuntimeID}, nil)
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "starting" && got.Status != "running" {
		t.Fatalf("resumed: %+v", got)
	}
	// delete = stop; a second stop and an unknown id: V1 tolerates 404.
	e.must(t, 200, "acme", "POST", "/stop", map[string]string{"runtime_id": got.RuntimeID}, nil)
	e.must(t, 200, "acme", "POST", "/stop", map[string]string{"runtime_id": got.RuntimeID}, nil)
	if rec := e.do(t, "acme", "POST", "/stop", map[string]string{"runtime_id": "zzzzzzzz"}); rec.Code != 404 {
		t.Fatalf("unknown stop: %d", rec.Code)
	}
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.Status != "stopped" {
		t.Fatalf("stopped: %+v", got)
	}
}

func TestSDKAPIRemoteWorkspaceFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	sid := "agent-server-3f1c2d9e-0000-4000-8000-000000000000"
	if rec := e.do(t, "acme", "GET", "/sessions/"+sid, nil); rec.Code != 404 {
		t.Fatalf("unknown: %d", rec.Code)
	}
	var started rt
	e.must(t, 200, "acme", "POST", "/start", sdkStart(sid), &started)
	e.checkStarted(t, started, sid)
	e.run.SetReady(svcName(started.RuntimeID))
	var got rt
	e.must(t, 200, "acme", "GET", "/sessions/"+sid, nil, &got)
	if got.PodStatus != "ready" {
		t.Fatalf("ready: %+v", got)
	}
	// pause on close, resume parses the Runtime object.
	e.must(t, 200, "acme", "POST", "/pause", map[string]string{"runtime_id": started.RuntimeID}, nil)
	e.must(t, 200, "acme", "POST", "/resume", map[string]string{"runtime_id": started.RuntimeID}, &got)
	if got.RuntimeID != started.RuntimeID || got.URL != started.URL || got.SessionAPIKey != started.SessionAPIKey {
		t.Fatalf("resume answer: %+v", got)
	}
	e.must(t, 200, "acme", "POST", "/stop", map[string]string{"runtime_id": started.RuntimeID}, nil)
}

func TestTenancyAndAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	var started rt
	e.must(t, 200, "acme", "POST", "/start", v1Start("shared-sid"), &started)
	for _, c := range []struct {
		name, key, method, path string
		body                    any
		want                    int
	}{
		{"no key", "", "GET", "/list", nil, 401},
		{"no scope", "noscope", "GET", "/list", nil, 403},
		{"no scope start", "noscope", "POST", "/start", v1Start("x1"), 403},
		{"other session", "other", "GET", "/sessions/shared-sid", nil, 404},
		{"other runtime", "other", "GET", "/runtime/" + started.RuntimeID, nil, 404},
		{"other pause", "other", "POST", "/pause", map[string]string{"runtime_id": started.RuntimeID}, 404},
		{"other stop", "other", "POST", "/stop", map[string]string{"runtime_id": started.RuntimeID}, 404},
		{"health needs no key", "", "GET", "/health", nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := e.do(t, c.key, c.method, c.path, c.body)
			if rec.Code != c.want {
				t.Fatalf("%d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if c.want >= 400 {
				detail(t, rec)
			}
		})
	}
	var list struct {
		Total int `json:"total"`
	}
	e.must(t, 200, "other", "GET", "/list", nil, &list)
	if list.Total != 0 {
		t.Fatalf("other tenant lists %d runtimes", list.Total)
	}
	// the same session id in another tenant is another runtime.
	var theirs rt
	e.must(t, 200, "other", "POST", "/start", v1Start("shared-sid"), &theirs)
	if theirs.RuntimeID == started.RuntimeID {
		t.Fatal("tenants share a runtime")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	with := func(k string, v any) map[string]any { b := v1Start("bad-1"); b[k] = v; return b }
	for _, c := range []struct {
		name string
		body any
	}{
		{"not json", "{"},
		{"no session", with("session_id", "")},
		{"bad session", with("session_id", "a/b")},
		{"resource factor", with("resource_factor", 3)},
		{"runtime class", with("runtime_class", "kata")},
		{"no image", with("image", "")},
		{"image with spaces", with("image", "a b")},
		{"local image in cloud", with("image", "local:/tmp/x")},
		{"command object", with("command", map[string]int{"a": 1})},
		{"pull policy", with("image_pull_policy", "Sometimes")},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := e.do(t, "acme", "POST", "/start", c.body)
			if rec.Code != 400 {
				t.Fatalf("%d, want 400: %s", rec.Code, rec.Body)
			}
			detail(t, rec)
		})
	}
	big := with("environment", map[string]string{"X": strings.Repeat("x", 2<<20)})
	if rec := e.do(t, "acme", "POST", "/start", big); rec.Code != 413 {
		t.Fatalf("2 MiB JSON: %d", rec.Code)
	}
	for _, p := range []string{"/pause", "/resume", "/stop"} {
		if rec := e.do(t, "acme", "POST", p, "not json"); rec.Code != 400 {
			t.Fatalf("%s bad body: %d", p, rec.Code)
		}
		if rec := e.do(t, "acme", "POST", p, map[string]string{"runtime_id": "../x"}); rec.Code != 404 {
			t.Fatalf("%s bad id: %d", p, rec.Code)
		}
	}
	if rec := e.do(t, "acme", "GET", "/runtime/NOT-AN-ID", nil); rec.Code != 404 {
		t.Fatalf("bad runtime id: %d", rec.Code)
	}
}

func TestLocalImages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	body := v1Start("local-1")
	rec := e.do(t, "acme", "POST", "/start", body)
	if rec.Code != 400 || !strings.Contains(detail(t, rec), "local:") {
		t.Fatalf("registry image locally: %d %s", rec.Code, rec.Body)
	}
	body["image"] = "local:" + t.TempDir()
	var started rt
	e.must(t, 200, "acme", "POST", "/start", body, &started)
	if !strings.HasPrefix(started.Image, "file:///") {
		t.Fatalf("image %q, want file://<abs>", started.Image)
	}
	if rec := e.do(t, "acme", "POST", "/build", ""); rec.Code != 501 {
		t.Fatalf("build locally: %d", rec.Code)
	}
}

func TestCommandForms(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"/usr/local/bin/openhands-agent-server --port 60000"`, "/usr/local/bin/openhands-agent-server --port 60000"},
		{`["/usr/local/bin/openhands-agent-server","--port","60000"]`, "/usr/local/bin/openhands-agent-server --port 60000"},
		{`["echo","it's a b"]`, `echo 'it'\''s a b'`},
		{`[]`, ""},
	} {
		var cmd runtimeapi.Command
		if err := json.Unmarshal([]byte(c.in), &cmd); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if got := cmd.StartCmd(); got != c.want {
			t.Errorf("%s → %q, want %q", c.in, got, c.want)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	cells, err := deploy.ParseCells([]string{"c1:test-project:us-central1:10"})
	if err != nil {
		t.Fatal(err)
	}
	rts, err := runtime.NewService(e.st, cells)
	if err != nil {
		t.Fatal(err)
	}
	if err := rts.SetQuotas(context.Background(), "acme", runtime.Quotas{MaxRuntimes: 1, MaxVCPU: 32, CreatesPerMinute: 30}); err != nil {
		t.Fatal(err)
	}
	e.must(t, 200, "acme", "POST", "/start", v1Start("q-1"), nil)
	rec := e.do(t, "acme", "POST", "/start", v1Start("q-2"))
	if rec.Code != 429 || !strings.Contains(detail(t, rec), "quota") {
		t.Fatalf("over quota: %d %s", rec.Code, rec.Body)
	}
	// the other tenant is not affected.
	e.must(t, 200, "other", "POST", "/start", v1Start("q-2"), nil)
}

// buildBody is OpenHands' multipart /build upload: context = base64 of a tar.gz of dir.
func buildBody(tb testing.TB, dir, target string, tags ...string) (string, *bytes.Buffer) {
	tb.Helper()
	var tgz bytes.Buffer
	if err := archive.CreateTarGz(&tgz, dir); err != nil {
		tb.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("context", "context.tar.gz")
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.WriteString(fw, base64.StdEncoding.EncodeToString(tgz.Bytes()))
	_ = mw.WriteField("target_image", target)
	for _, t := range tags {
		_ = mw.WriteField("tags", t)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), &body
}

func (e *env) postBuild(tb testing.TB, key, ctype string, body io.Reader) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest("POST", "/build", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-API-Key", e.keys[key])
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// finish plays Cloud Build: the build ends with status and its notification is applied.
func (e *env) finish(tb testing.TB, tenant, buildID string, st cloudbuildpb.Build_Status) {
	tb.Helper()
	rec, err := e.builds.Get(context.Background(), tenant, buildID)
	if err != nil {
		tb.Fatal(err)
	}
	b := e.cb.SetStatus(rec.ExternalID, st, "sha256:"+strings.Repeat("d", 64))
	attrs, data, err := cloudbuild.EncodeNotification(b)
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := cloudbuild.DecodeNotification(attrs, data)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := e.builds.Apply(context.Background(), ev); err != nil {
		tb.Fatal(err)
	}
}

func TestV0ImageBuildFlow(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, false, true)
	var prefix struct {
		RegistryPrefix string `json:"registry_prefix"`
	}
	e.must(t, 200, "acme", "GET", "/registry_prefix", nil, &prefix)
	if !strings.HasPrefix(prefix.RegistryPrefix, artifactRepo) {
		t.Fatalf("registry_prefix %q", prefix.RegistryPrefix)
	}
	repo := strings.TrimRight(prefix.RegistryPrefix, "/") + "/runtime"
	target, lock := repo+":oh_v0.62.0_lock_src", repo+":oh_v0.62.0_lock"
	var exists struct {
		Exists bool `json:"exists"`
		Image  *struct {
			UploadTime     any     `json:"upload_time"`
			ImageSizeBytes float64 `json:"image_size_bytes"`
		} `json:"image"`
	}
	for _, img := range []string{target, lock} {
		e.must(t, 200, "acme", "GET", "/image_exists?image="+url.QueryEscape(img), nil, &exists)
		if exists.Exists {
			t.Fatalf("%s exists before any build", img)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM nikolaik/python-nodejs:python3.12-nodejs22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctype, body := buildBody(t, dir, target, lock)
	rec := e.postBuild(t, "acme", ctype, body)
	if rec.Code != 200 {
		t.Fatalf("build: %d %s", rec.Code, rec.Body)
	}
	var b struct {
		BuildID string `json:"build_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.BuildID == "" {
		t.Fatalf("build answer %s", rec.Body)
	}
	var st struct{ Status, Image, Error string }
	e.must(t, 200, "acme", "GET", "/build_status?build_id="+b.BuildID, nil, &st)
	if st.Status != "QUEUED" && st.Status != "WORKING" {
		t.Fatalf("status while building: %+v", st)
	}
	// another tenant sees neither the build nor the image.
	if rec := e.do(t, "other", "GET", "/build_status?build_id="+b.BuildID, nil); rec.Code != 404 {
		t.Fatalf("other tenant's build status: %d", rec.Code)
	}
	e.finish(t, "acme", b.BuildID, cloudbuildpb.Build_SUCCESS)
	e.must(t, 200, "acme", "GET", "/build_status?build_id="+b.BuildID, nil, &st)
	if st.Status != "SUCCESS" || st.Image != target {
		t.Fatalf("status after success: %+v", st)
	}
	e.must(t, 200, "acme", "GET", "/image_exists?image="+url.QueryEscape(target), nil, &exists)
	if !exists.Exists || exists.Image == nil || exists.Image.UploadTime == nil {
		t.Fatalf("built image: %+v", exists)
	}
	exists.Exists = false
	e.must(t, 200, "other", "GET", "/image_exists?image="+url.QueryEscape(target), nil, &exists)
	if exists.Exists {
		t.Fatal("another tenant sees the image")
	}
	// start with the built name: the runtime runs what Cloud Build pushed.
	start := v0Start("built-1")
	start["image"] = target
	var started rt
	e.must(t, 200, "acme", "POST", "/start", start, &started)
	if started.Image == target || !strings.HasPrefix(started.Image, artifactRepo) {
		t.Fatalf("runtime image %q, want the built Artifact Registry image", started.Image)
	}
	start["image"], start["session_id"] = lock, "built-2"
	if rec := e.do(t, "acme", "POST", "/start", start); rec.Code != 400 {
		t.Fatalf("start with an unbuilt name: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do(t, "other", "POST", "/start", map[string]any{"image": target, "session_id": "x", "command": "true"}); rec.Code != 400 {
		t.Fatalf("other tenant starts acme's image: %d", rec.Code)
	}
	// failure maps to FAILURE.
	ctype, body = buildBody(t, dir, repo+":other")
	rec = e.postBuild(t, "acme", ctype, body)
	_ = json.Unmarshal(rec.Body.Bytes(), &b)
	e.finish(t, "acme", b.BuildID, cloudbuildpb.Build_FAILURE)
	e.must(t, 200, "acme", "GET", "/build_status?build_id="+b.BuildID, nil, &st)
	if st.Status != "FAILURE" {
		t.Fatalf("failed build: %+v", st)
	}
}

func TestBuildBadInput(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, false, true)
	var prefix struct {
		RegistryPrefix string `json:"registry_prefix"`
	}
	e.must(t, 200, "acme", "GET", "/registry_prefix", nil, &prefix)
	target := prefix.RegistryPrefix + "/runtime:x"
	noDockerfile := t.TempDir()
	if err := os.WriteFile(filepath.Join(noDockerfile, "README"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	withDockerfile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withDockerfile, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	multipartOf := func(fields map[string]string) (string, io.Reader) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		_ = mw.Close()
		return mw.FormDataContentType(), &body
	}
	for _, c := range []struct {
		name string
		body func() (string, io.Reader)
	}{
		{"not multipart", func() (string, io.Reader) { return "application/json", strings.NewReader("{}") }},
		{"no Dockerfile", func() (string, io.Reader) { return buildBody(t, noDockerfile, target) }},
		{"target outside the prefix", func() (string, io.Reader) { return buildBody(t, withDockerfile, "docker.io/library/x:1") }},
		{"no context", func() (string, io.Reader) { return multipartOf(map[string]string{"target_image": target}) }},
		{"context not base64", func() (string, io.Reader) {
			return multipartOf(map[string]string{"target_image": target, "context": "%%%"})
		}},
		{"context not a tar.gz", func() (string, io.Reader) {
			return multipartOf(map[string]string{"target_image": target, "context": base64.StdEncoding.EncodeToString([]byte("plain"))})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctype, body := c.body()
			rec := e.postBuild(t, "acme", ctype, body)
			if rec.Code != 400 {
				t.Fatalf("%d, want 400: %s", rec.Code, rec.Body)
			}
			detail(t, rec)
		})
	}
	for _, p := range []string{"/build_status", "/build_status?build_id=a/b", "/image_exists", "/image_exists?image=a%20b"} {
		if rec := e.do(t, "acme", "GET", p, nil); rec.Code != 400 {
			t.Fatalf("%s: %d", p, rec.Code)
		}
	}
	if rec := e.do(t, "acme", "GET", "/build_status?build_id=nope", nil); rec.Code != 404 {
		t.Fatalf("unknown build: %d", rec.Code)
	}
}
