package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/tenancy"
)

func TestReposLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var created api.ConnectRepoResponse
	rec := f.do(t, "POST", "/v1/tenants/acme/repos", f.admin, api.ConnectRepoRequest{URL: "https://github.com/acme/app.git"})
	if rec.Code != 201 {
		t.Fatalf("connect: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	id := created.ID
	if got := rec.Header().Get("Location"); got != "/v1/tenants/acme/repos/"+id {
		t.Errorf("Location = %q", got)
	}
	if created.RepoURL != "https://github.com/acme/app" || created.DefaultBranch != "main" || created.Provider != "github" ||
		created.HookURL != "https://hooks.runyard.test/githubhook/v1/hooks/acme/"+id || len(created.HookSecret) != 64 {
		t.Errorf("connect answer: %s", rec.Body)
	}
	secret := created.HookSecret
	var bodies []string
	auditRec := f.do(t, "GET", "/v1/tenants/acme/audit", f.owner, nil)
	var audit auditPage
	decodeInto(t, auditRec.Body.Bytes(), &audit)
	if len(audit.Items) == 0 || audit.Items[0].Action != string(repos.ActWrite) || audit.Items[0].Actor != adminEmail {
		t.Errorf("newest audit event: %+v", audit.Items)
	}
	bodies = append(bodies, auditRec.Body.String())
	for _, p := range []string{"/v1/tenants/acme/repos/" + id, "/v1/tenants/acme/repos"} {
		rec := f.do(t, "GET", p, f.owner, nil)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", p, rec.Code, rec.Body)
		}
		bodies = append(bodies, rec.Body.String())
	}
	for _, b := range bodies {
		if strings.Contains(b, secret) || strings.Contains(b, "hook_secret\"") {
			t.Errorf("the secret is shown again: %s", b)
		}
	}
	var got repos.Repo
	f.must(t, 200, "GET", "/v1/tenants/acme/repos/"+id, f.member, nil, &got)
	if diff := cmp.Diff(created.Repo, got); diff != "" {
		t.Errorf("GET (-created +got):\n%s", diff)
	}
	var page tenancy.Page[repos.Repo]
	f.must(t, 200, "GET", "/v1/tenants/acme/repos?limit=10", f.member, nil, &page)
	if len(page.Items) != 1 || page.Items[0].ID != id {
		t.Errorf("list: %+v", page)
	}
	if f.sm.Secret("projects/test/secrets/rt-acme-"+repos.SecretName(id)) == nil {
		t.Error("the signing secret is not in Secret Manager")
	}
	f.must(t, 204, "DELETE", "/v1/tenants/acme/repos/"+id, f.admin, nil, nil)
	if f.sm.Secret("projects/test/secrets/rt-acme-"+repos.SecretName(id)) != nil {
		t.Error("the signing secret survived the disconnect")
	}
	rec = f.do(t, "GET", "/v1/tenants/acme/repos/"+id, f.owner, nil)
	if rec.Code != 404 || errorCode(t, rec) != httpx.CodeNotFound {
		t.Errorf("GET after delete: %d %s", rec.Code, rec.Body)
	}
}

func TestReposAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var fixture api.ConnectRepoResponse
	f.must(t, 201, "POST", "/v1/tenants/acme/repos", f.owner, api.ConnectRepoRequest{URL: "https://github.com/acme/fixture"}, &fixture)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey},
		{"member", f.member}, {"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	victims := make([]string, len(callers))
	for i := range callers {
		var v api.ConnectRepoResponse
		f.must(t, 201, "POST", "/v1/tenants/acme/repos", f.owner, api.ConnectRepoRequest{URL: fmt.Sprintf("https://github.com/acme/victim-%d", i)}, &v)
		victims[i] = v.ID
	}
	const u, n, f4 = 401, 404, 403
	tests := []struct {
		name, method string
		path         func(i int) string
		body         func(i int) any
		want         [8]int
	}{
		{"list", "GET", func(int) string { return "/v1/tenants/acme/repos" }, func(int) any { return nil }, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"get", "GET", func(int) string { return "/v1/tenants/acme/repos/" + fixture.ID }, func(int) any { return nil }, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"connect", "POST", func(int) string { return "/v1/tenants/acme/repos" },
			func(i int) any { return api.ConnectRepoRequest{URL: fmt.Sprintf("https://github.com/acme/new-%d", i)} }, [8]int{u, n, n, f4, 201, 201, f4, u}},
		{"disconnect", "DELETE", func(i int) string { return "/v1/tenants/acme/repos/" + victims[i] }, func(int) any { return nil }, [8]int{u, n, n, f4, 204, 204, f4, u}},
	}
	for _, tc := range tests {
		for i, c := range callers {
			rec := f.do(t, tc.method, tc.path(i), c.cred, tc.body(i))
			if rec.Code != tc.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, c.name, rec.Code, tc.want[i], rec.Body)
			} else if rec.Code >= 400 {
				errorCode(t, rec)
			}
		}
	}
	// Another tenant's repository is not found from this tenant, whoever asks.
	var theirs api.ConnectRepoResponse
	f.must(t, 201, "POST", "/v1/tenants/other/repos", f.otherOwner, api.ConnectRepoRequest{URL: "https://github.com/other/app"}, &theirs)
	for _, m := range []string{"GET", "DELETE"} {
		if rec := f.do(t, m, "/v1/tenants/acme/repos/"+theirs.ID, f.owner, nil); rec.Code != 404 {
			t.Errorf("%s of other tenant's repo through acme: %d %s", m, rec.Code, rec.Body)
		}
	}
}

func TestReposBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "POST", "/v1/tenants/acme/repos", f.owner, api.ConnectRepoRequest{URL: "https://github.com/acme/app"}, nil)
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantCode           string
	}{
		{"http url", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "http://github.com/acme/x"}, 400, api.CodeInvalidRepoURL},
		{"credentials in url", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "https://tok@github.com/acme/x"}, 400, api.CodeInvalidRepoURL},
		{"other host", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "https://evil.test/acme/x"}, 400, api.CodeInvalidRepoURL},
		{"query", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "https://github.com/acme/x?a=1"}, 400, api.CodeInvalidRepoURL},
		{"no url", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{}, 400, api.CodeInvalidRepoURL},
		{"bad branch", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "https://github.com/acme/x", DefaultBranch: "a..b"}, 400, api.CodeInvalidBranch},
		{"duplicate", "POST", "/v1/tenants/acme/repos", api.ConnectRepoRequest{URL: "https://github.com/ACME/app/"}, 409, httpx.CodeAlreadyExists},
		{"unknown field", "POST", "/v1/tenants/acme/repos", `{"url":"https://github.com/acme/x","secret":"mine"}`, 400, httpx.CodeUnknownField},
		{"malformed json", "POST", "/v1/tenants/acme/repos", `{"url":`, 400, httpx.CodeMalformedJSON},
		{"url wrong type", "POST", "/v1/tenants/acme/repos", `{"url":1}`, 400, httpx.CodeInvalidArgument},
		{"bad id", "GET", "/v1/tenants/acme/repos/NOT_AN_ID", nil, 400, httpx.CodeInvalidID},
		{"unknown id", "GET", "/v1/tenants/acme/repos/nosuchrepo", nil, 404, httpx.CodeNotFound},
		{"delete unknown id", "DELETE", "/v1/tenants/acme/repos/nosuchrepo", nil, 404, httpx.CodeNotFound},
		{"bad tenant", "GET", "/v1/tenants/ACME/repos", nil, 400, httpx.CodeInvalidID},
		{"unknown tenant", "POST", "/v1/tenants/nosuch/repos", api.ConnectRepoRequest{URL: "https://github.com/acme/x"}, 404, api.CodeTenantNotFound},
		{"bad cursor", "GET", "/v1/tenants/acme/repos?cursor=garbage", nil, 400, httpx.CodeInvalidCursor},
		{"bad limit", "GET", "/v1/tenants/acme/repos?limit=0", nil, 400, httpx.CodeInvalidArgument},
		{"method", "PUT", "/v1/tenants/acme/repos", nil, 405, httpx.CodeMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := f.do(t, tc.method, tc.path, f.owner, tc.body)
			if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
				t.Errorf("%d, want %d %s: %s", rec.Code, tc.wantStatus, tc.wantCode, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "tok@") {
				t.Errorf("the answer echoes the URL's credentials: %s", rec.Body)
			}
		})
	}
	// Only the first connection made a secret.
	if names := f.sm.SecretNames(); len(names) != 1 {
		t.Errorf("secrets: %v", names)
	}
}
