package secretmanager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
)

const project = "test-project"

// newManager returns a Manager over a fresh fake.
func newManager(tb testing.TB, cfg secretmanager.Config) (*secretmanager.Manager, *secretstest.FakeSecretManager) {
	tb.Helper()
	fake, client := secretstest.NewFake(tb)
	cfg.ProjectID = project
	return secretmanager.NewFromClientConfig(client, cfg), fake
}

func TestConformance(t *testing.T) {
	t.Parallel()
	secretstest.Run(t, func(tb testing.TB) secrets.Manager {
		m, _ := newManager(tb, secretmanager.Config{})
		return m
	})
}

func TestNewRequiresProject(t *testing.T) {
	t.Parallel()
	if _, err := secretmanager.New(context.Background(), ""); err == nil {
		t.Fatal("New without a project succeeded")
	}
}

func TestCreatedSecret(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	v := secretstest.MustPut(t, m, "acme", "OPENAI_API_KEY", []byte("v"))
	res := "projects/test-project/secrets/rt-acme-OPENAI_API_KEY"
	if v.Resource != res {
		t.Errorf("Resource = %q, want %q", v.Resource, res)
	}
	got := fake.Secret(res)
	want := &secretmanagerpb.Secret{
		Name: res,
		Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{
			Automatic: &secretmanagerpb.Replication_Automatic{},
		}},
		Labels: map[string]string{"tenant": "acme", "name": "openai_api_key", "managed-by": "runyard"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&secretmanagerpb.Secret{}, "create_time", "etag")); diff != "" {
		t.Errorf("stored secret (-want +got):\n%s", diff)
	}
	// A rotation is one call: AddSecretVersion, no CreateSecret.
	secretstest.MustPut(t, m, "acme", "OPENAI_API_KEY", []byte("v2"))
	if n := fake.Calls("CreateSecret"); n != 1 {
		t.Errorf("CreateSecret calls = %d, want 1", n)
	}
}

// TestCreateRace drives the path a concurrent first Put takes: AddSecretVersion says NotFound,
// CreateSecret says AlreadyExists (someone else created it), and the Put still succeeds.
func TestCreateRace(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, m, "acme", "RACE", []byte("one"))
	fake.FailNext("AddSecretVersion", codes.NotFound, 1)
	v := secretstest.MustPut(t, m, "acme", "RACE", []byte("two"))
	if v.Version != "2" {
		t.Errorf("version = %q, want 2", v.Version)
	}
	if n := fake.Calls("CreateSecret"); n != 2 {
		t.Errorf("CreateSecret calls = %d, want 2 (the second answered AlreadyExists)", n)
	}
	secretstest.WantValue(t, m, "acme", "RACE", "latest", []byte("two"))
}

