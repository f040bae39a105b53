package api

// The repository endpoints are tested from inside the package: they are mounted here on the
// same stack Build makes (tenancy, authn with real ID tokens, Secret Manager behind its real
// client, the Firestore emulator), beside the existing routes, so the tests need no wiring in
// Build or Routes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/auth/authtest"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/repos/repostest"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/tenancy"
)

// reposEnv is the api with the repository endpoints mounted, over its own emulator project,
// with tenant "acme" (owner, admin, member, an API key, a revoked key) and tenant "other".
type reposEnv struct {
	h                                http.Handler
	sm                               *secretstest.FakeSecretManager
	ten                              *tenancy.Service
	owner, admin, member, otherOwner string // Authorization values
	key, revokedKey, otherKey        string // Authorization values with API keys
}

func newReposEnv(tb testing.TB) *reposEnv {
	tb.Helper()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(tb)
	g := authtest.NewGoogle(tb)
	sm, smClient := secretstest.NewFake(tb)
	sec := secretmanager.NewFromClient(smClient, "test")
	cfg := Config{ProjectID: "test", Audiences: []string{authtest.DefaultAudience}, RequestTimeout: time.Minute, MaxBodyBytes: DefaultMaxBodyBytes}
	ten, err := tenancy.NewService(st, authn.NewAPIKey, tenancy.WithSecrets(sec))
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := auth.NewIDTokenVerifier(ctx, cfg.Audiences, g.ClientOption())
	if err != nil {
		tb.Fatal(err)
	}
	an, err := authn.New(ten, ids, nil)
	if err != nil {
		tb.Fatal(err)
	}
	// A Server of only what the repository endpoints use, so this test does not depend on
	// the other resources' wiring.
	s := &Server{cfg: cfg, tenancy: ten, authn: an}
	svc, err := repos.NewService(st, sec, repostest.Authorizer(ten), repostest.Config())
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	s.mountRepos(mux, svc)
	mux.Handle("/", httpx.NotFoundHandler(mux))
	e := &reposEnv{h: httpx.Stack(mux, httpx.Options{Logger: slog.New(slog.DiscardHandler), MaxBody: cfg.MaxBodyBytes}), sm: sm, ten: ten}
	bearer := func(email string) string { return "Bearer " + g.IDToken(tb, authtest.Claims{Email: email}) }
	e.owner, e.admin, e.member, e.otherOwner = bearer(repostest.Owner.Email), bearer(repostest.Admin.Email), bearer(repostest.Member.Email), bearer("boss@other.test")
	repostest.Tenant(tb, st, "acme")
	other := tenancy.Caller{Kind: tenancy.CallerUser, Email: "boss@other.test"}
	if _, err := ten.CreateTenant(ctx, other, "other", "Other"); err != nil {
		tb.Fatal(err)
	}
	key := func(c tenancy.Caller, tenant string, revoke bool) string {
		k, plaintext, err := ten.CreateAPIKey(ctx, c, tenant, "k", nil)
		if err != nil {
			tb.Fatal(err)
		}
		if revoke {
			if err := ten.RevokeAPIKey(ctx, c, tenant, k.ID); err != nil {
				tb.Fatal(err)
			}
		}
		return "Bearer " + plaintext
	}
	e.key, e.revokedKey, e.otherKey = key(repostest.Owner, "acme", false), key(repostest.Owner, "acme", true), key(other, "other", false)
	return e
}

func (e *reposEnv) do(tb testing.TB, method, path, cred string, body any) *httptest.ResponseRecorder {
	tb.Helper()
	var r *bytes.Reader
	switch b := body.(type) {
	case nil:
		r = bytes.NewReader(nil)
	case string:
		r = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *reposEnv) must(tb testing.TB, want int, method, path, cred string, body, out any) {
	tb.Helper()
	rec := e.do(tb, method, path, cred, body)
	if rec.Code != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatalf("%s %s: decode %s: %v", method, path, rec.Body, err)
		}
	}
}

