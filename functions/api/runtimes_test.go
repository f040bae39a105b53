package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/usage"
)

const image = "us-central1-docker.pkg.dev/test-project/runyard/acme@sha256:" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

type rtResp struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
	Service string `json:"service"`
	URLs    struct {
		Agent    string            `json:"agent"`
		VSCode   string            `json:"vscode"`
		Previews map[string]string `json:"previews"`
	} `json:"urls"`
}

func svcName(id string) string {
	return "projects/test-project/locations/us-central1/services/rt-" + id
}

func TestRuntimeLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, putSecret("sk-x"), nil)
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member,
		api.CreateRuntimeRequest{Image: image, Ports: []int{3000}, ResourceFactor: 2, Secrets: []string{"OPENAI_API_KEY"}}, &rt)
	if rt.State != "deploying" || rt.Service != "rt-"+rt.ID {
		t.Fatalf("created %+v", rt)
	}
	svc := f.run.Service(svcName(rt.ID))
	if svc == nil || !svc.GetIapEnabled() || svc.GetLabels()["tenant"] != "acme" {
		t.Fatalf("Cloud Run service %v", svc)
	}
	// The secret goes by reference, and the tenant's members may pass IAP.
	var hasRef bool
	for _, c := range svc.GetTemplate().GetContainers() {
		for _, e := range c.GetEnv() {
			if e.GetName() == "OPENAI_API_KEY" && strings.HasSuffix(e.GetValueSource().GetSecretKeyRef().GetSecret(), "/secrets/rt-acme-OPENAI_API_KEY") {
				hasRef = true
			}
			if e.GetValue() == "sk-x" {
				t.Error("a secret value reached the service definition")
			}
		}
	}
	if !hasRef {
		t.Error("no secret reference in the service")
	}
	// The runtime runs as its tenant's own identity, which may read exactly that secret.
	if sa := svc.GetTemplate().GetServiceAccount(); sa != "rt-acme@test-project.iam.gserviceaccount.com" {
		t.Errorf("service account %q", sa)
	}
	granted := f.sm.PoliciesWithMember("roles/secretmanager.secretAccessor", "serviceAccount:rt-acme@test-project.iam.gserviceaccount.com")
	if len(granted) != 1 || !strings.HasSuffix(granted[0], "/secrets/rt-acme-OPENAI_API_KEY") {
		t.Errorf("secret grants for the runtime identity: %v", granted)
	}
	// Until Cloud Run says ready, it stays deploying; then GET moves it to running with URLs.
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	if rt.State != "deploying" {
		t.Errorf("before ready: %s", rt.State)
	}
	f.run.SetReady(svcName(rt.ID))
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	if rt.State != "running" || rt.URLs.Agent == "" || rt.URLs.Previews["3000"] == "" || !strings.Contains(rt.URLs.VSCode, "/vscode/?tkn=") || len(rt.URLs.VSCode) < 40 {
		t.Fatalf("after ready: %+v", rt)
	}
	// Half a second of running (2 vCPU, resource factor 2) is a period with something to bill:
	// a period of nothing is closed without an event.
	time.Sleep(500 * time.Millisecond)
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":pause", f.member, nil, &rt)
	if rt.State != "paused" {
		t.Errorf("pause: %s", rt.State)
	}
	// The pause closed the running period; it is published to the usage topic at once, not
	// left for the sweeper's drain.
	published := func(state string) bool {
		for _, m := range f.pub.Messages() {
			ev, err := usage.DecodeEvent(m.Data)
			if m.Topic == usage.Topic && err == nil && ev.Runtime == rt.ID && ev.State == state && ev.Tenant == "acme" {
				return true
			}
		}
		return false
	}
	if !published("running") {
		t.Errorf("no usage event for the running period: %d messages", len(f.pub.Messages()))
	}
	if rec := f.do(t, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":pause", f.member, nil); rec.Code != 409 || errorCode(t, rec) != "illegal_transition" {
		t.Errorf("pause twice: %d %s", rec.Code, rec.Body)
	}
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":resume", f.member, nil, &rt)
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	if rt.State != "running" {
		t.Errorf("after resume: %s", rt.State)
	}
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":stop", f.member, nil, &rt)
	if rt.State != "stopped" || f.run.Service(svcName(rt.ID)) != nil {
		t.Errorf("stop: %s, service left %v", rt.State, f.run.Service(svcName(rt.ID)) != nil)
	}
	// Resume recreates the stopped runtime's service with the same id.
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":resume", f.member, nil, &rt)
	if rt.State != "deploying" || f.run.Service(svcName(rt.ID)) == nil {
		t.Errorf("resume after stop: %s", rt.State)
	}
	f.must(t, 204, "DELETE", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, nil)
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	if rt.State != "deleted" || f.run.Service(svcName(rt.ID)) != nil {
		t.Errorf("delete: %s", rt.State)
	}
	var list struct{ Items []rtResp }
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes?state=deleted", f.member, nil, &list)
	if len(list.Items) != 1 {
		t.Errorf("filtered list: %+v", list.Items)
	}
	f.must(t, 404, "GET", "/v1/tenants/other/runtimes/"+rt.ID, f.otherOwner, nil, nil)
}

func TestRuntimeFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name       string
		inject     func()
		wantStatus int
		wantCode   string
	}{
		{"cloud run quota", func() { f.run.FailNext("CreateService", codes.ResourceExhausted, 1) }, 503, "deploy_quota_exceeded"},
		{"permission", func() { f.run.FailNext("CreateService", codes.PermissionDenied, 1) }, 500, "deploy_permission_denied"},
		{"rejected image", func() { f.run.RejectImage(image) }, 400, "invalid_image"},
	}
	for _, tc := range tests {
		tc.inject()
		rec := f.do(t, "POST", "/v1/tenants/acme/runtimes", f.owner, api.CreateRuntimeRequest{Image: image})
		if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	// Each failure left a failed runtime with a reason, no service, and gave its slot back.
	var list struct{ Items []rtResp }
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes", f.owner, nil, &list)
	for _, rt := range list.Items {
		if rt.State != "failed" || rt.Reason == "" || f.run.Service(svcName(rt.ID)) != nil {
			t.Errorf("after a failed deploy: %+v", rt)
		}
	}
	if len(list.Items) != 3 || len(f.run.ServiceNames()) != 0 {
		t.Errorf("%d runtimes, %d services", len(list.Items), len(f.run.ServiceNames()))
	}
}

func TestRuntimeCapacityAndBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := 0; i < 3; i++ { // the test cell holds 3
		f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.key, api.CreateRuntimeRequest{Image: image}, nil)
	}
	if rec := f.do(t, "POST", "/v1/tenants/acme/runtimes", f.owner, api.CreateRuntimeRequest{Image: image}); rec.Code != 503 || errorCode(t, rec) != "capacity_exhausted" {
		t.Errorf("full cell: %d %s", rec.Code, rec.Body)
	}
	tests := []struct {
		name string
		body any
		code string
	}{
		{"nothing to run", api.CreateRuntimeRequest{}, "invalid_argument"},
		{"two sources", api.CreateRuntimeRequest{Image: image, BuildID: "abc"}, "invalid_argument"},
		{"bad resource factor", api.CreateRuntimeRequest{Image: image, ResourceFactor: 3}, "invalid_argument"},
		{"reserved port", api.CreateRuntimeRequest{Image: image, Ports: []int{60000}}, "invalid_argument"},
		{"bad image", api.CreateRuntimeRequest{Image: "x; rm -rf /"}, "invalid_image"},
		{"unknown secret", api.CreateRuntimeRequest{Image: image, Secrets: []string{"NOPE"}}, "invalid_argument"},
		{"reserved secret", api.CreateRuntimeRequest{Image: image, Secrets: []string{"RUNYARD_REPO_X"}}, "invalid_secret_name"},
		{"bad repo", api.CreateRuntimeRequest{RepoURL: "http://github.com/a/b", Ref: "main"}, "repo_url_not_allowed"},
	}
	for _, tc := range tests {
		rec := f.do(t, "POST", "/v1/tenants/acme/runtimes", f.owner, tc.body)
		if rec.Code != 400 || errorCode(t, rec) != tc.code {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	for _, path := range []string{"/v1/tenants/acme/runtimes/UPPER", "/v1/tenants/acme/runtimes/nope:explode"} {
		if rec := f.do(t, "POST", path, f.owner, nil); rec.Code/100 != 4 {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}

func TestRuntimesAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.owner, api.CreateRuntimeRequest{Image: image}, &rt)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey},
		{"member", f.member}, {"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	const u, n = 401, 404
	for _, tc := range []struct {
		name, method, path string
		want               [8]int
	}{
		{"list", "GET", "/v1/tenants/acme/runtimes", [8]int{u, n, n, 200, 200, 200, 200, u}},
		{"get", "GET", "/v1/tenants/acme/runtimes/" + rt.ID, [8]int{u, n, n, 200, 200, 200, 200, u}},
		{"stop", "POST", "/v1/tenants/acme/runtimes/" + rt.ID + ":stop", [8]int{u, n, n, 202, 409, 409, 409, u}},
	} {
		for i, c := range callers {
			if rec := f.do(t, tc.method, tc.path, c.cred, nil); rec.Code != tc.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, c.name, rec.Code, tc.want[i], rec.Body)
			}
		}
	}
}