// TestInjectedErrors maps each gRPC code to its sentinel, then shows the same call succeeding
// once the injected failure has passed.
func TestInjectedErrors(t *testing.T) {
	t.Parallel()
	const value = "injected-error-canary-value"
	type op func(ctx context.Context, m *secretmanager.Manager) error
	put := func(name string) op {
		return func(ctx context.Context, m *secretmanager.Manager) error {
			_, err := m.Put(ctx, "acme", name, []byte(value))
			return err
		}
	}
	access := func(ctx context.Context, m *secretmanager.Manager) error {
		_, err := m.Access(ctx, "acme", "EXISTING", "latest")
		return err
	}
	del := func(ctx context.Context, m *secretmanager.Manager) error { return m.Delete(ctx, "acme", "EXISTING") }
	delTenant := func(ctx context.Context, m *secretmanager.Manager) error {
		_, err := m.DeleteTenant(ctx, "acme")
		return err
	}
	grant := func(ctx context.Context, m *secretmanager.Manager) error {
		return m.GrantAccess(ctx, "acme", []string{"EXISTING"}, secretstest.Member)
	}
	tests := []struct {
		name    string
		method  string
		code    codes.Code
		n       int
		op      op
		wantErr error // nil: no sentinel
	}{
		{name: "add unavailable", method: "AddSecretVersion", code: codes.Unavailable, n: 1, op: put("EXISTING"), wantErr: secrets.ErrUnavailable},
		{name: "add deadline", method: "AddSecretVersion", code: codes.DeadlineExceeded, n: 1, op: put("EXISTING"), wantErr: secrets.ErrUnavailable},
		{name: "add exhausted", method: "AddSecretVersion", code: codes.ResourceExhausted, n: 1, op: put("EXISTING"), wantErr: secrets.ErrUnavailable},
		{name: "add internal", method: "AddSecretVersion", code: codes.Internal, n: 1, op: put("EXISTING"), wantErr: secrets.ErrUnavailable},
		{name: "add permission", method: "AddSecretVersion", code: codes.PermissionDenied, n: 1, op: put("EXISTING"), wantErr: secrets.ErrPermission},
		{name: "add invalid", method: "AddSecretVersion", code: codes.InvalidArgument, n: 1, op: put("EXISTING")},
		{name: "create permission", method: "CreateSecret", code: codes.PermissionDenied, n: 1, op: put("NEW"), wantErr: secrets.ErrPermission},
		{name: "create unavailable", method: "CreateSecret", code: codes.Unavailable, n: 1, op: put("NEW"), wantErr: secrets.ErrUnavailable},
		{name: "access internal", method: "AccessSecretVersion", code: codes.Internal, n: 1, op: access, wantErr: secrets.ErrUnavailable},
		{name: "access permission", method: "AccessSecretVersion", code: codes.PermissionDenied, n: 1, op: access, wantErr: secrets.ErrPermission},
		{name: "list versions unavailable", method: "ListSecretVersions", code: codes.Unavailable, n: 1, op: del, wantErr: secrets.ErrUnavailable},
		{name: "destroy unavailable", method: "DestroySecretVersion", code: codes.Unavailable, n: 1, op: del, wantErr: secrets.ErrUnavailable},
		{name: "delete unavailable", method: "DeleteSecret", code: codes.Unavailable, n: 1, op: del, wantErr: secrets.ErrUnavailable},
		{name: "list secrets unavailable", method: "ListSecrets", code: codes.Unavailable, n: 1, op: delTenant, wantErr: secrets.ErrUnavailable},
		{name: "list secrets permission", method: "ListSecrets", code: codes.PermissionDenied, n: 1, op: delTenant, wantErr: secrets.ErrPermission},
		{name: "get policy permission", method: "GetIamPolicy", code: codes.PermissionDenied, n: 1, op: grant, wantErr: secrets.ErrPermission},
		{name: "set policy unavailable", method: "SetIamPolicy", code: codes.Unavailable, n: 1, op: grant, wantErr: secrets.ErrUnavailable},
		{name: "set policy keeps aborting", method: "SetIamPolicy", code: codes.Aborted, n: 5, op: grant, wantErr: secrets.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, fake := newManager(t, secretmanager.Config{})
			secretstest.MustPut(t, m, "acme", "EXISTING", []byte(value))
			fake.FailNext(tc.method, tc.code, tc.n)
			err := tc.op(ctx, m)
			if err == nil {
				t.Fatalf("error = nil, want %v", tc.wantErr)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && secrets.Code(err) != "" {
				t.Fatalf("error = %v maps to %q, want no sentinel", err, secrets.Code(err))
			}
			secretstest.NoValueIn(t, tc.name, err, []byte(value))
			if err := tc.op(ctx, m); err != nil {
				t.Fatalf("after the injected failure: %v", err)
			}
		})
	}
}

// TestAccessRetriedByClient: the generated client retries AccessSecretVersion on Unavailable.
func TestAccessRetriedByClient(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, m, "acme", "A", []byte("a"))
	fake.FailNext("AccessSecretVersion", codes.Unavailable, 1)
	secretstest.WantValue(t, m, "acme", "A", "latest", []byte("a"))
	if n := fake.Calls("AccessSecretVersion"); n != 2 {
		t.Errorf("AccessSecretVersion calls = %d, want 2", n)
	}
}

