package billing_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/billingtest"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
	"github.com/runyard/runyard/shared/tenancy"
)

var owner = tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test"}

// newTenant makes tenant id in st, owned by owner.
func newTenant(tb testing.TB, st store.Store, id string) {
	tb.Helper()
	ten, err := tenancy.NewService(st, authn.NewAPIKey)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ten.CreateTenant(context.Background(), owner, id, "Tenant "+id); err != nil {
		tb.Fatal(err)
	}
}

// newService is a billing service on the emulator with Stripe behind a recording proxy to
// stripe-mock.
func newService(tb testing.TB, usage billing.UsageTotals) (*billing.Service, store.Store, *stripemocktest.Proxy) {
	tb.Helper()
	st := storetest.NewEmulatorStore(tb)
	px := stripemocktest.NewProxy(tb)
	o, err := billingtest.Config(px.URL()).Options(usage)
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := billing.NewService(st, o)
	if err != nil {
		tb.Fatal(err)
	}
	return svc, st, px
}

// TestCustomerCreatedOnce: eight first uses at once store one customer, linked back to the
// tenant, and every Stripe call carried the same idempotency key (so Stripe made one).
func TestCustomerCreatedOnce(t *testing.T) {
	t.Parallel()
	svc, st, px := newService(t, nil)
	newTenant(t, st, "acme")
	ctx := context.Background()
	ids := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = svc.Customer(ctx, "acme", "owner@acme.test")
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("Customer #%d: %v", i, errs[i])
		}
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("Customer answers differ: %v", ids)
		}
	}
	a, err := svc.Account(ctx, "acme")
	if err != nil || a.Customer != ids[0] {
		t.Fatalf("account = %+v, %v; want customer %s", a, err, ids[0])
	}
	var link billing.CustomerLink
	if _, err := st.Get(ctx, billing.CustomerKey(ids[0]), &link); err != nil || link.Tenant != "acme" {
		t.Fatalf("customer link = %+v, %v", link, err)
	}
	reqs := requests(px, "/v1/customers")
	if len(reqs) == 0 {
		t.Fatal("no customer was created at Stripe")
	}
	for _, r := range reqs {
		if r.IdempotencyKey == "" || r.IdempotencyKey != reqs[0].IdempotencyKey {
			t.Fatalf("idempotency keys %q and %q differ", r.IdempotencyKey, reqs[0].IdempotencyKey)
		}
		if r.Form.Get("metadata[tenant]") != "acme" || r.Form.Get("name") != "Tenant acme" {
			t.Fatalf("customer request %v", r.Form)
		}
	}
	// Later uses read the stored customer and call Stripe no more.
	n := len(reqs)
	if id, err := svc.Customer(ctx, "acme", ""); err != nil || id != ids[0] {
		t.Fatalf("Customer again = %q, %v", id, err)
	}
	if got := len(requests(px, "/v1/customers")); got != n {
		t.Fatalf("customer calls %d, want %d", got, n)
	}
}

func TestCheckoutAndPortal(t *testing.T) {
	t.Parallel()
	svc, st, px := newService(t, nil)
	newTenant(t, st, "acme")
	ctx := context.Background()
	s, err := svc.Checkout(ctx, owner, "acme", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if s.URL == "" || s.ID == "" {
		t.Fatalf("checkout session %+v", s)
	}
	a, _ := svc.Account(ctx, "acme")
	reqs := requests(px, "/v1/checkout/sessions")
	if len(reqs) != 1 {
		t.Fatalf("checkout requests %d", len(reqs))
	}
	f := reqs[0].Form
	want := map[string]string{"mode": "subscription", "customer": a.Customer, "client_reference_id": "acme",
		"line_items[0][price]": "price_runyard_vcpu", "success_url": "https://app.runyard.test/billing/done",
		"cancel_url": "https://app.runyard.test/billing", "subscription_data[metadata][tenant]": "acme"}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("checkout %s = %q, want %q", k, f.Get(k), v)
		}
	}
	p, err := svc.Portal(ctx, owner, "acme", "https://app.runyard.test/back")
	if err != nil || p.URL == "" {
		t.Fatalf("portal = %+v, %v", p, err)
	}
	pr := requests(px, "/v1/billing_portal/sessions")
	if len(pr) != 1 || pr[0].Form.Get("customer") != a.Customer || pr[0].Form.Get("return_url") != "https://app.runyard.test/back" {
		t.Fatalf("portal requests %+v", pr)
	}
	if n := len(requests(px, "/v1/customers")); n != 1 {
		t.Errorf("customers created %d, want 1", n)
	}
	// Bad URLs never reach Stripe.
	for _, u := range []string{"javascript:alert(1)", "http://evil.test/x", "/relative", "https://user:pw@x.test/"} {
		if _, err := svc.Checkout(ctx, owner, "acme", u, ""); !errors.Is(err, billing.ErrInvalid) {
			t.Errorf("Checkout(success %q) = %v, want ErrInvalid", u, err)
		}
	}
	if n := len(requests(px, "/v1/checkout/sessions")); n != 1 {
		t.Errorf("checkout requests %d after bad URLs, want 1", n)
	}
}

