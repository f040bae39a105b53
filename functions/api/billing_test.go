package api_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
	"github.com/runyard/runyard/shared/usage"
)

// setAccount writes tenant's billing account as Stripe's webhooks would leave it.
func (e *env) setAccount(tb testing.TB, tenant string, a billing.Account) {
	tb.Helper()
	a.Tenant = tenant
	if _, err := e.st.Put(context.Background(), billing.AccountKey(tenant), a, store.Version{}); err != nil {
		tb.Fatal(err)
	}
}

// TestPaymentGate: a past-due tenant can neither create nor resume a runtime (402
// payment_required), and nothing is created; a tenant at its budget gets 429
// budget_exceeded; another tenant is not affected.
func TestPaymentGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image}, &rt)
	f.run.SetReady(svcName(rt.ID))
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":pause", f.member, nil, &rt)

	f.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusPastDue})
	for _, tc := range []struct{ name, path, cred string }{
		{"create", "/v1/tenants/acme/runtimes", f.member},
		{"create with a key", "/v1/tenants/acme/runtimes", f.key},
		{"resume", "/v1/tenants/acme/runtimes/" + rt.ID + ":resume", f.owner},
	} {
		var body any
		if tc.name != "resume" {
			body = api.CreateRuntimeRequest{Image: image}
		}
		rec := f.do(t, "POST", tc.path, tc.cred, body)
		if rec.Code != 402 || errorCode(t, rec) != "payment_required" {
			t.Errorf("%s while past due: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	var list struct{ Items []rtResp }
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes", f.member, nil, &list)
	if len(list.Items) != 1 || list.Items[0].State != "paused" {
		t.Errorf("runtimes after refused starts: %+v", list.Items)
	}
	// Pausing and stopping stay allowed; the other tenant is unaffected.
	f.must(t, 202, "POST", "/v1/tenants/other/runtimes", f.otherOwner, api.CreateRuntimeRequest{Image: image}, nil)

	f.setAccount(t, "acme", billing.Account{Customer: "cus_acme", Subscription: "sub_1", Status: billing.StatusActive})
	f.must(t, 200, "PUT", "/v1/tenants/acme/budget", f.admin, map[string]any{"monthly_usd": 0}, nil)
	rec := f.do(t, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":resume", f.member, nil)
	if rec.Code != 429 || errorCode(t, rec) != "budget_exceeded" {
		t.Errorf("resume at budget: %d %s", rec.Code, rec.Body)
	}
	f.must(t, 200, "PUT", "/v1/tenants/acme/budget", f.admin, map[string]any{"monthly_usd": nil}, nil)
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes/"+rt.ID+":resume", f.member, nil, nil)
}

// TestUsageAndBudget: recorded usage shows by meter and day with its cost; a budget below the
// month's spend refuses starts with 429 and shows as exceeded.
func TestUsageAndBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	start := billing.MonthStart(now)
	end := start.Add(time.Hour)
	if end.After(now) {
		end = now
	}
	secs := int64(end.Sub(start).Seconds())
	p := usage.Period{ID: "rt1-000001", Tenant: "acme", Kind: usage.KindRuntime, Runtime: "rt1", State: "running", VCPU: 2, GiB: 4,
		Rate: 1, Start: start, End: end, Status: usage.StatusClosed, Month: start.Format("2006-01"),
		VCPUSeconds: 2 * secs, GiBSeconds: 4 * secs, ClosedAt: end}
	if _, err := f.st.Create(ctx, store.Key{Tenant: "acme", Kind: usage.KindUsage, ID: p.ID}, p); err != nil {
		t.Fatal(err)
	}
	var got api.UsageAnswer
	f.must(t, 200, "GET", "/v1/tenants/acme/usage", f.member, nil, &got)
	if got.Meters[usage.MeterVCPUSeconds] != 2*secs || got.Meters[usage.MeterGiBSeconds] != 4*secs || got.BudgetUSD != nil || got.BudgetExceeded {
		t.Fatalf("usage %+v", got)
	}
	wantSpend := (float64(2*secs)*24_000 + float64(4*secs)*2_500) / 1e9
	if math.Abs(got.SpendUSD-wantSpend) > 1e-6 || math.Abs(got.MonthToDateUSD-wantSpend) > 1e-6 {
		t.Errorf("spend %v, month to date %v, want %v", got.SpendUSD, got.MonthToDateUSD, wantSpend)
	}
	if len(got.Days) == 0 || got.Days[0].Meters[usage.MeterVCPUSeconds] != 2*secs {
		t.Errorf("days %+v", got.Days)
	}
	// The other tenant sees none of it.
	var other api.UsageAnswer
	f.must(t, 200, "GET", "/v1/tenants/other/usage", f.otherOwner, nil, &other)
	if other.Meters[usage.MeterVCPUSeconds] != 0 {
		t.Errorf("other tenant's usage %+v", other.Meters)
	}
	if secs == 0 {
		return // the first second of a month: nothing spent yet
	}
	var b api.BudgetAnswer
	f.must(t, 200, "PUT", "/v1/tenants/acme/budget", f.owner, map[string]any{"monthly_usd": 0.000001}, &b)
	if b.MonthlyUSD == nil || *b.MonthlyUSD != 0.000001 {
		t.Fatalf("budget %+v", b)
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/usage", f.member, nil, &got)
	if got.BudgetUSD == nil || !got.BudgetExceeded {
		t.Errorf("usage after budget %+v", got)
	}
	rec := f.do(t, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image})
	if rec.Code != 429 || errorCode(t, rec) != "budget_exceeded" {
		t.Errorf("create over budget: %d %s", rec.Code, rec.Body)
	}
	f.must(t, 200, "PUT", "/v1/tenants/acme/budget", f.owner, map[string]any{"monthly_usd": 1000}, nil)
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image}, nil)
	// Budget changes are audited.
	var audit struct {
		Items []struct{ Action, Reason string }
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/audit", f.owner, nil, &audit)
	n := 0
	for _, e := range audit.Items {
		if e.Action == "budget.write" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("budget audit events %d, want 2", n)
	}
}

