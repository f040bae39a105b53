// Package stripehook is the stripehook function: Stripe webhooks (customer.subscription.*,
// invoice.paid, invoice.payment_failed) become tenants' billing state (shared/billing).
//
// POST /v1/events reads the body (capped), verifies the Stripe-Signature header with the
// endpoint's signing secret (stripe-go's webhook package: HMAC-SHA256, timestamp tolerance),
// and applies the event in one transaction with its entry in the idempotency ledger, so an
// event applies at most once and a replayed delivery is rejected.
//
// init only registers the function; backends are built on the first request, once, so
// importing this package (tests, runyard dev) never dials a cloud API.
package stripehook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
)

// FunctionName is the function's name everywhere: folder, FunctionName, image, service.
const FunctionName = "stripehook"

func init() { functions.HTTP(FunctionName, httpx.Lazy(FunctionName, buildFromEnv)) }

// buildFromEnv wires the deployed function from its environment.
func buildFromEnv() (http.Handler, error) {
	ctx := context.Background()
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return nil, err
	}
	return Build(ctx, cfg, Options{Logger: logging.New(os.Stdout, logging.ParseLevel(cfg.LogLevel))})
}

// Options are the backends Build uses; zero values mean the production ones from Config.
type Options struct {
	Logger *slog.Logger
	// Store replaces the Firestore store.
	Store store.Store
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("stripehook: store: %w", err)
	}
	// Applying events needs no Stripe key: only the store.
	bill, err := billing.NewService(st, billing.Options{})
	if err != nil {
		return nil, err
	}
	s, err := NewServer(cfg, bill)
	if err != nil {
		return nil, err
	}
	return httpx.Stack(s.Routes(), httpx.Options{
		Logger: opts.Logger, ProjectID: cfg.ProjectID, MaxBody: cfg.MaxBodyBytes, Timeout: cfg.RequestTimeout,
	}), nil
}
