package repos_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/repos/repostest"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/tenancy"
)

type fixture struct {
	st    store.Store
	sec   secrets.Manager
	sm    *secretstest.FakeSecretManager
	svc   *repos.Service
	hooks *repos.Hooks
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	st := storetest.NewEmulatorStore(tb)
	sm, client := secretstest.NewFake(tb)
	sec := secretmanager.NewFromClient(client, "test")
	ten := repostest.Tenant(tb, st, "acme")
	repostest.Tenant(tb, st, "other")
	svc, err := repos.NewService(st, sec, ten, repostest.Config())
	if err != nil {
		tb.Fatal(err)
	}
	hooks, err := repos.NewHooks(st, sec, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{st: st, sec: sec, sm: sm, svc: svc, hooks: hooks}
}

// audit returns the tenant's audit events of the repos actions, oldest first.
func (f *fixture) audit(tb testing.TB, tenant string) []tenancy.AuditEvent {
	tb.Helper()
	evs, _, err := store.ListOf[tenancy.AuditEvent](context.Background(), f.st, tenant, tenancy.KindAudit, store.Query{Limit: store.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	var out []tenancy.AuditEvent
	for i := len(evs) - 1; i >= 0; i-- {
		if strings.HasPrefix(evs[i].Target, "repos") {
			out = append(out, evs[i])
		}
	}
	return out
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r, secret, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app.git", "")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	want := repos.Repo{ID: r.ID, Provider: "github", RepoURL: "https://github.com/acme/app", DefaultBranch: "main",
		CreatedBy: repostest.Admin.Email, HookSecretRef: "RUNYARD_REPO_" + strings.ToUpper(r.ID),
		HookURL: "https://hooks.runyard.test/githubhook/v1/hooks/acme/" + r.ID}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreFields(repos.Repo{}, "CreatedAt")); diff != "" {
		t.Errorf("Connect (-want +got):\n%s", diff)
	}
	if len(secret) != 64 {
		t.Errorf("secret has %d characters, want 64 hex", len(secret))
	}
	// The secret is in the secrets backend, and only there.
	secretstest.WantValue(t, f.sec, "acme", r.HookSecretRef, secrets.Latest, []byte(secret))
	got, err := f.svc.Get(ctx, repostest.Member, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Get (-connect +get):\n%s", diff)
	}
	if strings.Contains(secretstest.Printed(got), secret) {
		t.Error("the record holds the secret")
	}
	// The webhook side finds it with the same secret.
	hr, hs, err := f.hooks.Lookup(ctx, "acme", r.ID)
	if err != nil || string(hs) != secret || hr.ID != r.ID {
		t.Errorf("Lookup = %+v, %v", hr, err)
	}
	r2, _, err := f.svc.Connect(ctx, repostest.Owner, "acme", "https://github.com/acme/api", "develop")
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.List(ctx, repostest.Member, "acme", store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID+" "+it.DefaultBranch)
	}
	if diff := cmp.Diff([]string{r.ID + " main", r2.ID + " develop"}, ids); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	// Other tenants see nothing.
	if page, err := f.svc.List(ctx, repostest.Owner, "other", store.Query{}); err != nil || len(page.Items) != 0 {
		t.Errorf("other tenant's list: %+v, %v", page, err)
	}
	if _, err := f.svc.Get(ctx, repostest.Owner, "other", r.ID); !errors.Is(err, repos.ErrNotFound) {
		t.Errorf("other tenant's Get = %v, want ErrNotFound", err)
	}

	if err := f.svc.Disconnect(ctx, repostest.Admin, "acme", r.ID); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if _, err := f.sec.Access(ctx, "acme", r.HookSecretRef, secrets.Latest); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("secret after disconnect: %v", err)
	}
	if _, _, err := f.hooks.Lookup(ctx, "acme", r.ID); !errors.Is(err, repos.ErrNotFound) {
		t.Errorf("Lookup after disconnect = %v", err)
	}
	if err := f.svc.Disconnect(ctx, repostest.Admin, "acme", r.ID); !errors.Is(err, repos.ErrNotFound) {
		t.Errorf("second Disconnect = %v, want ErrNotFound", err)
	}
	// The URL may be connected again, with a new id and a new secret.
	r3, secret3, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", "")
	if err != nil || r3.ID == r.ID || secret3 == secret {
		t.Errorf("reconnect: %+v, %v", r3, err)
	}

	type ev struct{ Actor, Action, Target, Outcome, Reason string }
	var evs []ev
	for _, e := range f.audit(t, "acme") {
		evs = append(evs, ev{e.Actor, e.Action, e.Target, e.Outcome, e.Reason})
	}
	wantEvs := []ev{
		{repostest.Admin.Email, "repos.write", "repos/" + r.ID, "success", "connect https://github.com/acme/app"},
		{repostest.Owner.Email, "repos.write", "repos/" + r2.ID, "success", "connect https://github.com/acme/api"},
		{repostest.Admin.Email, "repos.write", "repos/" + r.ID, "success", "disconnect https://github.com/acme/app"},
		{repostest.Admin.Email, "repos.write", "repos/" + r3.ID, "success", "connect https://github.com/acme/app"},
	}
	if diff := cmp.Diff(wantEvs, evs); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	for _, e := range f.audit(t, "acme") {
		if strings.Contains(secretstest.Printed(e), secret) {
			t.Error("an audit event holds the secret")
		}
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	existing, _, err := f.svc.Connect(ctx, repostest.Owner, "acme", "https://github.com/acme/existing", "")
	if err != nil {
		t.Fatal(err)
	}
	outsider := tenancy.Caller{Kind: tenancy.CallerUser, Email: "eve@evil.test"}
	key := tenancy.Caller{Kind: tenancy.CallerAPIKey, Tenant: "acme", KeyID: "k1"}
	otherKey := tenancy.Caller{Kind: tenancy.CallerAPIKey, Tenant: "other", KeyID: "k1"}
	tests := []struct {
		name     string
		c        tenancy.Caller
		listErr  error
		writeErr error
	}{
		{"owner", repostest.Owner, nil, nil},
		{"admin", repostest.Admin, nil, nil},
		{"member", repostest.Member, nil, tenancy.ErrForbidden},
		{"api key", key, tenancy.ErrForbidden, tenancy.ErrForbidden},
		{"outsider", outsider, tenancy.ErrTenantNotFound, tenancy.ErrTenantNotFound},
		{"other tenant's key", otherKey, tenancy.ErrTenantNotFound, tenancy.ErrTenantNotFound},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.List(ctx, tc.c, "acme", store.Query{})
			if !errors.Is(err, tc.listErr) || (tc.listErr == nil) != (err == nil) {
				t.Errorf("List = %v, want %v", err, tc.listErr)
			}
			_, err = f.svc.Get(ctx, tc.c, "acme", existing.ID)
			if !errors.Is(err, tc.listErr) || (tc.listErr == nil) != (err == nil) {
				t.Errorf("Get = %v, want %v", err, tc.listErr)
			}
			r, secret, err := f.svc.Connect(ctx, tc.c, "acme", "https://github.com/acme/r"+string(rune('a'+i)), "")
			if !errors.Is(err, tc.writeErr) || (tc.writeErr == nil) != (err == nil) {
				t.Fatalf("Connect = %v, want %v", err, tc.writeErr)
			}
			if err != nil {
				if secret != "" || r.ID != "" {
					t.Errorf("denied Connect returned %+v %q", r, secret)
				}
				if err := f.svc.Disconnect(ctx, tc.c, "acme", existing.ID); !errors.Is(err, tc.writeErr) {
					t.Errorf("Disconnect = %v, want %v", err, tc.writeErr)
				}
				return
			}
			if err := f.svc.Disconnect(ctx, tc.c, "acme", r.ID); err != nil {
				t.Errorf("Disconnect = %v", err)
			}
		})
	}
	if _, err := f.svc.Get(ctx, repostest.Owner, "acme", existing.ID); err != nil {
		t.Errorf("denied disconnects removed the connection: %v", err)
	}
	// No secret was made for a denied connect: only the existing one is left.
	if names := f.sm.SecretNames(); len(names) != 1 {
		t.Errorf("secrets left: %v", names)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tenant, url, branch string
		wantErr                   error
	}{
		{"duplicate", "acme", "https://github.com/acme/app", "", repos.ErrExists},
		{"duplicate in other case", "acme", "https://github.com/ACME/App.git", "", repos.ErrExists},
		{"bad url", "acme", "http://github.com/acme/x", "", repos.ErrInvalidURL},
		{"disallowed host", "acme", "https://example.com/acme/x", "", repos.ErrInvalidURL},
		{"bad branch", "acme", "https://github.com/acme/x", "a..b", repos.ErrInvalidBranch},
		{"no such tenant", "nosuch", "https://github.com/acme/x", "", tenancy.ErrTenantNotFound},
		{"bad tenant", "NO", "https://github.com/acme/x", "", tenancy.ErrInvalidID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.svc.Connect(ctx, repostest.Owner, tc.tenant, tc.url, tc.branch)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Connect = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// The same URL in another tenant is fine.
	if _, _, err := f.svc.Connect(ctx, repostest.Owner, "other", "https://github.com/acme/app", ""); err != nil {
		t.Errorf("Connect in other tenant = %v", err)
	}
	if got := len(f.sm.SecretNames()); got != 2 {
		t.Errorf("%d secrets, want 2 (failed connects leave none)", got)
	}
}

func TestSecretsBackendDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.sm.FailNext("CreateSecret", codes.Unavailable, 1)
	_, _, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", "")
	if !errors.Is(err, repos.ErrUnavailable) {
		t.Fatalf("Connect with Secret Manager down = %v, want ErrUnavailable", err)
	}
	page, err := f.svc.List(ctx, repostest.Admin, "acme", store.Query{})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("a failed connect left %+v, %v", page, err)
	}
	evs := f.audit(t, "acme")
	if len(evs) != 1 || evs[0].Outcome != tenancy.OutcomeFailure {
		t.Errorf("audit: %+v", evs)
	}
	r, _, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", "")
	if err != nil {
		t.Fatalf("Connect after recovery: %v", err)
	}
	f.sm.FailNext("DeleteSecret", codes.Unavailable, 1)
	if err := f.svc.Disconnect(ctx, repostest.Admin, "acme", r.ID); !errors.Is(err, repos.ErrUnavailable) {
		t.Fatalf("Disconnect with Secret Manager down = %v", err)
	}
	if _, err := f.svc.Get(ctx, repostest.Admin, "acme", r.ID); err != nil {
		t.Errorf("a failed disconnect removed the record: %v", err)
	}
}

func TestHooksLookupUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r, _, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tenant, id string }{
		{"other", r.ID}, {"nosuch", r.ID}, {"acme", "nosuch"}, {"ACME", r.ID}, {"acme", "../x"}, {"", ""}, {"acme", strings.Repeat("a", 33)},
	} {
		if _, _, err := f.hooks.Lookup(ctx, tc.tenant, tc.id); !errors.Is(err, repos.ErrNotFound) {
			t.Errorf("Lookup(%q, %q) = %v, want ErrNotFound", tc.tenant, tc.id, err)
		}
	}
	// A connection whose secret is gone (a disconnect half done) is not found either.
	if err := f.sec.Delete(ctx, "acme", r.HookSecretRef); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.hooks.Lookup(ctx, "acme", r.ID); !errors.Is(err, repos.ErrNotFound) {
		t.Errorf("Lookup without secret = %v, want ErrNotFound", err)
	}
}
