// Package billingtest holds test helpers for billing against stripe-mock: the mock's URL
// (STRIPE_MOCK_URL, set by `runyard testenv`; tests fail without it) and a recording proxy in
// front of it, so tests can check what reached Stripe (paths, form fields, idempotency keys).
package billingtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/stripe"
)

// EnvMockURL names the environment variable holding stripe-mock's base URL.
const EnvMockURL = "STRIPE_MOCK_URL"

// TestKey is the secret key tests give stripe-mock (it accepts any sk_test_ key).
const TestKey = "sk_test_runyard"

// MockURL returns stripe-mock's base URL, failing the test when it is not set: run tests
// through `runyard testenv` (make test), which starts stripe-mock.
func MockURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvMockURL)
	if u == "" {
		tb.Fatalf("%s is not set: run the tests through `bin/runyard testenv -- go test …` (make test), which starts stripe-mock", EnvMockURL)
	}
	return u
}

// Request is one request that went through the proxy to stripe-mock.
type Request struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
}

// Proxy is a recording reverse proxy in front of stripe-mock.
type Proxy struct {
	URL string
	mu  sync.Mutex
	req []Request
}

// NewProxy starts a proxy (on 127.0.0.1) to stripe-mock, closed with the test.
func NewProxy(tb testing.TB) *Proxy {
	tb.Helper()
	target, err := url.Parse(MockURL(tb))
	if err != nil {
		tb.Fatalf("%s: %v", EnvMockURL, err)
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		p.mu.Lock()
		p.req = append(p.req, Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form})
		p.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Requests returns the requests so far with the given path.
func (p *Proxy) Requests(path string) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.req {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Config is a billing configuration with Stripe at url (stripe-mock or a Proxy) and one
// metered price.
func Config(url string) stripe.EnvConfig {
	return stripe.EnvConfig{SecretKey: TestKey, APIURL: url, PriceIDs: []string{"price_runyard_vcpu"}, Timeout: 10 * time.Second,
		SuccessURL: "https://app.runyard.test/billing/done", CancelURL: "https://app.runyard.test/billing",
		ReturnURL: "https://app.runyard.test/settings", Prices: billing.DefaultPriceConfig}
}

// WebhookSecret is the signing secret tests sign webhooks with.
const WebhookSecret = "whsec_runyard_test"

// SignedEvent is a Stripe event payload and its Stripe-Signature header at time at.
func SignedEvent(payload []byte, at time.Time) (body []byte, header string) {
	return payload, stripe.SignTest(payload, WebhookSecret, at)
}

// EventJSON is a Stripe event of type typ created at created with data.object obj, in the
// shape Stripe sends (api_version of a recent account default, not the one stripe-go pins).
func EventJSON(id, typ string, created time.Time, obj map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2024-06-20", "type": typ,
		"created": created.Unix(), "livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": obj}})
	if err != nil {
		panic(err)
	}
	return b
}

// Subscription is a subscription object of customer with status.
func Subscription(id, customer, status string) map[string]any {
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"metadata": map[string]any{}}
}

// Invoice is an invoice object of customer and subscription.
func Invoice(id, customer, subscription string) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "subscription": subscription}
}
