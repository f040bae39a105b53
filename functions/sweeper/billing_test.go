package sweeper_test

import (
	"context"
	"testing"

	"github.com/runyard/runyard/functions/sweeper"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

func (f *fixture) setAccount(t *testing.T, tenant string, a billing.Account) {
	t.Helper()
	a.Tenant = tenant
	if _, err := f.st.Put(context.Background(), billing.AccountKey(tenant), a, store.Version{}); err != nil {
		t.Fatal(err)
	}
}

// TestPausesBlockedTenants: a tick pauses the running (not idle) runtimes of a tenant that is
// past due, and of one at its budget, and leaves other tenants' running; a tenant that pays
// again is left alone.
func TestPausesBlockedTenants(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, sweeper.Config{})
	acme := f.running(t, "acme")
	other := f.running(t, "other")
	f.tick(t)
	if got := f.outcome(t, acme); got.State != runtime.StateRunning {
		t.Fatalf("a paying tenant's runtime was touched: %+v", got)
	}

	f.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusPastDue})
	f.tick(t)
	if got, want := f.outcome(t, acme), (outcome{State: runtime.StatePaused, Service: true, Paused: true}); got != want {
		t.Errorf("past-due tenant's runtime: %+v, want %+v", got, want)
	}
	if got := f.outcome(t, other); got.State != runtime.StateRunning || got.Paused {
		t.Errorf("other tenant's runtime: %+v", got)
	}

	// Paid again, a runtime runs; then a $0 budget: paused at the next tick.
	f.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusActive})
	again := f.running(t, "acme")
	f.tick(t)
	if got := f.outcome(t, again); got.State != runtime.StateRunning {
		t.Fatalf("paid tenant's runtime: %+v", got)
	}
	bill, err := billing.NewService(f.st, billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	zero := billing.MicroUSD(0)
	if _, err := bill.SetBudget(context.Background(), tenancy.Caller{Kind: tenancy.CallerUser, Email: "o@acme.test"}, "acme", &zero); err != nil {
		t.Fatal(err)
	}
	f.tick(t)
	if got := f.outcome(t, again); got.State != runtime.StatePaused || !got.Paused {
		t.Errorf("over-budget tenant's runtime: %+v", got)
	}
	if got := f.outcome(t, other); got.State != runtime.StateRunning {
		t.Errorf("other tenant's runtime: %+v", got)
	}
}
