// Package usage is the usage function: it receives closed usage periods (Pub/Sub topic usage,
// through Eventarc, as messagePublished CloudEvents; published by shared/usage's outbox) and
// turns each into Stripe meter events (runtime_vcpu_seconds, runtime_gib_seconds,
// build_minutes) for the tenant's Stripe customer.
//
// Each meter event's identifier and idempotency key is "{period}.{meter}", and the period
// records the meter events Stripe accepted, so a redelivered or republished period is never
// billed twice. Retryable Stripe failures (network, 409, 429, 5xx) return an error so Eventarc
// redelivers; permanent ones (other 4xx) are recorded on the period and acknowledged. Without
// STRIPE_SECRET_KEY billing is off: periods are recorded as such and acknowledged.
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/billing/meterevent"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/fnmain"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	usagesvc "github.com/runyard/runyard/shared/usage"
)

// FunctionName is the function's name everywhere.
const FunctionName = "usage"

func init() { functions.CloudEvent(FunctionName, fnmain.LazyEvent(FunctionName, buildFromEnv)) }

// Config is the function's configuration.
type Config struct {
	ProjectID         string `env:"GOOGLE_CLOUD_PROJECT"`
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	LogLevel          string `env:"LOG_LEVEL, default=info"`
	// StripeSecretKey turns billing on; empty records usage without sending it to Stripe.
	StripeSecretKey config.Secret `env:"STRIPE_SECRET_KEY"`
	// StripeAPIURL overrides Stripe's API base URL (stripe-mock in tests and locally).
	StripeAPIURL string `env:"STRIPE_API_URL"`
	// StripeTimeout bounds each Stripe call.
	StripeTimeout time.Duration `env:"STRIPE_TIMEOUT, default=10s"`
	// StripeMaxRetries is how often stripe-go retries a network error, 409, 429 or 5xx
	// itself (same idempotency key) before the handler returns the error for redelivery.
	StripeMaxRetries int `env:"STRIPE_MAX_NETWORK_RETRIES, default=2"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(c.StripeTimeout > 0 && c.StripeTimeout <= time.Minute, "STRIPE_TIMEOUT must be in (0, 1m]")
	p.Check(c.StripeMaxRetries >= 0 && c.StripeMaxRetries <= 5, "STRIPE_MAX_NETWORK_RETRIES must be in [0, 5]")
	if c.StripeAPIURL != "" {
		p.Check(strings.HasPrefix(c.StripeAPIURL, "https://") || strings.HasPrefix(c.StripeAPIURL, "http://127.0.0.1:") ||
			strings.HasPrefix(c.StripeAPIURL, "http://localhost:"), "STRIPE_API_URL must be https (or http on loopback for stripe-mock)")
	}
	return p.Err()
}

// Options are the backends Build uses; zero values mean the production ones from Config.
type Options struct {
	Logger *slog.Logger
	Store  store.Store
	// HTTPClient is the Stripe client's (default: one with STRIPE_TIMEOUT).
	HTTPClient *http.Client
}

// buildFromEnv wires the deployed function from its environment.
func buildFromEnv() (*Handler, error) {
	ctx := context.Background()
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return nil, err
	}
	return Build(ctx, cfg, Options{Logger: logging.New(os.Stdout, logging.ParseLevel(cfg.LogLevel))})
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (*Handler, error) {
	if cfg.StripeTimeout <= 0 {
		cfg.StripeTimeout = 10 * time.Second
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("usage: store: %w", err)
	}
	periods, err := usagesvc.NewService(st, usagesvc.Options{})
	if err != nil {
		return nil, err
	}
	var meter MeterEvents
	if cfg.StripeSecretKey != "" {
		meter = NewMeterEvents(cfg, opts.HTTPClient)
	}
	return NewHandler(periods, AccountCustomers{Store: st}, meter, opts.Logger)
}

// NewMeterEvents returns stripe-go's meter event client for cfg (key, base URL, timeout,
// retries); hc nil means a client with cfg's timeout.
func NewMeterEvents(cfg Config, hc *http.Client) meterevent.Client {
	if hc == nil {
		hc = &http.Client{Timeout: cfg.StripeTimeout}
	}
	bc := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(int64(cfg.StripeMaxRetries)),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.StripeAPIURL != "" {
		bc.URL = stripe.String(cfg.StripeAPIURL)
	}
	return meterevent.Client{B: stripe.GetBackendWithConfig(stripe.APIBackend, bc), Key: cfg.StripeSecretKey.Reveal()}
}

// AccountCustomers reads the Stripe customer from the tenant's billing account
// (tenants/{t}/billing/account, written by shared/billing).
type AccountCustomers struct{ Store store.Store }

// StripeCustomer implements Customers.
func (c AccountCustomers) StripeCustomer(ctx context.Context, tenant string) (string, error) {
	var a billing.Account
	_, err := c.Store.Get(ctx, billing.AccountKey(tenant), &a)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("usage: read billing account: %w", err)
	}
	return a.Customer, nil
}