// TestCallTimeout: with a short per-call timeout, a backend that keeps failing (and is retried by
// the client) ends in ErrUnavailable instead of hanging.
func TestCallTimeout(t *testing.T) {
	t.Parallel()
	setup, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, setup, "acme", "A", []byte("a"))
	// Only the call under test gets the short timeout (a setup call could exceed it on a busy
	// machine).
	m := secretmanager.NewFromClientConfig(fake.Client(t), secretmanager.Config{ProjectID: project, CallTimeout: 50 * time.Millisecond})
	fake.FailNext("AccessSecretVersion", codes.Unavailable, 1000)
	_, err := m.Access(context.Background(), "acme", "A", "latest")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Access = %v, want ErrUnavailable", err)
	}
}

// TestDeleteDestroysFirst: when DeleteSecret fails, every version is already destroyed, so the
// values are gone; Delete can be retried.
func TestDeleteDestroysFirst(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	for _, v := range []string{"a", "b", "c"} {
		secretstest.MustPut(t, m, "acme", "D", []byte(v))
	}
	fake.FailNext("DeleteSecret", codes.Unavailable, 1)
	err := m.Delete(context.Background(), "acme", "D")
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Delete = %v, want ErrUnavailable", err)
	}
	res := "projects/test-project/secrets/rt-acme-D"
	d := secretmanagerpb.SecretVersion_DESTROYED
	if diff := cmp.Diff([]secretmanagerpb.SecretVersion_State{d, d, d}, fake.VersionStates(res)); diff != "" {
		t.Errorf("version states (-want +got):\n%s", diff)
	}
	_, err = m.Access(context.Background(), "acme", "D", "latest")
	secretstest.WantErr(t, "Access of a destroyed version", err, secrets.ErrNotFound)
	if err := m.Delete(context.Background(), "acme", "D"); err != nil {
		t.Fatalf("second Delete = %v", err)
	}
	if s := fake.Secret(res); s != nil {
		t.Errorf("secret still exists")
	}
}

// TestDeleteTenantSelection: DeleteTenant pages through the list and deletes only secrets whose
// labels and id both belong to the tenant.
func TestDeleteTenantSelection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake, client := secretstest.NewFake(t)
	m := secretmanager.NewFromClient(client, project)
	const many = 105 // more than one page of 100
	for i := range many {
		secretstest.MustPut(t, m, "acme", fmt.Sprintf("S_%03d", i), []byte("v"))
	}
	secretstest.MustPut(t, m, "acme-corp", "S_000", []byte("v"))
	// Not Runyard's (no managed-by label) and labelled acme but not named rt-acme-…: both kept.
	for id, labels := range map[string]map[string]string{
		"rt-acme-FOREIGN": {"tenant": "acme"},
		"other-secret":    {"tenant": "acme", "managed-by": "runyard"},
	} {
		_, err := client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent: "projects/" + project, SecretId: id,
			Secret: &secretmanagerpb.Secret{
				Labels:      labels,
				Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.DeleteTenant(ctx, "acme")
	if err != nil || n != many {
		t.Fatalf("DeleteTenant = %d, %v; want %d", n, err, many)
	}
	want := []string{
		"projects/test-project/secrets/other-secret",
		"projects/test-project/secrets/rt-acme-FOREIGN",
		"projects/test-project/secrets/rt-acme-corp-S_000",
	}
	if diff := cmp.Diff(want, fake.SecretNames()); diff != "" {
		t.Errorf("secrets left (-want +got):\n%s", diff)
	}
	if c := fake.Calls("ListSecrets"); c < 2 {
		t.Errorf("ListSecrets calls = %d, want at least 2 pages", c)
	}
}

func TestGrantAccessPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, fake := newManager(t, secretmanager.Config{})
	for _, n := range []string{"A", "B", "C"} {
		secretstest.MustPut(t, m, "acme", n, []byte("v"))
	}
	resA := "projects/test-project/secrets/rt-acme-A"
	// An existing, unrelated binding on A must survive.
	other := &iampb.Binding{Role: "roles/secretmanager.viewer", Members: []string{"group:ops@example.com"}}
	if err := m.GrantAccess(ctx, "acme", []string{"A"}, "user:first@example.com"); err != nil {
		t.Fatal(err)
	}
	p := fake.Policy(resA)
	p.Bindings = append(p.Bindings, other)
	client := fake.Client(t)
	if _, err := client.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resA, Policy: p}); err != nil {
		t.Fatal(err)
	}

	if err := m.GrantAccess(ctx, "acme", []string{"A", "B"}, secretstest.Member); err != nil {
		t.Fatal(err)
	}
	sets := fake.Calls("SetIamPolicy")
	if err := m.GrantAccess(ctx, "acme", []string{"B", "A"}, secretstest.Member); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls("SetIamPolicy"); got != sets {
		t.Errorf("a repeated grant wrote %d policies, want none", got-sets)
	}

	want := &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{
		{Role: secrets.AccessorRole, Members: []string{"user:first@example.com", secretstest.Member}},
		other,
	}}
	if diff := cmp.Diff(want, fake.Policy(resA), protocmp.Transform(), protocmp.IgnoreFields(&iampb.Policy{}, "etag")); diff != "" {
		t.Errorf("policy of A (-want +got):\n%s", diff)
	}
	wantRes := []string{resA, "projects/test-project/secrets/rt-acme-B"}
	if diff := cmp.Diff(wantRes, fake.PoliciesWithMember(secrets.AccessorRole, secretstest.Member)); diff != "" {
		t.Errorf("secrets the member can access (-want +got):\n%s", diff)
	}
	if n := fake.ProjectPolicyCalls(); n != 0 {
		t.Errorf("%d IAM calls on something other than a secret", n)
	}
}

