// Package stripe is the billing.Provider on Stripe (stripe-go v76): customers, subscription
// Checkout sessions and Billing Portal sessions, plus the verification and parsing of Stripe
// webhooks into billing events. The API base URL is configurable (STRIPE_API_URL), so tests
// and local runs talk to stripe-mock.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	portalsession "github.com/stripe/stripe-go/v76/billingportal/session"
	checkoutsession "github.com/stripe/stripe-go/v76/checkout/session"
	"github.com/stripe/stripe-go/v76/customer"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/store"
)

// EnvConfig is billing's configuration from the environment; functions embed it.
type EnvConfig struct {
	// SecretKey is the Stripe secret key; empty turns billing off.
	SecretKey config.Secret `env:"STRIPE_SECRET_KEY"`
	// APIURL is Stripe's API base URL (stripe-mock in tests); empty means Stripe's own.
	APIURL string `env:"STRIPE_API_URL"`
	// PriceIDs are the prices a Checkout subscription gets, comma-separated. They are
	// metered prices (no quantity), one per meter.
	PriceIDs []string `env:"STRIPE_PRICE_IDS"`
	// Timeout bounds each Stripe call.
	Timeout time.Duration `env:"STRIPE_TIMEOUT, default=10s"`
	// SuccessURL, CancelURL and ReturnURL are where Stripe sends users back to when a
	// request names none.
	SuccessURL string `env:"BILLING_SUCCESS_URL"`
	CancelURL  string `env:"BILLING_CANCEL_URL"`
	ReturnURL  string `env:"BILLING_RETURN_URL"`
	// Prices turn usage into spend for budgets.
	Prices billing.PriceConfig
}

// DefaultTimeout bounds a Stripe call when Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Enabled reports whether a Stripe key is configured.
func (c EnvConfig) Enabled() bool { return c.SecretKey != "" }

// Validate reports every problem at once.
func (c EnvConfig) Validate() error {
	var p config.Problems
	p.Add(c.Prices.Validate())
	p.Check(c.Timeout >= 0 && c.Timeout <= time.Minute, "STRIPE_TIMEOUT must be in [0, 1m], got %s", c.Timeout)
	if c.APIURL != "" {
		p.Check(strings.HasPrefix(c.APIURL, "https://") || strings.HasPrefix(c.APIURL, "http://127.0.0.1:") ||
			strings.HasPrefix(c.APIURL, "http://localhost:"), "STRIPE_API_URL must be https (or http on loopback for stripe-mock)")
	}
	if c.Enabled() {
		p.Check(len(c.PriceIDs) > 0, "STRIPE_PRICE_IDS needs at least one price when STRIPE_SECRET_KEY is set")
		for _, id := range c.PriceIDs {
			p.Check(strings.HasPrefix(id, "price_") && !strings.ContainsAny(id, " \t,"), "STRIPE_PRICE_IDS: %q is not a price id", id)
		}
	}
	p.Add(billing.CheckURL("BILLING_SUCCESS_URL", c.SuccessURL))
	p.Add(billing.CheckURL("BILLING_CANCEL_URL", c.CancelURL))
	p.Add(billing.CheckURL("BILLING_RETURN_URL", c.ReturnURL))
	return p.Err()
}

// Options returns the billing.Options of this configuration: the Stripe provider when a key
// is set (nil otherwise: billing off), the prices and the return URLs. usage is where spend
// comes from.
func (c EnvConfig) Options(usage billing.UsageTotals) (billing.Options, error) {
	prices, err := c.Prices.Prices()
	if err != nil {
		return billing.Options{}, err
	}
	o := billing.Options{Usage: usage, Prices: prices, SuccessURL: c.SuccessURL, CancelURL: c.CancelURL, ReturnURL: c.ReturnURL}
	if c.Enabled() {
		o.Provider = New(c, nil)
	}
	return o, nil
}

// Provider is billing.Provider on Stripe.
type Provider struct {
	backend stripego.Backend
	key     string
	prices  []string
	timeout time.Duration
}

