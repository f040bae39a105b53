// Package api is the api function: the HTTPS API for frontends and CLIs — tenants, members,
// API keys and the audit log (later: runtimes, builds, secrets, usage).
//
// init only registers the function; backends are built on the first request, once, so
// importing this package (tests, runyard dev) never dials a cloud API.
package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"

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
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/runtime/runtimeenv"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/sources/gcs"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
	wsgcs "github.com/runyard/runyard/shared/workspace/gcs"
)

// FunctionName is the function's name everywhere: folder, FunctionName, image, service.
const FunctionName = "api"

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
	// Secrets replaces the Secret Manager backend of tenant secrets.
	Secrets secrets.Manager
	// Builder replaces the Cloud Build builder.
	Builder build.Builder
	// Deployer replaces the Cloud Run deployer of runtimes.
	Deployer deploy.Deployer
	// Sources replaces the Cloud Storage store of uploaded source archives.
	Sources sources.Store
	// IDTokenOptions are passed to the ID token validator (tests serve test keys with them).
	IDTokenOptions []option.ClientOption
	// Resolver replaces the DNS resolver custom domains are verified with (DNS_SERVER).
	Resolver whitelabel.TXTResolver
	// Dev verifies local dev tokens. Only `runyard dev` sets it; the deployed function never does.
	Dev authn.DevVerifier
	// Publisher publishes closed usage periods (default: Pub/Sub).
	Publisher events.Publisher
	// Identity replaces the IAM adapter of tenant service accounts (tests; runyard dev's local one).
	Identity identity.Manager
	// Workspace replaces the Cloud Storage workspace provisioner (tests).
	Workspace *wsgcs.Provisioner
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("api: store: %w", err)
	}
	sec, err := secretmanager.Or(ctx, opts.Secrets, cmp.Or(cfg.SecretsProject, cfg.ProjectID))
	if err != nil {
		return nil, fmt.Errorf("api: secrets: %w", err)
	}
	// The identity service authorizes with tenancy, and tenancy deletes a tenant's identities
	// with it: tenancy gets a closure over the service built just after.
	var idsvc *identity.Service
	tenOpts := []tenancy.Option{tenancy.WithSecrets(sec)}
	if cfg.Runtimes.TenantIdentity() {
		tenOpts = append(tenOpts, tenancy.WithIdentities(func(ctx context.Context, t string) error { return idsvc.DeleteTenant(ctx, t) }))
	}
	ten, err := tenancy.NewService(st, authn.NewAPIKey, tenOpts...)
	if err != nil {
		return nil, err
	}
	if idsvc, err = runtimeenv.IdentityService(ctx, cfg.Runtimes, st, opts.Identity, ten); err != nil {
		return nil, err
	}
	ids, err := auth.NewIDTokenVerifier(ctx, cfg.Audiences, opts.IDTokenOptions...)
	if err != nil {
		return nil, fmt.Errorf("api: id tokens: %w", err)
	}
	an, err := authn.New(ten, ids, opts.Dev)
	if err != nil {
		return nil, err
	}
	builder := opts.Builder
	if builder == nil {
		builder, err = cloudbuild.New(ctx, cfg.Build.Config(cfg.ProjectID))
		if err != nil {
			return nil, fmt.Errorf("api: builder: %w", err)
		}
	}
	builds, err := build.NewService(st, builder)
	if err != nil {
		return nil, err
	}
	src := opts.Sources
	if src == nil {
		if src, err = gcs.New(ctx, cfg.SourcesBucket); err != nil {
			return nil, fmt.Errorf("api: sources: %w", err)
		}
	}
	rp, err := repos.NewService(st, sec, ten, cfg.Repos)
	if err != nil {
		return nil, err
	}
	// Periods closed by this function's runtime moves are published right after each move;
	// the sweeper's drain catches any a crash leaves in the outbox.
	pub, err := eventspubsub.Or(ctx, opts.Publisher, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	use, err := runtimeenv.Usage(runtimeenv.Params{Store: st, Env: cfg.Runtimes, Publisher: pub})
	if err != nil {
		return nil, err
	}
	bill, err := cfg.Billing.NewService(st, billing.TotalsOf(use))
	if err != nil {
		return nil, fmt.Errorf("api: billing: %w", err)
	}
	orch, dep, err := runtimeenv.Orchestrator(ctx, runtimeenv.Params{ProjectID: cfg.ProjectID, Env: cfg.Runtimes, Store: st,
		Builds: builds, Deployer: opts.Deployer, Usage: use, PublicAPI: cfg.PublicURL, GrantSecrets: sec.GrantAccess, Gate: bill.Check,
		Identity: idsvc, Workspace: opts.Workspace})
	if err != nil {
		return nil, err
	}
	resolver := opts.Resolver
	if resolver == nil {
		resolver = whitelabel.NewResolver(cfg.DNSServer)
	}
	wls, err := whitelabel.NewService(st, ten, resolver, whitelabel.Config{Platform: cfg.Runtimes.RuntimeDomain, DNSTimeout: cfg.DNSTimeout})
	if err != nil {
		return nil, err
	}
	lk, err := whitelabel.NewLookup(st, whitelabel.LookupConfig{Platform: cfg.Runtimes.RuntimeDomain, TTL: cfg.WhitelabelCacheTTL,
		Default: whitelabel.Branding{ProductName: cfg.BrandingProductName, LogoURL: cfg.BrandingLogoURL, SupportURL: cfg.BrandingSupportURL}})
	if err != nil {
		return nil, err
	}
	s, err := NewServer(cfg, ten, an, builds, src, rp, orch, dep, wls, lk)
	if err != nil {
		return nil, err
	}
	s.billing, s.usage = bill, use
	s.identity = idsvc
	if s.previews, err = newPreviewAPI(st, cfg.PreviewLinkKey); err != nil {
		return nil, err
	}
	return httpx.Stack(s.Routes(), httpx.Options{
		Logger: opts.Logger, ProjectID: cfg.ProjectID, MaxBody: cfg.MaxBodyBytes, Timeout: cfg.RequestTimeout,
	}), nil
}
