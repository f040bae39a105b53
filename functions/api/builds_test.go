package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/cloudbuild"
)

const repo = "https://github.com/acme/app"

func commitN(i int) string { return fmt.Sprintf("%040x", i+1) }

type buildResp struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Cached     bool   `json:"cached"`
	Image      string `json:"image"`
	Digest     string `json:"digest"`
	ExternalID string `json:"external_id"`
	CacheKey   string `json:"cache_key"`
	Error      string `json:"error"`
}

// finish plays Cloud Build: the fake build ends with status and its notification is applied.
func (e *env) finish(tb testing.TB, externalID string, st cloudbuildpb.Build_Status) {
	tb.Helper()
	b := e.cb.SetStatus(externalID, st, "sha256:"+strings.Repeat("d", 64))
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

func TestBuildsCreateCacheAndCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := api.CreateBuildRequest{RepoURL: repo + ".git", Commit: commitN(1)}
	var first buildResp
	f.must(t, 202, "POST", "/v1/tenants/acme/builds", f.member, req, &first)
	if first.Status != "queued" || first.Cached || first.ExternalID == "" {
		t.Fatalf("first build %+v", first)
	}
	reqs := f.cb.Requests()
	if len(reqs) != 1 {
		t.Fatalf("Cloud Build got %d builds", len(reqs))
	}
	got := reqs[0].GetBuild()
	if tags := strings.Join(got.GetTags(), ","); !strings.Contains(tags, "tenant-acme") || !strings.Contains(tags, "build-"+first.ID) {
		t.Errorf("tags %s", tags)
	}
	if src := got.GetSource().GetGitSource(); src.GetUrl() != repo || src.GetRevision() != commitN(1) {
		t.Errorf("source %v", got.GetSource())
	}
	// While it runs, the same commit answers the same build.
	var again buildResp
	f.must(t, 202, "POST", "/v1/tenants/acme/builds", f.key, req, &again)
	if again.ID != first.ID || len(f.cb.Requests()) != 1 {
		t.Errorf("in-flight duplicate started another build: %+v", again)
	}
	f.finish(t, first.ExternalID, cloudbuildpb.Build_SUCCESS)
	var cached buildResp
	f.must(t, 200, "POST", "/v1/tenants/acme/builds", f.owner, req, &cached)
	if !cached.Cached || cached.Status != "success" || cached.Digest == "" || cached.ID == first.ID || len(f.cb.Requests()) != 1 {
		t.Errorf("cached answer %+v (Cloud Build calls %d)", cached, len(f.cb.Requests()))
	}
	// Another tenant never gets acme's image.
	var other buildResp
	f.must(t, 202, "POST", "/v1/tenants/other/builds", f.otherOwner, req, &other)
	if other.Cached || len(f.cb.Requests()) != 2 {
		t.Errorf("other tenant: %+v", other)
	}
	f.must(t, 404, "GET", "/v1/tenants/other/builds/"+first.ID, f.otherOwner, nil, nil)
	// Cancel a running build.
	var running buildResp
	f.must(t, 202, "POST", "/v1/tenants/acme/builds", f.owner, api.CreateBuildRequest{RepoURL: repo, Ref: "main"}, &running)
	f.must(t, 202, "POST", "/v1/tenants/acme/builds/"+running.ID+":cancel", f.member, nil, nil)
	if st := f.cb.Build(running.ExternalID).GetStatus(); st != cloudbuildpb.Build_CANCELLED {
		t.Errorf("Cloud Build status after cancel: %v", st)
	}
	var list struct{ Items []buildResp }
	f.must(t, 200, "GET", "/v1/tenants/acme/builds", f.member, nil, &list)
	if len(list.Items) != 3 || list.Items[0].ID != running.ID {
		t.Errorf("listing (newest first): %+v", list.Items)
	}
}

func TestBuildsAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var b buildResp
	f.must(t, 202, "POST", "/v1/tenants/acme/builds", f.owner, api.CreateBuildRequest{RepoURL: repo, Commit: commitN(99)}, &b)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey},
		{"member", f.member}, {"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	const u, n = 401, 404
	tests := []struct {
		name, method string
		path         string
		body         func(i int) any
		want         [8]int
	}{
		{"list", "GET", "/v1/tenants/acme/builds", nil, [8]int{u, n, n, 200, 200, 200, 200, u}},
		{"get", "GET", "/v1/tenants/acme/builds/" + b.ID, nil, [8]int{u, n, n, 200, 200, 200, 200, u}},
		{"create", "POST", "/v1/tenants/acme/builds", func(i int) any { return api.CreateBuildRequest{RepoURL: repo, Commit: commitN(i)} }, [8]int{u, n, n, 202, 202, 202, 202, u}},
		{"cancel", "POST", "/v1/tenants/acme/builds/" + b.ID + ":cancel", nil, [8]int{u, n, n, 202, 202, 202, 202, u}},
	}
	for _, tc := range tests {
		for i, c := range callers {
			var body any
			if tc.body != nil {
				body = tc.body(i)
			}
			rec := f.do(t, tc.method, tc.path, c.cred, body)
			if rec.Code != tc.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, c.name, rec.Code, tc.want[i], rec.Body)
			}
		}
	}
}

func TestBuildsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name, path string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"http url", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: "http://github.com/a/b", Commit: commitN(1)}, 400, "repo_url_not_allowed"},
		{"credentials", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: "https://x:y@github.com/a/b", Commit: commitN(1)}, 400, "repo_url_not_allowed"},
		{"loopback", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: "https://127.0.0.1/a/b", Commit: commitN(1)}, 400, "repo_url_not_allowed"},
		{"metadata server", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: "https://169.254.169.254/a/b", Commit: commitN(1)}, 400, "repo_url_not_allowed"},
		{"host not allowed", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: "https://evil.example/a/b", Commit: commitN(1)}, 400, "repo_url_not_allowed"},
		{"short commit", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: repo, Commit: "abc123"}, 400, "invalid_argument"},
		{"neither commit nor ref", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: repo}, 400, "invalid_argument"},
		{"option-like ref", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: repo, Ref: "--upload-pack=x"}, 400, "invalid_argument"},
		{"escaping app dir", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: repo, Ref: "main", AppDir: "../x"}, 400, "invalid_argument"},
		{"bad strategy", "/v1/tenants/acme/builds", api.CreateBuildRequest{RepoURL: repo, Ref: "main", Strategy: "nix"}, 400, "invalid_argument"},
		{"unknown field", "/v1/tenants/acme/builds", `{"repo_url":"` + repo + `","ref":"main","token":"x"}`, 400, "unknown_field"},
		{"unknown build", "/v1/tenants/acme/builds/zzzz:cancel", nil, 404, "build_not_found"},
		{"bad build id", "/v1/tenants/acme/builds/BAD!:cancel", nil, 400, "invalid_id"},
		{"unknown verb", "/v1/tenants/acme/builds/abc:explode", nil, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, "POST", tc.path, f.owner, tc.body)
			if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if n := len(f.cb.Requests()); n != 0 {
		t.Errorf("bad requests reached Cloud Build %d times", n)
	}
}

func TestBuildsBuilderFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, tc := range []struct {
		code       codes.Code
		wantStatus int
		wantCode   string
	}{
		{codes.ResourceExhausted, 429, "builder_quota_exceeded"},
		{codes.Internal, 503, "unavailable"},
		{codes.DeadlineExceeded, 503, "unavailable"},
	} {
		f.cb.FailNext("CreateBuild", tc.code, 1)
		rec := f.do(t, "POST", "/v1/tenants/acme/builds", f.owner, api.CreateBuildRequest{RepoURL: repo, Commit: commitN(i)})
		if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
			t.Errorf("%v: %d %s", tc.code, rec.Code, rec.Body)
		}
		// The refused build is recorded as failed and its key is free: the next try builds.
		var ok buildResp
		f.must(t, 202, "POST", "/v1/tenants/acme/builds", f.owner, api.CreateBuildRequest{RepoURL: repo, Commit: commitN(i)}, &ok)
	}
	var list struct{ Items []buildResp }
	f.must(t, 200, "GET", "/v1/tenants/acme/builds", f.owner, nil, &list)
	failed := 0
	for _, b := range list.Items {
		if b.Status == string(build.StatusFailure) {
			failed++
			if strings.Contains(b.Error, "rpc error") {
				t.Errorf("builder internals shown to the tenant: %q", b.Error)
			}
		}
	}
	if failed != 3 {
		t.Errorf("%d failed builds recorded, want 3", failed)
	}
}

// BenchmarkCreateBuildCached measures the cached path through the handler against the
// emulator: POST /v1/tenants/{t}/builds for a commit whose image exists, answered with it.
func BenchmarkCreateBuildCached(b *testing.B) {
	f := newFixture(b)
	body := `{"repo_url":"` + repo + `","commit":"` + commitN(7) + `"}`
	var first buildResp
	f.must(b, 202, "POST", "/v1/tenants/acme/builds", f.owner, body, &first)
	f.finish(b, first.ExternalID, cloudbuildpb.Build_SUCCESS)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/tenants/acme/builds", strings.NewReader(body))
		req.Header.Set("X-API-Key", strings.TrimPrefix(f.key, "key:"))
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