// New returns a Provider for cfg; hc is the HTTP client (nil: one with cfg's timeout).
func New(cfg EnvConfig, hc *http.Client) *Provider {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	bc := &stripego.BackendConfig{
		HTTPClient: hc,
		// Network errors and 5xx are retried by stripe-go with the same idempotency key.
		MaxNetworkRetries: stripego.Int64(2),
		LeveledLogger:     &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if cfg.APIURL != "" {
		bc.URL = stripego.String(cfg.APIURL)
	}
	return &Provider{backend: stripego.GetBackendWithConfig(stripego.APIBackend, bc), key: cfg.SecretKey.Reveal(),
		prices: append([]string(nil), cfg.PriceIDs...), timeout: timeout}
}

// CreateCustomer implements billing.Provider: the customer carries the tenant id as metadata.
func (p *Provider) CreateCustomer(ctx context.Context, req billing.CustomerRequest) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := &stripego.CustomerParams{Name: stripego.String(req.Name)}
	if req.Email != "" {
		params.Email = stripego.String(req.Email)
	}
	params.AddMetadata("tenant", req.Tenant)
	params.Context = ctx
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	c, err := customer.Client{B: p.backend, Key: p.key}.New(params)
	if err != nil {
		return "", providerError("create customer", err)
	}
	if c.ID == "" {
		return "", fmt.Errorf("%w: create customer: Stripe answered no id", billing.ErrUnavailable)
	}
	return c.ID, nil
}

// CheckoutSession implements billing.Provider: a subscription of the configured (metered)
// prices, with the tenant id as client reference and as the subscription's metadata.
func (p *Provider) CheckoutSession(ctx context.Context, req billing.CheckoutRequest) (billing.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := &stripego.CheckoutSessionParams{
		Mode:              stripego.String(string(stripego.CheckoutSessionModeSubscription)),
		Customer:          stripego.String(req.Customer),
		ClientReferenceID: stripego.String(req.Tenant),
		SuccessURL:        stripego.String(req.SuccessURL),
		CancelURL:         stripego.String(req.CancelURL),
		SubscriptionData:  &stripego.CheckoutSessionSubscriptionDataParams{Metadata: map[string]string{"tenant": req.Tenant}},
	}
	for _, price := range p.prices {
		params.LineItems = append(params.LineItems, &stripego.CheckoutSessionLineItemParams{Price: stripego.String(price)})
	}
	params.AddMetadata("tenant", req.Tenant)
	params.Context = ctx
	s, err := checkoutsession.Client{B: p.backend, Key: p.key}.New(params)
	if err != nil {
		return billing.Session{}, providerError("create checkout session", err)
	}
	return billing.Session{ID: s.ID, URL: s.URL}, nil
}

// PortalSession implements billing.Provider.
func (p *Provider) PortalSession(ctx context.Context, req billing.PortalRequest) (billing.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := &stripego.BillingPortalSessionParams{Customer: stripego.String(req.Customer), ReturnURL: stripego.String(req.ReturnURL)}
	params.Context = ctx
	s, err := portalsession.Client{B: p.backend, Key: p.key}.New(params)
	if err != nil {
		return billing.Session{}, providerError("create portal session", err)
	}
	return billing.Session{ID: s.ID, URL: s.URL}, nil
}

// providerError classifies a Stripe error: 4xx other than 409 and 429 are rejections (a
// configuration problem, never the secret key's value), the rest may pass on a retry.
func providerError(op string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) {
		switch s := se.HTTPStatusCode; {
		case s == http.StatusConflict, s == http.StatusTooManyRequests, s >= 500:
			return fmt.Errorf("%w: %s: Stripe %d %s", billing.ErrUnavailable, op, s, se.Type)
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			// Stripe's message quotes part of the key: keep it out.
			return fmt.Errorf("%w: %s: Stripe refused the API key (%d)", billing.ErrRejected, op, s)
		case s >= 400:
			return fmt.Errorf("%w: %s: Stripe %d %s %s: %s", billing.ErrRejected, op, s, se.Type, se.Code, se.Msg)
		}
	}
	return fmt.Errorf("%w: %s: %v", billing.ErrUnavailable, op, err)
}

// NewService is the billing service of this configuration over st, with spend from usage.
func (c EnvConfig) NewService(st store.Store, usage billing.UsageTotals) (*billing.Service, error) {
	o, err := c.Options(usage)
	if err != nil {
		return nil, err
	}
	return billing.NewService(st, o)
}
