// Package sweeper is the sweeper function: a Cloud Scheduler job publishes a tick to the
// Pub/Sub topic sweeper-tick every minute, Eventarc delivers it as a messagePublished
// CloudEvent, and each tick pauses idle runtimes, archives long-paused ones, deletes archived
// ones past the tenant's retention, fails runtimes stuck deploying or whose service vanished,
// and removes Cloud Run services of ours that no runtime record owns.
//
// Every action goes through runtime.Orchestrator.Do or runtime.Service.Transition (state
// checked in a transaction) under a short per-runtime lease in the event ledger, so two
// sweepers running at once, or a redelivered tick, never act twice. A tick does at most
// MAX_PER_TICK actions; the rest are found again by the next tick. See README.md.
package sweeper

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
	"github.com/runyard/runyard/shared/fnmain"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime/runtimeenv"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
	"github.com/runyard/runyard/shared/usage"
)

// FunctionName is the function's name everywhere.
const FunctionName = "sweeper"

func init() { functions.CloudEvent(FunctionName, fnmain.LazyEvent(FunctionName, buildFromEnv)) }

// Config is the function's configuration.
type Config struct {
	ProjectID         string `env:"GOOGLE_CLOUD_PROJECT"`
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	LogLevel          string `env:"LOG_LEVEL, default=info"`
	// MaxPerTick caps the actions of one tick.
	MaxPerTick int `env:"MAX_PER_TICK, default=100"`
	// StuckAfter fails runtimes deploying for longer.
	StuckAfter time.Duration `env:"STUCK_AFTER, default=15m"`
	// LeaseTTL is how long one sweeper's claim on a runtime keeps others off it.
	LeaseTTL time.Duration `env:"LEASE_TTL, default=5m"`
	// TickTimeout bounds one tick.
	TickTimeout time.Duration `env:"TICK_TIMEOUT, default=50s"`
	// Runtimes says where runtime services live (only RUNYARD_CELLS and
	// RUNYARD_PROJECT_NUMBERS are used: the sweeper deploys nothing).
	Runtimes cloudrun.EnvConfig
	// Billing: whether billing is on and the unit prices budgets are counted in; running
	// runtimes of tenants past due or over budget are paused.
	Billing stripe.EnvConfig
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(c.MaxPerTick > 0, "MAX_PER_TICK must be positive")
	p.Check(c.StuckAfter > 0, "STUCK_AFTER must be positive")
	p.Check(c.LeaseTTL > 0, "LEASE_TTL must be positive")
	p.Check(c.TickTimeout > 0, "TICK_TIMEOUT must be positive")
	cells, err := deploy.ParseCells(c.Runtimes.Cells)
	p.Add(err)
	p.Check(err != nil || len(cells) > 0, "RUNYARD_CELLS needs at least one cell (name:project:region:limit)")
	_, err = deploy.ParseProjectNumbers(c.Runtimes.ProjectNumbers)
	p.Add(err)
	p.Add(c.Billing.Validate())
	return p.Err()
}

// Options are the backends Build uses; zero values mean the production ones from Config.
type Options struct {
	Logger *slog.Logger
	Store  store.Store
	// Deployer should implement deploy.Lister (cloudrun and local do); runyard dev passes its
	// local driver.
	Deployer deploy.Deployer
	// Now is the clock (default time.Now in UTC).
	Now func() time.Time
	// Publisher publishes usage periods the outbox still holds (default: Pub/Sub).
	Publisher events.Publisher
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

// Build wires the function's handler from cfg and opts. Zero durations and MaxPerTick take
// their defaults.
func Build(ctx context.Context, cfg Config, opts Options) (*Handler, error) {
	if cfg.TickTimeout <= 0 {
		cfg.TickTimeout = DefaultTickTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := firestore.Or(ctx, opts.Store, firestore.Config{ProjectID: cfg.ProjectID, DatabaseID: cfg.FirestoreDatabase})
	if err != nil {
		return nil, fmt.Errorf("sweeper: store: %w", err)
	}
	// The sweeper never starts builds; the orchestrator only needs a build service to exist.
	builds, err := build.NewService(st, build.NoBuilder{})
	if err != nil {
		return nil, err
	}
	pub, err := eventspubsub.Or(ctx, opts.Publisher, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("sweeper: %w", err)
	}
	use, err := usage.NewService(st, usage.Options{Publisher: pub, StorageRate: cfg.Runtimes.UsageStorageRate, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("sweeper: %w", err)
	}
	orch, dep, err := runtimeenv.Orchestrator(ctx, runtimeenv.Params{ProjectID: cfg.ProjectID, Env: cfg.Runtimes, Store: st,
		Builds: builds, Deployer: opts.Deployer, Usage: use})
	if err != nil {
		return nil, fmt.Errorf("sweeper: %w", err)
	}
	sw, err := NewSweeper(st, orch, dep, Settings{MaxPerTick: cfg.MaxPerTick, StuckAfter: cfg.StuckAfter, LeaseTTL: cfg.LeaseTTL},
		opts.Now, opts.Logger)
	if err != nil {
		return nil, err
	}
	bill, err := cfg.Billing.NewService(st, billing.TotalsOf(use))
	if err != nil {
		return nil, fmt.Errorf("sweeper: billing: %w", err)
	}
	return NewHandler(sw.WithUsage(use).WithGate(bill.Check), cfg.TickTimeout, opts.Logger)
}
