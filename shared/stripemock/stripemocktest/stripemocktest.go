// Package stripemocktest gives tests the stripe-mock that `runyard testenv` started
// (STRIPE_MOCK_URL) and a recording reverse proxy in front of it.
//
// stripe-mock is stateless: it validates each request against Stripe's OpenAPI spec and answers
// with a fixture, but it keeps nothing and ignores Idempotency-Key. Tests that must count what
// reached Stripe (meter events, idempotency keys) put a Proxy in front of it; the proxy records
// every request and can answer the next ones with an injected error instead of forwarding.
package stripemocktest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/runyard/runyard/shared/stripemock"
)

// URL returns the base URL of the running stripe-mock. It fails the test (never skips) when
// STRIPE_MOCK_URL is unset: run the tests through `runyard testenv` (make test does).
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(stripemock.EnvURL)
	if u == "" {
		tb.Fatalf("%s is not set: run the tests through `bin/runyard testenv -- go test …` (make test), which starts stripe-mock", stripemock.EnvURL)
	}
	return u
}

// Request is one request the proxy received.
type Request struct {
	Method string
	Path   string
	// IdempotencyKey is the Idempotency-Key header ("" when absent).
	IdempotencyKey string
	// Form is the parsed form body (Stripe's API takes form-encoded bodies).
	Form url.Values
	// Status is the status code the client got.
	Status int
}

// Proxy is a recording reverse proxy in front of stripe-mock.
type Proxy struct {
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []Request
	faults []fault
}

type fault struct {
	status int
	body   string
}

// NewProxy starts a proxy to the stripe-mock at STRIPE_MOCK_URL on 127.0.0.1; it stops with
// the test.
func NewProxy(tb testing.TB) *Proxy {
	tb.Helper()
	target, err := url.Parse(URL(tb))
	if err != nil {
		tb.Fatalf("stripemocktest: %s: %v", stripemock.EnvURL, err)
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.setStatus(resp.Request, resp.StatusCode)
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = r.Body.Close()
		form, _ := url.ParseQuery(string(body))
		rec := Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form}
		p.mu.Lock()
		idx := len(p.reqs)
		p.reqs = append(p.reqs, rec)
		var f *fault
		if len(p.faults) > 0 {
			f = &p.faults[0]
			p.faults = p.faults[1:]
		}
		p.mu.Unlock()
		if f != nil {
			p.mu.Lock()
			p.reqs[idx].Status = f.status
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r = r.WithContext(withIndex(r.Context(), idx))
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's base URL; point the Stripe client's API backend at it.
func (p *Proxy) URL() string { return p.srv.URL }

// FailNext makes the next n requests answer status with a Stripe error body of the given type
// ("api_error", "invalid_request_error", "rate_limit_error") instead of reaching stripe-mock.
func (p *Proxy) FailNext(n, status int, errType string) {
	body := fmt.Sprintf(`{"error":{"type":%q,"message":"injected by stripemocktest"}}`, errType)
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.faults = append(p.faults, fault{status: status, body: body})
	}
}

// Requests returns a copy of the requests received so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Reset forgets the recorded requests and pending faults.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs, p.faults = nil, nil
}

func (p *Proxy) setStatus(r *http.Request, status int) {
	idx, ok := indexFrom(r.Context())
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if idx < len(p.reqs) {
		p.reqs[idx].Status = status
	}
}