func envelopeCode(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var env httpx.Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		tb.Fatalf("not an error envelope (%v): %s", err, rec.Body)
	}
	return env.Error.Code
}

func TestReposLifecycle(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t)
	var created ConnectRepoResponse
	rec := e.do(t, "POST", "/v1/tenants/acme/repos", e.admin, ConnectRepoRequest{URL: "https://github.com/acme/app.git"})
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
	audit, err := e.ten.ListAudit(context.Background(), repostest.Owner, "acme", store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit.Items) == 0 || audit.Items[0].Action != string(repos.ActWrite) || audit.Items[0].Actor != repostest.Admin.Email {
		t.Errorf("newest audit event: %+v", audit.Items)
	}
	bodies = append(bodies, secretstest.Printed(audit))
	for _, p := range []string{"/v1/tenants/acme/repos/" + id, "/v1/tenants/acme/repos"} {
		rec := e.do(t, "GET", p, e.owner, nil)
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
	e.must(t, 200, "GET", "/v1/tenants/acme/repos/"+id, e.member, nil, &got)
	if diff := cmp.Diff(created.Repo, got); diff != "" {
		t.Errorf("GET (-created +got):\n%s", diff)
	}
	var page tenancy.Page[repos.Repo]
	e.must(t, 200, "GET", "/v1/tenants/acme/repos?limit=10", e.member, nil, &page)
	if len(page.Items) != 1 || page.Items[0].ID != id {
		t.Errorf("list: %+v", page)
	}
	if e.sm.Secret("projects/test/secrets/rt-acme-"+repos.SecretName(id)) == nil {
		t.Error("the signing secret is not in Secret Manager")
	}
	e.must(t, 204, "DELETE", "/v1/tenants/acme/repos/"+id, e.admin, nil, nil)
	if e.sm.Secret("projects/test/secrets/rt-acme-"+repos.SecretName(id)) != nil {
		t.Error("the signing secret survived the disconnect")
	}
	rec = e.do(t, "GET", "/v1/tenants/acme/repos/"+id, e.owner, nil)
	if rec.Code != 404 || envelopeCode(t, rec) != httpx.CodeNotFound {
		t.Errorf("GET after delete: %d %s", rec.Code, rec.Body)
	}
}

func TestReposAuthorization(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t)
	var fixture ConnectRepoResponse
	e.must(t, 201, "POST", "/v1/tenants/acme/repos", e.owner, ConnectRepoRequest{URL: "https://github.com/acme/fixture"}, &fixture)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", e.otherOwner}, {"other tenant's key", e.otherKey},
		{"member", e.member}, {"admin", e.admin}, {"owner", e.owner}, {"api key", e.key}, {"revoked key", e.revokedKey},
	}
	victims := make([]string, len(callers))
	for i := range callers {
		var v ConnectRepoResponse
		e.must(t, 201, "POST", "/v1/tenants/acme/repos", e.owner, ConnectRepoRequest{URL: fmt.Sprintf("https://github.com/acme/victim-%d", i)}, &v)
		victims[i] = v.ID
	}
	const u, n, f = 401, 404, 403
	tests := []struct {
		name, method string
		path         func(i int) string
		body         func(i int) any
		want         [8]int
	}{
		{"list", "GET", func(int) string { return "/v1/tenants/acme/repos" }, func(int) any { return nil }, [8]int{u, n, n, 200, 200, 200, f, u}},
		{"get", "GET", func(int) string { return "/v1/tenants/acme/repos/" + fixture.ID }, func(int) any { return nil }, [8]int{u, n, n, 200, 200, 200, f, u}},
		{"connect", "POST", func(int) string { return "/v1/tenants/acme/repos" },
			func(i int) any { return ConnectRepoRequest{URL: fmt.Sprintf("https://github.com/acme/new-%d", i)} }, [8]int{u, n, n, f, 201, 201, f, u}},
		{"disconnect", "DELETE", func(i int) string { return "/v1/tenants/acme/repos/" + victims[i] }, func(int) any { return nil }, [8]int{u, n, n, f, 204, 204, f, u}},
	}
	for _, tc := range tests {
		for i, c := range callers {
			rec := e.do(t, tc.method, tc.path(i), c.cred, tc.body(i))
			if rec.Code != tc.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, c.name, rec.Code, tc.want[i], rec.Body)
			} else if rec.Code >= 400 {
				envelopeCode(t, rec)
			}
		}
	}
	// Another tenant's repository is not found from this tenant, whoever asks.
	var theirs ConnectRepoResponse
	e.must(t, 201, "POST", "/v1/tenants/other/repos", e.otherOwner, ConnectRepoRequest{URL: "https://github.com/other/app"}, &theirs)
	for _, m := range []string{"GET", "DELETE"} {
		if rec := e.do(t, m, "/v1/tenants/acme/repos/"+theirs.ID, e.owner, nil); rec.Code != 404 {
			t.Errorf("%s of other tenant's repo through acme: %d %s", m, rec.Code, rec.Body)
		}
	}
}