// TestGrantAccessEtagConflict: a stale etag (Aborted) makes GrantAccess read the policy again.
func TestGrantAccessEtagConflict(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, m, "acme", "A", []byte("v"))
	fake.FailNext("SetIamPolicy", codes.Aborted, 2)
	if err := m.GrantAccess(context.Background(), "acme", []string{"A"}, secretstest.Member); err != nil {
		t.Fatalf("GrantAccess = %v", err)
	}
	if got := fake.Calls("GetIamPolicy"); got != 3 {
		t.Errorf("GetIamPolicy calls = %d, want 3 (one per attempt)", got)
	}
	if diff := cmp.Diff([]string{secretstest.Member}, fake.Members("projects/test-project/secrets/rt-acme-A", secrets.AccessorRole)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
}

// TestFakeStaleEtag checks the fake itself: SetIamPolicy with an old etag is Aborted.
func TestFakeStaleEtag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, m, "acme", "A", []byte("v"))
	client := fake.Client(t)
	res := "projects/test-project/secrets/rt-acme-A"
	p, err := client.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.GrantAccess(ctx, "acme", []string{"A"}, secretstest.Member); err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/owner", Members: []string{"user:x@example.com"}})
	if _, err := client.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: p}); err == nil {
		t.Fatal("SetIamPolicy with a stale etag succeeded")
	}
}

// TestGrantAccessAllOrNothing: a missing name fails the call before any policy is written, and
// the error names every missing secret.
func TestGrantAccessAllOrNothing(t *testing.T) {
	t.Parallel()
	m, fake := newManager(t, secretmanager.Config{})
	secretstest.MustPut(t, m, "acme", "A", []byte("v"))
	err := m.GrantAccess(context.Background(), "acme", []string{"A", "NOPE", "GONE"}, secretstest.Member)
	secretstest.WantErr(t, "GrantAccess", err, secrets.ErrNotFound)
	for _, n := range []string{"NOPE", "GONE"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
	if n := fake.Calls("SetIamPolicy"); n != 0 {
		t.Errorf("SetIamPolicy calls = %d, want 0", n)
	}
}