// TestCheckoutAndPortal: through the api to stripe-mock, the owner gets Stripe URLs; the
// tenant's customer is created once and linked.
func TestCheckoutAndPortal(t *testing.T) {
	t.Parallel()
	px := stripemocktest.NewProxy(t)
	f := newFixture(t, envOptions{stripe: px.URL()})
	var s struct{ ID, URL string }
	f.must(t, 201, "POST", "/v1/tenants/acme/billing/checkout", f.owner,
		api.CheckoutRequest{SuccessURL: "https://app.acme.test/ok", CancelURL: "https://app.acme.test/no"}, &s)
	if s.URL == "" || s.ID == "" {
		t.Fatalf("checkout %+v", s)
	}
	f.must(t, 201, "POST", "/v1/tenants/acme/billing/portal", f.owner, nil, &s)
	if s.URL == "" {
		t.Fatalf("portal %+v", s)
	}
	customers := 0
	for _, r := range px.Requests() {
		switch r.Path {
		case "/v1/customers":
			customers++
			if r.Form.Get("metadata[tenant]") != "acme" || r.IdempotencyKey == "" {
				t.Errorf("customer request %+v", r)
			}
		case "/v1/checkout/sessions":
			if r.Form.Get("success_url") != "https://app.acme.test/ok" || r.Form.Get("mode") != "subscription" {
				t.Errorf("checkout request %v", r.Form)
			}
		case "/v1/billing_portal/sessions":
			if r.Form.Get("return_url") != "https://app.runyard.test/settings" {
				t.Errorf("portal request %v", r.Form)
			}
		}
	}
	if customers != 1 {
		t.Errorf("customers created %d, want 1", customers)
	}
	// Stripe failing: 503 unavailable, nothing half-stored.
	px.FailNext(3, 500, "api_error")
	rec := f.do(t, "POST", "/v1/tenants/other/billing/checkout", f.otherOwner, nil)
	if rec.Code != 503 || errorCode(t, rec) != "unavailable" {
		t.Errorf("checkout with Stripe failing: %d %s", rec.Code, rec.Body)
	}
	var a billing.Account
	if _, err := f.st.Get(context.Background(), billing.AccountKey("other"), &a); err == nil && a.Customer != "" {
		t.Errorf("a customer was stored although Stripe failed: %+v", a)
	}
	// A bad return URL never reaches Stripe.
	rec = f.do(t, "POST", "/v1/tenants/acme/billing/portal", f.owner, api.PortalRequest{ReturnURL: "http://evil.test/"})
	if rec.Code != 400 || errorCode(t, rec) != "invalid_argument" {
		t.Errorf("portal with a bad URL: %d %s", rec.Code, rec.Body)
	}
}
