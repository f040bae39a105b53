// Package githubhook is the githubhook function: GitHub push webhooks of connected
// repositories (shared/repos) become prebuilds.
//
// POST /v1/hooks/{tenant}/{repo} reads the body (capped), finds the connection and its signing
// secret, verifies X-Hub-Signature-256 over the raw body, deduplicates by X-GitHub-Delivery in
// the same transaction as the push record, and starts a prebuild of a push to the default
// branch through a Prebuilder.
//
// init only registers the function; backends are built on the first request, once, so
// importing this package (tests, runyard dev) never dials a cloud API.
package githubhook

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
)

// FunctionName is the function's name everywhere: folder, FunctionName, image, service.
const FunctionName = "githubhook"

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

// Prebuilder starts a prebuild of a source for a tenant; the build service implements it.
// cached is true when an image of the same cache key exists (nothing was built). It must be
// idempotent per source: the webhook calls it at most once per delivery and per commit, but a
// crash between the call and the record may repeat it after the stale period.
type Prebuilder interface {
	Prebuild(ctx context.Context, tenant string, src build.Source, actor string) (buildID string, cached bool, err error)
}

// Options are the backends Build uses; zero values mean the production ones from Config.
type Options struct {
	Logger *slog.Logger
	// Store replaces the Firestore store.
	Store store.Store
	// Secrets replaces the Secret Manager backend holding the webhook signing secrets.
	Secrets secrets.Manager
	// Prebuilder replaces the build service on Cloud Build (from Config.Build).
	Prebuilder Prebuilder
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("githubhook: store: %w", err)
	}
	sec, err := secretmanager.Or(ctx, opts.Secrets, cmp.Or(cfg.SecretsProject, cfg.ProjectID))
	if err != nil {
		return nil, fmt.Errorf("githubhook: secrets: %w", err)
	}
	if opts.Prebuilder == nil {
		builder, err := cloudbuild.New(ctx, cfg.Build.Config(cfg.ProjectID))
		if err != nil {
			return nil, fmt.Errorf("githubhook: builder: %w", err)
		}
		svc, err := build.NewService(st, builder)
		if err != nil {
			return nil, err
		}
		opts.Prebuilder = svc
	}
	hooks, err := repos.NewHooks(st, sec, cfg.DeliveryTTL)
	if err != nil {
		return nil, err
	}
	s, err := NewServer(cfg, hooks, opts.Prebuilder)
	if err != nil {
		return nil, err
	}
	return httpx.Stack(s.Routes(), httpx.Options{
		Logger: opts.Logger, ProjectID: cfg.ProjectID, MaxBody: cfg.MaxBodyBytes, Timeout: cfg.RequestTimeout,
	}), nil
}
