package stripehook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/stripehook"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/billingtest"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/httpx/httpxtest"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
	"github.com/runyard/runyard/shared/tenancy"
)

type env struct {
	h    http.Handler
	st   store.Store
	bill *billing.Service
	cus  string // acme's Stripe customer
}

// newEnv is the function over its own emulator project, with tenant acme a Stripe customer
// (made on stripe-mock).
func newEnv(tb testing.TB, secret string) *env {
	tb.Helper()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(tb)
	cfg := stripehook.Config{ProjectID: "test", WebhookSecret: config.Secret(secret), Tolerance: stripehook.DefaultTolerance,
		EventTTL: time.Hour, RequestTimeout: time.Minute, MaxBodyBytes: 64 << 10}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	h, err := stripehook.Build(ctx, cfg, stripehook.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	ten, _ := tenancy.NewService(st, authn.NewAPIKey)
	owner := tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test"}
	if _, err := ten.CreateTenant(ctx, owner, "acme", "Acme"); err != nil {
		tb.Fatal(err)
	}
	bill, err := billingtest.Config(stripemocktest.URL(tb)).NewService(st, nil)
	if err != nil {
		tb.Fatal(err)
	}
	cus, err := bill.Customer(ctx, "acme", owner.Email)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{h: h, st: st, bill: bill, cus: cus}
}

// post delivers body with the Stripe-Signature header sig ("" for none).
func (e *env) post(tb testing.TB, body []byte, sig string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest("POST", "/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if sig != "" {
		req.Header.Set(stripe.HeaderSignature, sig)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

var code = httpxtest.ErrorCode

func status(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var r stripehook.EventResponse
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
		tb.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	return r.Status
}

func (e *env) account(tb testing.TB) billing.Account {
	tb.Helper()
	a, err := e.bill.Account(context.Background(), "acme")
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// ledgered reports whether the event id is in the idempotency ledger.
func (e *env) ledgered(tb testing.TB, id string) bool {
	tb.Helper()
	var rec store.EventRecord
	_, err := e.st.Get(context.Background(), store.EventKey(billing.LedgerID(id)), &rec)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		tb.Fatal(err)
	}
	return err == nil
}

const secret = billingtest.WebhookSecret

// TestWebhookFlow: a signed past_due update blocks the tenant; the same delivery again is a
// replay (401), a redelivery with a new signature a 200 duplicate; bad signatures, old
// timestamps and unsigned bodies are 401 and write nothing; an older event arriving late
// changes nothing; invoice.paid and an active update unblock.
func TestWebhookFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, secret)
	ctx := context.Background()
	now := time.Now()
	pastDue := billingtest.EventJSON("evt_pastdue", billing.EventSubscriptionUpdated, now.Add(-time.Minute),
		billingtest.Subscription("sub_1", e.cus, billing.StatusPastDue))
	sig := stripe.SignTest(pastDue, secret, now)

	// Rejected before anything is written.
	for _, tc := range []struct{ name, sig, code string }{
		{"unsigned", "", stripehook.CodeMissingSignature},
		{"wrong secret", stripe.SignTest(pastDue, "whsec_someone_else", now), stripehook.CodeInvalidSignature},
		{"garbage header", "t=abc,v1=zz", stripehook.CodeInvalidSignature},
		{"old timestamp", stripe.SignTest(pastDue, secret, now.Add(-6*time.Minute)), stripehook.CodeSignatureExpired},
	} {
		rec := e.post(t, pastDue, tc.sig)
		if rec.Code != 401 || code(t, rec) != tc.code {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	if e.ledgered(t, "evt_pastdue") || e.account(t).Status != "" {
		t.Fatal("a rejected delivery wrote something")
	}
	if rec := e.post(t, append(pastDue, ' '), sig); rec.Code != 401 || code(t, rec) != stripehook.CodeInvalidSignature {
		t.Errorf("body changed after signing: %d %s", rec.Code, rec.Body)
	}

	if got := status(t, e.post(t, pastDue, sig)); got != "applied" {
		t.Fatalf("past due: %s", got)
	}
	if a := e.account(t); a.Status != billing.StatusPastDue || a.Subscription != "sub_1" {
		t.Fatalf("account %+v", a)
	}
	if err := e.bill.Check(ctx, "acme"); !errors.Is(err, billing.ErrPaymentRequired) {
		t.Errorf("Check after past_due = %v", err)
	}
	// The same delivery again: a replay.
	if rec := e.post(t, pastDue, sig); rec.Code != 401 || code(t, rec) != stripehook.CodeReplayedEvent {
		t.Errorf("replay: %d %s", rec.Code, rec.Body)
	}
	// Stripe sending the event again (a new signature): handled, acknowledged.
	if got := status(t, e.post(t, pastDue, stripe.SignTest(pastDue, secret, now.Add(2*time.Second)))); got != "duplicate" {
		t.Errorf("redelivery: %s", got)
	}
	// An older update arriving late changes nothing.
	older := billingtest.EventJSON("evt_older", billing.EventSubscriptionUpdated, now.Add(-time.Hour),
		billingtest.Subscription("sub_1", e.cus, billing.StatusActive))
	if got := status(t, e.post(t, older, stripe.SignTest(older, secret, now))); got != "stale" {
		t.Errorf("older event: %s", got)
	}
	if a := e.account(t); a.Status != billing.StatusPastDue {
		t.Errorf("stale event changed the status to %s", a.Status)
	}
	// Paid: the invoice clears, the subscription becomes active again.
	paid := billingtest.EventJSON("evt_paid", billing.EventInvoicePaid, now, billingtest.Invoice("in_1", e.cus, "sub_1"))
	if got := status(t, e.post(t, paid, stripe.SignTest(paid, secret, now))); got != "applied" {
		t.Errorf("invoice.paid: %s", got)
	}
	active := billingtest.EventJSON("evt_active", billing.EventSubscriptionUpdated, now,
		billingtest.Subscription("sub_1", e.cus, billing.StatusActive))
	if got := status(t, e.post(t, active, stripe.SignTest(active, secret, now))); got != "applied" {
		t.Errorf("active: %s", got)
	}
	if err := e.bill.Check(ctx, "acme"); err != nil {
		t.Errorf("Check after payment = %v", err)
	}
	// Unknown customers and types are acknowledged and ignored.
	stranger := billingtest.EventJSON("evt_stranger", billing.EventSubscriptionUpdated, now,
		billingtest.Subscription("sub_9", "cus_stranger", billing.StatusPastDue))
	if got := status(t, e.post(t, stranger, stripe.SignTest(stranger, secret, now))); got != "ignored" {
		t.Errorf("unknown customer: %s", got)
	}
	charge := billingtest.EventJSON("evt_charge", "charge.succeeded", now, map[string]any{"id": "ch_1", "object": "charge"})
	if got := status(t, e.post(t, charge, stripe.SignTest(charge, secret, now))); got != "ignored" {
		t.Errorf("unhandled type: %s", got)
	}
	if err := e.bill.Check(ctx, "acme"); err != nil {
		t.Errorf("Check after ignored events = %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, secret)
	now := time.Now()
	notJSON := []byte("hello")
	badStatus := billingtest.EventJSON("evt_bad", billing.EventSubscriptionUpdated, now, billingtest.Subscription("sub_1", e.cus, "exploded"))
	for _, tc := range []struct {
		name   string
		body   []byte
		sig    string
		status int
		code   string
	}{
		{"signed non-JSON", notJSON, stripe.SignTest(notJSON, secret, now), 400, stripehook.CodeMalformedEvent},
		{"unknown status", badStatus, stripe.SignTest(badStatus, secret, now), 400, stripehook.CodeMalformedEvent},
		{"too large", bytes.Repeat([]byte("x"), 65<<10), "t=1,v1=00", 413, httpx.CodeBodyTooLarge},
	} {
		rec := e.post(t, tc.body, tc.sig)
		if rec.Code != tc.status || code(t, rec) != tc.code {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/v1/events", nil)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
	if e.ledgered(t, "evt_bad") {
		t.Error("a malformed event was ledgered")
	}
}

// TestDisabled: without a signing secret every event answers 501 billing_disabled, never
// verified against an empty key.
func TestDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	body := billingtest.EventJSON("evt_1", billing.EventSubscriptionUpdated, time.Now(), billingtest.Subscription("sub_1", e.cus, "past_due"))
	rec := e.post(t, body, stripe.SignTest(body, "", time.Now()))
	if rec.Code != 501 || code(t, rec) != stripehook.CodeBillingDisabled || !strings.Contains(rec.Body.String(), "not enabled") {
		t.Errorf("disabled: %d %s", rec.Code, rec.Body)
	}
	if e.account(t).Status != "" {
		t.Error("a disabled hook changed the account")
	}
}
