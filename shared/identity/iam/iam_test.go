package iam_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/identity/iam"
	"github.com/runyard/runyard/shared/identity/identitytest"
)

func newManager(tb testing.TB) (*identitytest.FakeIAM, *iam.Manager) {
	f, a, p := identitytest.NewFake(tb)
	return f, iam.NewFromClients(a, p)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	identitytest.Run(t, func(tb testing.TB) identity.Manager { _, m := newManager(tb); return m })
}

func TestEnsureCreatesNamedAccount(t *testing.T) {
	t.Parallel()
	f, m := newManager(t)
	email, err := m.Ensure(context.Background(), "acme-corp", "cell-project")
	if err != nil {
		t.Fatal(err)
	}
	a := f.Account(email)
	if a == nil || a.GetDisplayName() != "Runyard tenant acme-corp" || !strings.Contains(a.GetDescription(), "tenant=acme-corp") {
		t.Fatalf("account = %v", a)
	}
	if email != "rt-acme-corp@cell-project.iam.gserviceaccount.com" {
		t.Fatalf("email = %s", email)
	}
}

func TestConcurrentEnsureCreatesOnce(t *testing.T) {
	t.Parallel()
	f, m := newManager(t)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := m.Ensure(context.Background(), "racer", "cell-project"); err != nil {
				t.Errorf("Ensure: %v", err)
			}
		})
	}
	wg.Wait()
	if got := f.Accounts(); len(got) != 1 {
		t.Fatalf("accounts = %v, want one", got)
	}
	if n := f.Calls("CreateServiceAccount"); n != 12 {
		t.Fatalf("CreateServiceAccount calls = %d, want 12 (11 AlreadyExists)", n)
	}
}

func TestForeignAccountRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// An account with the tenant's id made by someone else (its display name differs).
	f2, a, p := identitytest.NewFake(t)
	m := iam.NewFromClients(a, p)
	if _, err := a.CreateServiceAccount(ctx, createReq("rt-victim", "cell-project", "not runyard")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(ctx, "victim", "cell-project"); !errors.Is(err, identity.ErrForeign) {
		t.Fatalf("Ensure over a foreign account: %v, want ErrForeign (%s)", err, f2)
	}
}

func TestQuotaAndErrors(t *testing.T) {
	t.Parallel()
	f, m := newManager(t)
	ctx := context.Background()
	f.Quota = 1
	if _, err := m.Ensure(ctx, "first", "cell-project"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(ctx, "second", "cell-project"); !errors.Is(err, identity.ErrQuota) {
		t.Fatalf("Ensure over quota: %v, want ErrQuota", err)
	}
	if _, err := m.Ensure(ctx, "second", "other-project"); err != nil {
		t.Fatalf("another project has its own quota: %v", err)
	}
	f.FailNext("CreateServiceAccount", codes.PermissionDenied, 1)
	if _, err := m.Ensure(ctx, "third", "third-project"); !errors.Is(err, identity.ErrPermission) {
		t.Fatalf("denied: %v, want ErrPermission", err)
	}
	f.FailNext("CreateServiceAccount", codes.Unavailable, 1)
	if _, err := m.Ensure(ctx, "third", "third-project"); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("unavailable: %v, want ErrUnavailable", err)
	}
}

func TestProjectRoleConditionedAndRemoved(t *testing.T) {
	t.Parallel()
	f, m := newManager(t)
	ctx := context.Background()
	email, err := m.Ensure(ctx, "acme", "cell-project")
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Ensure(ctx, "other", "cell-project")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(other), nil); err != nil {
		t.Fatal(err)
	}
	cond := identity.VertexCondition("cell-project", "global", []string{"gemini-2.5-pro"})
	if err := m.SetProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email), cond); err != nil {
		t.Fatal(err)
	}
	writes := f.Calls("SetIamPolicy")
	if err := m.SetProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email), cond); err != nil {
		t.Fatal(err)
	}
	if f.Calls("SetIamPolicy") != writes {
		t.Fatal("an unchanged grant wrote the policy again")
	}
	pol := f.ProjectPolicy("cell-project")
	if pol.GetVersion() != 3 {
		t.Fatalf("policy version %d, want 3", pol.GetVersion())
	}
	want := []*iampb.Binding{
		{Role: identity.RoleVertexUser, Members: []string{identity.Member(other)}},
		{Role: identity.RoleVertexUser, Members: []string{identity.Member(email)}, Condition: pol.GetBindings()[1].GetCondition()},
	}
	if diff := cmp.Diff(want, pol.GetBindings(), protocmp.Transform()); diff != "" {
		t.Fatalf("bindings (-want +got):\n%s", diff)
	}
	if got := pol.GetBindings()[1].GetCondition().GetExpression(); !strings.Contains(got, `"projects/cell-project/locations/global/publishers/google/models/gemini-2.5-pro"`) {
		t.Fatalf("condition = %s", got)
	}
	// A new model list replaces the condition, not adds a second binding.
	cond2 := identity.VertexCondition("cell-project", "global", []string{"gemini-2.5-flash"})
	if err := m.SetProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email), cond2); err != nil {
		t.Fatal(err)
	}
	if got := len(f.ProjectPolicy("cell-project").GetBindings()); got != 2 {
		t.Fatalf("%d bindings after changing the models, want 2", got)
	}
	if err := m.RemoveProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email)); err != nil {
		t.Fatal(err)
	}
	got := f.ProjectPolicy("cell-project").GetBindings()
	if len(got) != 1 || got[0].GetMembers()[0] != identity.Member(other) {
		t.Fatalf("after removal: %v", got)
	}
}

func TestProjectRoleRetriesOnConcurrentChange(t *testing.T) {
	t.Parallel()
	f, m := newManager(t)
	ctx := context.Background()
	email, err := m.Ensure(ctx, "acme", "cell-project")
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext("SetIamPolicy", codes.Aborted, 2)
	if err := m.SetProjectRole(ctx, "cell-project", "roles/viewer", identity.Member(email), nil); err != nil {
		t.Fatalf("SetProjectRole after 2 aborts: %v", err)
	}
	if n := f.Calls("SetIamPolicy"); n != 3 {
		t.Fatalf("SetIamPolicy calls = %d, want 3", n)
	}
	f.FailNext("SetIamPolicy", codes.Aborted, 10)
	if err := m.SetProjectRole(ctx, "cell-project", "roles/editor", identity.Member(email), nil); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("SetProjectRole under endless contention: %v, want ErrUnavailable", err)
	}
}
