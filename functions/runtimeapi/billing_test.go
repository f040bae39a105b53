package runtimeapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// setAccount writes tenant's billing account as Stripe's webhooks would leave it.
func (e *env) setAccount(tb testing.TB, tenant string, a billing.Account) {
	tb.Helper()
	a.Tenant = tenant
	if _, err := e.st.Put(context.Background(), billing.AccountKey(tenant), a, store.Version{}); err != nil {
		tb.Fatal(err)
	}
}

// TestPaymentAndBudget: a past-due tenant can neither start nor resume a runtime (402, with
// OpenHands' {"detail"} body), a tenant at its budget gets 429, and other tenants are not
// affected.
func TestPaymentAndBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	var started rt
	e.must(t, 200, "acme", "POST", "/start", v1Start("pay-1"), &started)
	e.run.SetReady(svcName(started.RuntimeID))
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, nil)
	e.must(t, 200, "acme", "POST", "/pause", map[string]string{"runtime_id": started.RuntimeID}, nil)

	e.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusPastDue})
	for _, tc := range []struct {
		name, path string
		body       any
	}{
		{"new session", "/start", v1Start("pay-2")},
		{"paused session", "/start", v1Start("pay-1")},
		{"resume", "/resume", map[string]string{"runtime_id": started.RuntimeID}},
	} {
		rec := e.do(t, "acme", "POST", tc.path, tc.body)
		if rec.Code != 402 || !strings.Contains(detail(t, rec), "past due") {
			t.Errorf("%s while past due: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	var got rt
	e.must(t, 200, "acme", "GET", "/runtime/"+started.RuntimeID, nil, &got)
	if got.Status != "paused" {
		t.Errorf("the refused resume moved the runtime: %+v", got)
	}
	// Pausing and stopping stay allowed; other tenants start as ever.
	e.must(t, 200, "other", "POST", "/start", v1Start("pay-2"), nil)

	// Paid again, but a $0 budget: 429.
	e.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusActive})
	bill, err := billing.NewService(e.st, billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	zero := billing.MicroUSD(0)
	if _, err := bill.SetBudget(context.Background(), tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test"}, "acme", &zero); err != nil {
		t.Fatal(err)
	}
	rec := e.do(t, "acme", "POST", "/resume", map[string]string{"runtime_id": started.RuntimeID})
	if rec.Code != 429 || !strings.Contains(detail(t, rec), "budget") {
		t.Errorf("resume at budget: %d %s", rec.Code, rec.Body)
	}
	if _, err := bill.SetBudget(context.Background(), tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test"}, "acme", nil); err != nil {
		t.Fatal(err)
	}
	e.must(t, 200, "acme", "POST", "/resume", map[string]string{"runtime_id": started.RuntimeID}, nil)
	e.must(t, 200, "acme", "POST", "/stop", map[string]string{"runtime_id": started.RuntimeID}, nil)
}
