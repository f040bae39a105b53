package identitytest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/runyard/runyard/shared/identity"
)

// Run is the conformance suite every identity.Manager passes; newManager returns a fresh one.
func Run(t *testing.T, newManager func(tb testing.TB) identity.Manager) {
	ctx := context.Background()
	t.Run("EnsureIsIdempotent", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		first, err := m.Ensure(ctx, "acme", "cell-project")
		if err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		if want := identity.Email("acme", "cell-project"); first != want {
			t.Fatalf("Ensure = %q, want %q", first, want)
		}
		again, err := m.Ensure(ctx, "acme", "cell-project")
		if err != nil || again != first {
			t.Fatalf("second Ensure = %q, %v; want %q", again, err, first)
		}
		got, err := m.Lookup(ctx, "acme", "cell-project")
		if err != nil || got != first {
			t.Fatalf("Lookup = %q, %v; want %q", got, err, first)
		}
	})
	t.Run("ConcurrentEnsure", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		const n = 16
		emails := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { emails[i], errs[i] = m.Ensure(ctx, "concurrent-tenant", "cell-project") })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || emails[i] != identity.Email("concurrent-tenant", "cell-project") {
				t.Fatalf("Ensure %d = %q, %v", i, emails[i], errs[i])
			}
		}
	})
	t.Run("LookupAndDelete", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		if _, err := m.Lookup(ctx, "nobody", "cell-project"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("Lookup of a missing account: %v, want ErrNotFound", err)
		}
		if err := m.Delete(ctx, "nobody", "cell-project"); err != nil {
			t.Fatalf("Delete of a missing account: %v", err)
		}
		if _, err := m.Ensure(ctx, "gone", "cell-project"); err != nil {
			t.Fatal(err)
		}
		if err := m.Delete(ctx, "gone", "cell-project"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := m.Lookup(ctx, "gone", "cell-project"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("Lookup after Delete: %v, want ErrNotFound", err)
		}
	})
	t.Run("SameTenantOtherProject", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		a, err := m.Ensure(ctx, "acme", "cell-project")
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Ensure(ctx, "acme", "other-project")
		if err != nil || a == b {
			t.Fatalf("Ensure in a second project = %q, %v (first %q)", b, err, a)
		}
		if err := m.Delete(ctx, "acme", "other-project"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lookup(ctx, "acme", "cell-project"); err != nil {
			t.Fatalf("deleting the other project's account touched this one: %v", err)
		}
	})
	t.Run("InvalidTenant", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		for _, bad := range []string{"", "A-B", "x", "-lead"} {
			if _, err := m.Ensure(ctx, bad, "cell-project"); !errors.Is(err, identity.ErrInvalid) {
				t.Errorf("Ensure(%q): %v, want ErrInvalid", bad, err)
			}
		}
	})
	t.Run("ProjectRoles", func(t *testing.T) {
		t.Parallel()
		m := newManager(t)
		email, err := m.Ensure(ctx, "acme", "cell-project")
		if err != nil {
			t.Fatal(err)
		}
		cond := &identity.Condition{Title: "t", Expression: `resource.name == "x"`}
		for range 2 {
			if err := m.SetProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email), cond); err != nil {
				t.Fatalf("SetProjectRole: %v", err)
			}
		}
		for range 2 {
			if err := m.RemoveProjectRole(ctx, "cell-project", identity.RoleVertexUser, identity.Member(email)); err != nil {
				t.Fatalf("RemoveProjectRole: %v", err)
			}
		}
	})
}
