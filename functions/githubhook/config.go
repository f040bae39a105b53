package githubhook

import (
	"time"

	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/config"
)

// Config is the githubhook function's configuration, from the environment.
type Config struct {
	// ProjectID is the Google Cloud project (Cloud Run sets GOOGLE_CLOUD_PROJECT for functions).
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// SecretsProject is the project holding tenant secrets (default: ProjectID).
	SecretsProject string `env:"SECRETS_PROJECT"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// RequestTimeout is each request's deadline (GitHub gives up after 10 s).
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=10s"`
	// MaxBodyBytes caps a delivery's body.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=5242880"`
	// DeliveryTTL is how long a delivery id is remembered for deduplication.
	DeliveryTTL time.Duration `env:"DELIVERY_TTL, default=720h"`
	// Build is where prebuilds run.
	Build cloudbuild.EnvConfig
}

// Defaults that callers building a Config by hand (runyard dev, tests) use.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxBodyBytes   = 5 << 20
	DefaultDeliveryTTL    = 30 * 24 * time.Hour
)

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(c.RequestTimeout > 0 && c.RequestTimeout <= 10*time.Minute, "REQUEST_TIMEOUT must be in (0, 10m], got %s", c.RequestTimeout)
	p.Check(c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 32<<20, "MAX_BODY_BYTES must be 1 KiB to 32 MiB, got %d", c.MaxBodyBytes)
	p.Check(c.DeliveryTTL >= time.Hour && c.DeliveryTTL <= 400*24*time.Hour, "DELIVERY_TTL must be 1h to 400 days, got %s", c.DeliveryTTL)
	return p.Err()
}
