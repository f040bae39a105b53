// Package runtimeapi is the runtimeapi function: the OpenHands Remote Runtime API
// (POST /start, GET /sessions/{id}, /runtime/{id}, /pause, /resume, /stop, /list, …), so stock
// OpenHands (V0 RemoteRuntime, V1 RemoteSandboxService, the agent SDK's APIRemoteWorkspace)
// runs its sandboxes as Runyard runtimes. Callers authenticate with X-API-Key, a tenant API
// key with the runtimes scope; every runtime belongs to that key's tenant.
//
// init only registers the function; backends are built on the first request, once, so
// importing this package (tests, runyard dev) never dials a cloud API.
package runtimeapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime/runtimeenv"
	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/sources/gcs"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
)

// FunctionName is the function's name everywhere: folder, FunctionName, image, service.
const FunctionName = "runtimeapi"

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
	// Builder replaces the Cloud Build builder.
	Builder build.Builder
	// Deployer replaces the Cloud Run deployer of runtimes.
	Deployer deploy.Deployer
	// Sources replaces the Cloud Storage store of uploaded build contexts.
	Sources sources.Store
	// HTTPClient does the readiness check GET {url}/alive (nil: a plain client). Tests route
	// the runtimes' URLs to a local server with it.
	HTTPClient *http.Client
	// Publisher publishes closed usage periods (default: Pub/Sub).
	Publisher events.Publisher
	// Identity replaces the IAM adapter of tenant service accounts (runyard dev's local one).
	Identity identity.Manager
	// LocalImages is set by `runyard dev` only: /start takes image "local:<folder>" (run with
	// the local driver) and nothing else, and the build endpoints answer 501.
	LocalImages bool
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if cfg.AliveTimeout <= 0 {
		cfg.AliveTimeout = DefaultAliveTimeout
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: store: %w", err)
	}
	ten, err := tenancy.NewService(st, authn.NewAPIKey)
	if err != nil {
		return nil, err
	}
	an, err := authn.New(ten, noIDTokens{}, nil)
	if err != nil {
		return nil, err
	}
	builder := opts.Builder
	if builder == nil {
		if builder, err = cloudbuild.New(ctx, cfg.Build.Config(cfg.ProjectID)); err != nil {
			return nil, fmt.Errorf("runtimeapi: builder: %w", err)
		}
	}
	builds, err := build.NewService(st, builder)
	if err != nil {
		return nil, err
	}
	// Periods closed by this function's runtime moves are published right after each move;
	// the sweeper's drain catches any a crash leaves in the outbox.
	pub, err := eventspubsub.Or(ctx, opts.Publisher, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: %w", err)
	}
	use, err := runtimeenv.Usage(runtimeenv.Params{Store: st, Env: cfg.Runtimes, Publisher: pub})
	if err != nil {
		return nil, err
	}
	bill, err := cfg.Billing.NewService(st, billing.TotalsOf(use))
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: billing: %w", err)
	}
	orch, _, err := runtimeenv.Orchestrator(ctx, runtimeenv.Params{ProjectID: cfg.ProjectID, Env: cfg.Runtimes, Store: st,
		Builds: builds, Deployer: opts.Deployer, Usage: use, PublicAPI: cfg.ActivityBaseURL, Gate: bill.Check,
		IdentityManager: opts.Identity})
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	src := opts.Sources
	if src == nil && cfg.SourcesBucket != "" && !opts.LocalImages {
		if src, err = gcs.New(ctx, cfg.SourcesBucket); err != nil {
			return nil, fmt.Errorf("runtimeapi: sources: %w", err)
		}
	}
	lk, err := whitelabel.NewLookup(st, whitelabel.LookupConfig{Platform: cfg.Runtimes.RuntimeDomain, TTL: cfg.WhitelabelCacheTTL})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, authn: an, runtimes: orch, http: hc, local: opts.LocalImages, store: st, builds: builds, sources: src, lookup: lk}
	return httpx.Stack(s.Routes(), httpx.Options{
		Logger: opts.Logger, ProjectID: cfg.ProjectID, MaxBody: cfg.MaxBodyBytes, Timeout: cfg.RequestTimeout,
	}), nil
}

// noIDTokens refuses every bearer token: this API takes tenant API keys only.
type noIDTokens struct{}

func (noIDTokens) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, fmt.Errorf("%w: the runtime API takes tenant API keys (X-API-Key) only", auth.ErrInvalidToken)
}
