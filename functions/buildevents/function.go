// Package buildevents is the buildevents function: it receives Cloud Build's status
// notifications (Pub/Sub topic cloud-builds, through Eventarc, as messagePublished
// CloudEvents), records them on the build in a transaction, and publishes a build.finished
// event when a build ends.
//
// Redelivered and out-of-order notifications never move a build backwards; notifications of
// builds that are not Runyard's, or that it has no record of, are acknowledged and logged.
package buildevents

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
	"github.com/runyard/runyard/shared/fnmain"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime/runtimeenv"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	"github.com/runyard/runyard/shared/usage"
)

// FunctionName is the function's name everywhere.
const FunctionName = "buildevents"

func init() { functions.CloudEvent(FunctionName, fnmain.LazyEvent(FunctionName, buildFromEnv)) }

// Config is the function's configuration.
type Config struct {
	ProjectID         string `env:"GOOGLE_CLOUD_PROJECT"`
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// FinishedTopic receives build.finished events.
	FinishedTopic string `env:"BUILD_EVENTS_TOPIC, default=build-events"`
	LogLevel      string `env:"LOG_LEVEL, default=info"`
	// Runtimes says where runtimes waiting on builds are deployed.
	Runtimes cloudrun.EnvConfig
	// SecretsProject holds tenant secrets (default: GOOGLE_CLOUD_PROJECT).
	SecretsProject string `env:"SECRETS_PROJECT"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(c.FinishedTopic != "", "BUILD_EVENTS_TOPIC must not be empty")
	p.Add(c.Runtimes.Validate())
	return p.Err()
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

// Options are the backends Build uses; zero values mean the production ones from Config.
type Options struct {
	Logger    *slog.Logger
	Store     store.Store
	Publisher events.Publisher
	// Continuer continues runtimes waiting on builds (runyard dev passes its orchestrator).
	Continuer Continuer
}

// Build wires the function's handler from cfg and opts.
func Build(ctx context.Context, cfg Config, opts Options) (*Handler, error) {
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("buildevents: store: %w", err)
	}
	pub, err := eventspubsub.Or(ctx, opts.Publisher, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("buildevents: %w", err)
	}
	// The service never starts builds here, so it needs no builder.
	svc, err := build.NewService(st, build.NoBuilder{})
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(svc, pub, cfg.FinishedTopic, opts.Logger)
	if err != nil {
		return nil, err
	}
	use, err := usage.NewService(st, usage.Options{Publisher: pub, StorageRate: cfg.Runtimes.UsageStorageRate})
	if err != nil {
		return nil, fmt.Errorf("buildevents: %w", err)
	}
	next := opts.Continuer
	if next == nil {
		if next, err = runtimes(ctx, cfg, st, svc, use); err != nil {
			return nil, err
		}
	}
	return h.WithContinuer(next).WithUsage(use), nil
}

// runtimes builds the production continuation: the orchestrator on Cloud Run.
func runtimes(ctx context.Context, cfg Config, st store.Store, builds *build.Service, use *usage.Service) (Continuer, error) {
	sec, err := secretmanager.New(ctx, cmp.Or(cfg.SecretsProject, cfg.ProjectID))
	if err != nil {
		return nil, fmt.Errorf("buildevents: secrets: %w", err)
	}
	orch, _, err := runtimeenv.Orchestrator(ctx, runtimeenv.Params{ProjectID: cfg.ProjectID, Env: cfg.Runtimes, Store: st,
		Builds: builds, GrantSecrets: sec.GrantAccess, Usage: use})
	return orch, err
}