// BenchmarkCreateRuntime measures create-to-deploying through the handler with the Cloud Run
// and IAP fakes, and reports the Cloud Run admin write calls per create, pause, resume, stop.
func BenchmarkCreateRuntime(b *testing.B) {
	f := newFixture(b)
	rts, err := runtime.NewService(f.st, []deploy.Cell{{Name: "c1", Project: "test-project", Region: "us-central1", Limit: 3}})
	if err != nil {
		b.Fatal(err)
	}
	if err := rts.SetQuotas(context.Background(), "acme", runtime.Quotas{MaxRuntimes: 10, MaxVCPU: 100, CreatesPerMinute: 1 << 30}); err != nil {
		b.Fatal(err)
	}
	body := fmt.Sprintf(`{"image":%q}`, image)
	var ids []string
	for b.Loop() {
		b.StopTimer()
		if len(ids) == 3 { // the test cell holds 3: stop them (untimed)
			for _, id := range ids {
				f.must(b, 204, "DELETE", "/v1/tenants/acme/runtimes/"+id, f.owner, nil, nil)
			}
			ids = ids[:0]
		}
		b.StartTimer()
		req := httptest.NewRequest("POST", "/v1/tenants/acme/runtimes", strings.NewReader(body))
		req.Header.Set("X-API-Key", strings.TrimPrefix(f.key, "key:"))
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != 202 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var rt rtResp
		b.StopTimer()
		decodeInto(b, rec.Body.Bytes(), &rt)
		ids = append(ids, rt.ID)
		b.StartTimer()
	}
	b.StopTimer()
	for _, id := range ids {
		f.must(b, 204, "DELETE", "/v1/tenants/acme/runtimes/"+id, f.owner, nil, nil)
	}
	writes := func() int { return f.run.WriteCalls() + f.iap.WriteCalls() }
	var rt rtResp
	w0 := writes()
	f.must(b, 202, "POST", "/v1/tenants/acme/runtimes", f.owner, body, &rt)
	w1 := writes()
	f.run.SetReady(svcName(rt.ID))
	f.must(b, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.owner, nil, &rt)
	w2 := writes()
	f.must(b, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":pause", f.owner, nil, nil)
	w3 := writes()
	f.must(b, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":resume", f.owner, nil, nil)
	w4 := writes()
	f.must(b, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":stop", f.owner, nil, nil)
	w5 := writes()
	b.ReportMetric(float64(w1-w0), "create-writes")
	b.ReportMetric(float64(w3-w2), "pause-writes")
	b.ReportMetric(float64(w4-w3), "resume-writes")
	b.ReportMetric(float64(w5-w4), "stop-writes")
}

func TestRuntimeActivity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.owner, api.CreateRuntimeRequest{Image: image}, &rt)
	rts, err := runtime.NewService(f.st, []deploy.Cell{{Name: "c1", Project: "test-project", Region: "us-central1", Limit: 3}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := rts.Get(context.Background(), "acme", rt.ID)
	if err != nil || len(rec.SessionAPIKey) < 32 {
		t.Fatalf("session key: %v", err)
	}
	// The sidecar is told where to report, with the session key to report with.
	var sidecarEnv []string
	for _, c := range f.run.Service(svcName(rt.ID)).GetTemplate().GetContainers() {
		if len(c.GetPorts()) > 0 {
			for _, e := range c.GetEnv() {
				sidecarEnv = append(sidecarEnv, e.GetName()+"="+e.GetValue())
			}
		}
	}
	wantURL := "ACTIVITY_URL=https://api.runyard.test/v1/tenants/acme/runtimes/" + rt.ID + ":activity"
	if !strings.Contains(strings.Join(sidecarEnv, " "), wantURL) || !strings.Contains(strings.Join(sidecarEnv, " "), "SESSION_API_KEY=") {
		t.Errorf("sidecar env %v", sidecarEnv)
	}
	path := "/v1/tenants/acme/runtimes/" + rt.ID + ":activity"
	// Make the runtime look idle for ten minutes, then report a request now.
	if _, err := store.Update(context.Background(), f.st, store.Key{Tenant: "acme", Kind: runtime.KindRuntimes, ID: rt.ID},
		func(r *runtime.Runtime) error { r.LastActivityAt = r.LastActivityAt.Add(-10 * time.Minute); return nil }); err != nil {
		t.Fatal(err)
	}
	later := time.Now().UTC().Truncate(time.Millisecond)
	body := fmt.Sprintf(`{"runtime_id":%q,"last_request":%q}`, rt.ID, later.Format(time.RFC3339Nano))
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no key", "", 401},
		{"wrong key", "Bearer " + strings.Repeat("x", 32), 401},
		{"a user's token", f.owner, 401},
		{"the runtime's key", "Bearer " + rec.SessionAPIKey, 204},
	} {
		if got := f.do(t, "POST", path, tc.auth, body); got.Code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, got.Code, tc.want, got.Body)
		}
	}
	after, _ := rts.Get(context.Background(), "acme", rt.ID)
	if !after.LastActivityAt.Equal(later) {
		t.Errorf("last activity %v, want %v", after.LastActivityAt, later)
	}
	// Another runtime's key does not work here.
	var other rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.owner, api.CreateRuntimeRequest{Image: image}, &other)
	orec, _ := rts.Get(context.Background(), "acme", other.ID)
	if got := f.do(t, "POST", path, "Bearer "+orec.SessionAPIKey, body); got.Code != 401 {
		t.Errorf("another runtime's key: %d", got.Code)
	}
}