// TestStripeErrors: an unknown price is Stripe's 400 (a rejection); a Stripe that is down is
// unavailable.
func TestStripeErrors(t *testing.T) {
	t.Parallel()
	st := storetest.NewEmulatorStore(t)
	newTenant(t, st, "acme")
	ctx := context.Background()
	cfg := billingtest.Config(stripemocktest.URL(t))
	down := cfg
	down.APIURL = "http://127.0.0.1:1"
	o, _ := down.Options(nil)
	svc, _ := billing.NewService(st, o)
	if _, err := svc.Checkout(ctx, owner, "acme", "", ""); !errors.Is(err, billing.ErrUnavailable) {
		t.Errorf("Checkout with Stripe down = %v, want ErrUnavailable", err)
	}
	if a, _ := svc.Account(ctx, "acme"); a.Customer != "" {
		t.Errorf("a customer was stored while Stripe was down: %+v", a)
	}
	// A wrong key is a rejection whose message never quotes the key.
	bad := cfg
	bad.SecretKey = "rk_wrong_s3cretvalue"
	_, err := stripe.New(bad, nil).PortalSession(ctx, billing.PortalRequest{Customer: "cus_x", ReturnURL: "https://x.test/"})
	if !errors.Is(err, billing.ErrRejected) || strings.Contains(err.Error(), "s3cretvalue") {
		t.Errorf("portal with a wrong key = %v, want ErrRejected without the key", err)
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	st := storetest.NewEmulatorStore(t)
	svc, err := billing.NewService(st, billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Checkout(ctx, owner, "acme", "", ""); !errors.Is(err, billing.ErrDisabled) {
		t.Errorf("Checkout = %v, want ErrDisabled", err)
	}
	if _, err := svc.Portal(ctx, owner, "acme", ""); !errors.Is(err, billing.ErrDisabled) {
		t.Errorf("Portal = %v, want ErrDisabled", err)
	}
	if err := svc.Check(ctx, "acme"); err != nil {
		t.Errorf("Check of a tenant without an account = %v", err)
	}
}

// TestApply plays webhook events, in and out of order, and checks the account after each.
func TestApply(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t, nil)
	newTenant(t, st, "acme")
	ctx := context.Background()
	cus, err := svc.Customer(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	sub := func(id, typ, subID, status string, s int) billing.Event {
		return billing.Event{ID: id, Type: typ, Created: at(s), Customer: cus, Object: subID, Status: status}
	}
	inv := func(id, typ, invID string, s int) billing.Event {
		return billing.Event{ID: id, Type: typ, Created: at(s), Customer: cus, Object: invID, Subscription: "sub_1"}
	}
	type want struct {
		out                        billing.Outcome
		sub, status, inv, invState string
	}
	steps := []struct {
		name     string
		ev       billing.Event
		signedAt time.Time
		want     want
	}{
		{"created", sub("evt_1", billing.EventSubscriptionCreated, "sub_1", "incomplete", 10), at(11),
			want{billing.OutcomeApplied, "sub_1", "incomplete", "", ""}},
		{"activated", sub("evt_2", billing.EventSubscriptionUpdated, "sub_1", "active", 20), at(21),
			want{billing.OutcomeApplied, "sub_1", "active", "", ""}},
		{"older update arrives late", sub("evt_3", billing.EventSubscriptionUpdated, "sub_1", "incomplete", 15), at(31),
			want{billing.OutcomeStale, "sub_1", "active", "", ""}},
		{"payment failed", inv("evt_4", billing.EventInvoicePaymentFail, "in_1", 40), at(41),
			want{billing.OutcomeApplied, "sub_1", "active", "in_1", billing.InvoicePaymentFailed}},
		{"past due", sub("evt_5", billing.EventSubscriptionUpdated, "sub_1", "past_due", 41), at(42),
			want{billing.OutcomeApplied, "sub_1", "past_due", "in_1", billing.InvoicePaymentFailed}},
		{"replayed delivery", sub("evt_5", billing.EventSubscriptionUpdated, "sub_1", "past_due", 41), at(42),
			want{billing.OutcomeReplayed, "sub_1", "past_due", "in_1", billing.InvoicePaymentFailed}},
		{"redelivered by Stripe", sub("evt_5", billing.EventSubscriptionUpdated, "sub_1", "past_due", 41), at(99),
			want{billing.OutcomeDuplicate, "sub_1", "past_due", "in_1", billing.InvoicePaymentFailed}},
		{"paid", inv("evt_6", billing.EventInvoicePaid, "in_1", 50), at(51),
			want{billing.OutcomeApplied, "sub_1", "past_due", "in_1", billing.InvoicePaid}},
		{"old failure arrives late", inv("evt_7", billing.EventInvoicePaymentFail, "in_1", 45), at(52),
			want{billing.OutcomeStale, "sub_1", "past_due", "in_1", billing.InvoicePaid}},
		{"active again", sub("evt_8", billing.EventSubscriptionUpdated, "sub_1", "active", 51), at(53),
			want{billing.OutcomeApplied, "sub_1", "active", "in_1", billing.InvoicePaid}},
		{"unknown customer", billing.Event{ID: "evt_9", Type: billing.EventSubscriptionUpdated, Created: at(60), Customer: "cus_nobody", Object: "sub_9", Status: "past_due"}, at(61),
			want{billing.OutcomeIgnored, "sub_1", "active", "in_1", billing.InvoicePaid}},
		{"unhandled type", billing.Event{ID: "evt_10", Type: "charge.succeeded", Created: at(60)}, at(61),
			want{billing.OutcomeIgnored, "sub_1", "active", "in_1", billing.InvoicePaid}},
		{"canceled", sub("evt_11", billing.EventSubscriptionDeleted, "sub_1", "canceled", 70), at(71),
			want{billing.OutcomeApplied, "sub_1", "canceled", "in_1", billing.InvoicePaid}},
		{"resubscribed", sub("evt_12", billing.EventSubscriptionCreated, "sub_2", "active", 80), at(81),
			want{billing.OutcomeApplied, "sub_2", "active", "in_1", billing.InvoicePaid}},
		{"the old one's deletion again, later", sub("evt_13", billing.EventSubscriptionDeleted, "sub_1", "canceled", 90), at(91),
			want{billing.OutcomeStale, "sub_2", "active", "in_1", billing.InvoicePaid}},
	}
	for _, s := range steps {
		out, tenant, err := svc.Apply(ctx, s.ev, s.signedAt, time.Hour)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		a, err := svc.Account(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		got := want{out, a.Subscription, a.Status, a.Invoice, a.InvoiceStatus}
		if diff := cmp.Diff(s.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Fatalf("%s: (-want +got)\n%s", s.name, diff)
		}
		if s.want.out != billing.OutcomeIgnored && tenant != "acme" {
			t.Errorf("%s: tenant %q", s.name, tenant)
		}
	}
}

// TestCheck: the gate's answers for payment states and budgets.
func TestCheck(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	vcpu := 0.0
	var asked [2]time.Time
	usage := func(_ context.Context, tenant string, from, to time.Time) (map[string]float64, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = [2]time.Time{from, to}
		return map[string]float64{billing.MeterVCPUSeconds: vcpu, billing.MeterGiBSeconds: 2 * vcpu}, nil
	}
	st := storetest.NewEmulatorStore(t)
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	on, _ := billing.NewService(st, billing.Options{Usage: usage, Provider: stripe.New(billingtest.Config("http://127.0.0.1:1"), nil), Now: func() time.Time { return now }})
	off, _ := billing.NewService(st, billing.Options{Usage: usage, Now: func() time.Time { return now }})
	ctx := context.Background()
	set := func(a billing.Account) {
		t.Helper()
		a.Tenant = "acme"
		if _, err := st.Put(ctx, billing.AccountKey("acme"), a, store.Version{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		acct    billing.Account
		wantOn  error
		wantOff error
	}{
		{"never subscribed", billing.Account{}, nil, nil},
		{"active", billing.Account{Status: "active"}, nil, nil},
		{"past due", billing.Account{Status: "past_due"}, billing.ErrPaymentRequired, billing.ErrPaymentRequired},
		{"unpaid", billing.Account{Status: "unpaid"}, billing.ErrPaymentRequired, billing.ErrPaymentRequired},
		{"payment failed", billing.Account{Status: "active", InvoiceStatus: billing.InvoicePaymentFailed}, billing.ErrPaymentRequired, billing.ErrPaymentRequired},
		{"canceled", billing.Account{Status: "canceled"}, billing.ErrPaymentRequired, nil},
		{"incomplete_expired", billing.Account{Status: "incomplete_expired"}, billing.ErrPaymentRequired, nil},
	} {
		set(tc.acct)
		if err := on.Check(ctx, "acme"); !errors.Is(err, tc.wantOn) || (tc.wantOn == nil && err != nil) {
			t.Errorf("%s, billing on: Check = %v, want %v", tc.name, err, tc.wantOn)
		}
		if err := off.Check(ctx, "acme"); !errors.Is(err, tc.wantOff) || (tc.wantOff == nil && err != nil) {
			t.Errorf("%s, billing off: Check = %v, want %v", tc.name, err, tc.wantOff)
		}
	}
	set(billing.Account{Status: "active"})
	budget := billing.MicroUSD(10_000_000) // $10
	if _, err := off.SetBudget(ctx, owner, "acme", &budget); err != nil {
		t.Fatal(err)
	}
	// $10 at 0.000024 + 2×0.0000025 per vCPU-second = 0.000029: 344,828 s reach it.
	for _, tc := range []struct {
		vcpu float64
		want error
	}{{0, nil}, {344_000, nil}, {344_828, billing.ErrBudgetExceeded}, {1e7, billing.ErrBudgetExceeded}} {
		mu.Lock()
		vcpu = tc.vcpu
		mu.Unlock()
		if err := off.Check(ctx, "acme"); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("vcpu %v: Check = %v, want %v", tc.vcpu, err, tc.want)
		}
	}
	if want := [2]time.Time{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), now}; asked != want {
		t.Errorf("usage asked for %v, want this month %v", asked, want)
	}
	if _, err := off.SetBudget(ctx, owner, "acme", nil); err != nil {
		t.Fatal(err)
	}
	if err := off.Check(ctx, "acme"); err != nil {
		t.Errorf("no budget: Check = %v", err)
	}
	neg := billing.MicroUSD(-1)
	if _, err := off.SetBudget(ctx, owner, "acme", &neg); !errors.Is(err, billing.ErrInvalid) {
		t.Errorf("negative budget: %v", err)
	}
}

func TestParseUSD(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    billing.NanoUSD
		wantErr bool
	}{
		{"0.000024", 24_000, false}, {"0.0000025", 2_500, false}, {"3", 3_000_000_000, false}, {"0.5", 500_000_000, false},
		{"0", 0, false}, {"1000", 1_000_000_000_000, false},
		{"", 0, true}, {"-1", 0, true}, {"1e-6", 0, true}, {".5", 0, true}, {"0.0000000001", 0, true}, {"1001", 0, true},
		{"1,5", 0, true}, {"0x10", 0, true}, {" 1", 0, true},
	} {
		got, err := billing.ParseUSD(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	p, _ := billing.DefaultPriceConfig.Prices()
	if got := p.Spend(map[string]float64{billing.MeterVCPUSeconds: 3600, billing.MeterGiBSeconds: 7200, billing.MeterBuildMinutes: 10}); got != 86_400+18_000+30_000 {
		t.Errorf("Spend = %d micro-USD", got)
	}
}

// requests are the requests px forwarded to path.
func requests(px *stripemocktest.Proxy, path string) []stripemocktest.Request {
	var out []stripemocktest.Request
	for _, r := range px.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// TestDeletedWithTenant: deleting the tenant deletes its account and its customer's link, so
// the customer's later webhooks reach no tenant (and a new tenant of the same id starts clean).
func TestDeletedWithTenant(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t, nil)
	newTenant(t, st, "acme")
	ctx := context.Background()
	cus, err := svc.Customer(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	ten, _ := tenancy.NewService(st, authn.NewAPIKey)
	if err := ten.DeleteTenant(ctx, owner, "acme"); err != nil {
		t.Fatal(err)
	}
	var a billing.Account
	if _, err := st.Get(ctx, billing.AccountKey("acme"), &a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("account after deletion: %v", err)
	}
	var l billing.CustomerLink
	if _, err := st.Get(ctx, billing.CustomerKey(cus), &l); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("customer link after deletion: %v", err)
	}
	out, _, err := svc.Apply(ctx, billing.Event{ID: "evt_gone", Type: billing.EventSubscriptionUpdated, Created: time.Now(),
		Customer: cus, Object: "sub_1", Status: "past_due"}, time.Now(), time.Hour)
	if err != nil || out != billing.OutcomeIgnored {
		t.Errorf("event of a deleted tenant's customer: %s, %v", out, err)
	}
}
