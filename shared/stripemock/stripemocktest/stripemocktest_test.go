package stripemocktest_test

import (
	"errors"
	"net/http"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/billing/meterevent"

	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
)

// client returns a meter event client for the proxy, with stripe-go's own retries off so each
// call is one request.
func client(p *stripemocktest.Proxy) meterevent.Client {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(p.URL()),
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return meterevent.Client{B: backend, Key: "sk_test_123"}
}

func TestProxyRecordsAndInjects(t *testing.T) {
	t.Parallel()
	p := stripemocktest.NewProxy(t)
	c := client(p)
	params := &stripe.BillingMeterEventParams{
		EventName:  stripe.String("runtime_vcpu_seconds"),
		Identifier: stripe.String("rt1-1-vcpu"),
		Payload:    map[string]string{"stripe_customer_id": "cus_123", "value": "60"},
	}
	params.SetIdempotencyKey("rt1-1-vcpu")
	if _, err := c.New(params); err != nil {
		t.Fatalf("meter event through the proxy: %v", err)
	}
	p.FailNext(1, http.StatusInternalServerError, "api_error")
	_, err := c.New(params)
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode != http.StatusInternalServerError {
		t.Fatalf("injected 500: got %v", err)
	}
	if _, err := c.New(&stripe.BillingMeterEventParams{EventName: stripe.String("x")}); err == nil {
		t.Fatal("stripe-mock accepted a meter event without a payload")
	}
	reqs := p.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d requests, want 3", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/v1/billing/meter_events" || r.IdempotencyKey != "rt1-1-vcpu" || r.Form.Get("identifier") != "rt1-1-vcpu" ||
		r.Form.Get("payload[value]") != "60" || r.Status != http.StatusOK {
		t.Errorf("first request recorded as %+v", r)
	}
	if reqs[1].Status != http.StatusInternalServerError || reqs[2].Status != http.StatusBadRequest {
		t.Errorf("statuses %d, %d; want 500 (injected), 400 (stripe-mock's validation)", reqs[1].Status, reqs[2].Status)
	}
}
