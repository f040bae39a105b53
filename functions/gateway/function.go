// Package gateway is the gateway function: in domain mode it serves every runtime host under
// the platform's runtime domain and tenants' verified custom domains ({runtime}.{d},
// vscode-{runtime}.{d}, work-1-/work-2-…, {port}-{runtime}.{d}; shared/hosts) behind a global
// HTTPS load balancer. It finds the runtime (cached briefly per instance), authorizes the
// request by the runtime's mode (an IAP JWT from the load balancer plus tenant membership, or
// the session key, VS Code's token and the preview rules of shared/previews), and proxies it,
// streaming and WebSockets included, to the runtime's Cloud Run service with a Google-signed ID
// token for that service (whose only invoker is the gateway). A denied preview gets the
// tenant's branded page. See README.md.
//
// init only registers the function; backends are built on the first request, once, so
// importing this package (tests, runyard dev) never dials a cloud API.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	"github.com/runyard/runyard/shared/whitelabel"
)

// FunctionName is the function's name everywhere: folder, FunctionName, image, service.
const FunctionName = "gateway"

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
	// Verifier replaces the IAP verifier built from IAP_AUDIENCE.
	Verifier Verifier
	// Domains and Branding replace custom domains and tenant branding from shared/whitelabel.
	Domains  DomainResolver
	Branding Brander
	// Tokens replaces idtoken.NewTokenSource.
	Tokens TokenSourceFunc
	// Transport replaces the transport to runtime services.
	Transport http.RoundTripper
	// Local is set by runyard dev only (see Deps.Local).
	Local LocalUpstream
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("gateway: store: %w", err)
	}
	v := opts.Verifier
	if v == nil && cfg.IAPAudience != "" {
		iv, err := auth.NewIAPVerifier(ctx, cfg.IAPAudience)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		v = iv
	}
	if opts.Domains == nil || opts.Branding == nil {
		l, err := whitelabel.NewLookup(st, whitelabel.LookupConfig{Platform: cfg.RuntimeDomain, TTL: cfg.CacheTTL})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		d, b := Whitelabel(l)
		if opts.Domains == nil {
			opts.Domains = d
		}
		if opts.Branding == nil {
			opts.Branding = b
		}
	}
	s, err := NewServer(cfg, Deps{Store: st, Verifier: v, Domains: opts.Domains, Branding: opts.Branding,
		Tokens: opts.Tokens, Transport: opts.Transport, Local: opts.Local, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return s.Handler(), nil
}