func TestReposBadInput(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t)
	e.must(t, 201, "POST", "/v1/tenants/acme/repos", e.owner, ConnectRepoRequest{URL: "https://github.com/acme/app"}, nil)
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantCode           string
	}{
		{"http url", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "http://github.com/acme/x"}, 400, CodeInvalidRepoURL},
		{"credentials in url", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "https://tok@github.com/acme/x"}, 400, CodeInvalidRepoURL},
		{"other host", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "https://evil.test/acme/x"}, 400, CodeInvalidRepoURL},
		{"query", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "https://github.com/acme/x?a=1"}, 400, CodeInvalidRepoURL},
		{"no url", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{}, 400, CodeInvalidRepoURL},
		{"bad branch", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "https://github.com/acme/x", DefaultBranch: "a..b"}, 400, CodeInvalidBranch},
		{"duplicate", "POST", "/v1/tenants/acme/repos", ConnectRepoRequest{URL: "https://github.com/ACME/app/"}, 409, httpx.CodeAlreadyExists},
		{"unknown field", "POST", "/v1/tenants/acme/repos", `{"url":"https://github.com/acme/x","secret":"mine"}`, 400, httpx.CodeUnknownField},
		{"malformed json", "POST", "/v1/tenants/acme/repos", `{"url":`, 400, httpx.CodeMalformedJSON},
		{"url wrong type", "POST", "/v1/tenants/acme/repos", `{"url":1}`, 400, httpx.CodeInvalidArgument},
		{"bad id", "GET", "/v1/tenants/acme/repos/NOT_AN_ID", nil, 400, httpx.CodeInvalidID},
		{"unknown id", "GET", "/v1/tenants/acme/repos/nosuchrepo", nil, 404, httpx.CodeNotFound},
		{"delete unknown id", "DELETE", "/v1/tenants/acme/repos/nosuchrepo", nil, 404, httpx.CodeNotFound},
		{"bad tenant", "GET", "/v1/tenants/ACME/repos", nil, 400, httpx.CodeInvalidID},
		{"unknown tenant", "POST", "/v1/tenants/nosuch/repos", ConnectRepoRequest{URL: "https://github.com/acme/x"}, 404, CodeTenantNotFound},
		{"bad cursor", "GET", "/v1/tenants/acme/repos?cursor=garbage", nil, 400, httpx.CodeInvalidCursor},
		{"bad limit", "GET", "/v1/tenants/acme/repos?limit=0", nil, 400, httpx.CodeInvalidArgument},
		{"method", "PUT", "/v1/tenants/acme/repos", nil, 405, httpx.CodeMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(t, tc.method, tc.path, e.owner, tc.body)
			if rec.Code != tc.wantStatus || envelopeCode(t, rec) != tc.wantCode {
				t.Errorf("%d, want %d %s: %s", rec.Code, tc.wantStatus, tc.wantCode, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "tok@") {
				t.Errorf("the answer echoes the URL's credentials: %s", rec.Body)
			}
		})
	}
	// Only the first connection made a secret.
	if names := e.sm.SecretNames(); len(names) != 1 {
		t.Errorf("secrets: %v", names)
	}
}
