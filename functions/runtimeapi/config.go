package runtimeapi

import (
	"time"

	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
)

// Config is the runtimeapi function's configuration, from the environment.
type Config struct {
	// ProjectID is the Google Cloud project (Cloud Run sets GOOGLE_CLOUD_PROJECT for functions).
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// Build is the Cloud Build configuration (the orchestrator's build service).
	Build cloudbuild.EnvConfig
	// Runtimes configures where and how runtimes run (the same settings as the api function).
	Runtimes cloudrun.EnvConfig
	// Billing: the payment and budget gate in front of /start and /resume (the same settings
	// as the api function's).
	Billing stripe.EnvConfig
	// SourcesBucket is the Cloud Storage bucket for uploaded build contexts (POST /build);
	// empty: the build endpoints answer 501.
	SourcesBucket string `env:"SOURCES_BUCKET"`
	// ActivityBaseURL is the api function's public base URL; runtimes' ingress report activity
	// to it. Empty: no activity reports.
	ActivityBaseURL string `env:"RUNYARD_API_URL"`
	// AliveTimeout bounds the readiness check GET {url}/alive done while answering.
	AliveTimeout time.Duration `env:"ALIVE_TIMEOUT, default=3s"`
	// WhitelabelCacheTTL is how long an instance keeps a tenant's runtime domain (domain mode).
	WhitelabelCacheTTL time.Duration `env:"WHITELABEL_CACHE_TTL, default=30s"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// RequestTimeout is each request's deadline.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=30s"`
	// MaxBodyBytes caps request bodies (the /build upload); JSON bodies are capped at 1 MiB.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=268435456"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Add(c.Runtimes.Validate())
	p.Add(c.Billing.Validate())
	p.Check(c.AliveTimeout > 0 && c.AliveTimeout <= 10*time.Second, "ALIVE_TIMEOUT must be in (0, 10s], got %s", c.AliveTimeout)
	p.Check(c.WhitelabelCacheTTL >= 0 && c.WhitelabelCacheTTL <= time.Hour, "WHITELABEL_CACHE_TTL must be in [0, 1h], got %s", c.WhitelabelCacheTTL)
	p.Check(c.RequestTimeout > 0 && c.RequestTimeout <= 10*time.Minute, "REQUEST_TIMEOUT must be in (0, 10m], got %s", c.RequestTimeout)
	p.Check(c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 1<<30, "MAX_BODY_BYTES must be 1 KiB to 1 GiB, got %d", c.MaxBodyBytes)
	return p.Err()
}

// Defaults that callers building a Config by hand (runyard dev, tests) use.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 256 << 20
	DefaultAliveTimeout   = 3 * time.Second
)
