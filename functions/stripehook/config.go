package stripehook

import (
	"time"

	"github.com/runyard/runyard/shared/config"
)

// Config is the stripehook function's configuration, from the environment.
type Config struct {
	// ProjectID is the Google Cloud project (Cloud Run sets GOOGLE_CLOUD_PROJECT for functions).
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// WebhookSecret is the Stripe endpoint's signing secret (whsec_…), from Secret Manager
	// as an env ref. Empty: billing is off and every event answers 501 billing_disabled.
	WebhookSecret config.Secret `env:"STRIPE_WEBHOOK_SECRET"`
	// Tolerance is how old a signature may be.
	Tolerance time.Duration `env:"WEBHOOK_TOLERANCE, default=300s"`
	// EventTTL is how long a handled event id is remembered (the ledger's expire_at).
	EventTTL time.Duration `env:"EVENT_TTL, default=720h"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// RequestTimeout is each request's deadline.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=10s"`
	// MaxBodyBytes caps an event's body.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=1048576"`
}

// Defaults that callers building a Config by hand (runyard dev, tests) use.
const (
	DefaultTolerance      = 300 * time.Second
	DefaultEventTTL       = 30 * 24 * time.Hour
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
)

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(c.WebhookSecret == "" || len(c.WebhookSecret) >= 16, "STRIPE_WEBHOOK_SECRET is too short to be a signing secret")
	p.Check(c.Tolerance >= 30*time.Second && c.Tolerance <= time.Hour, "WEBHOOK_TOLERANCE must be 30s to 1h, got %s", c.Tolerance)
	p.Check(c.EventTTL >= time.Hour && c.EventTTL <= 400*24*time.Hour, "EVENT_TTL must be 1h to 400 days, got %s", c.EventTTL)
	p.Check(c.RequestTimeout > 0 && c.RequestTimeout <= 10*time.Minute, "REQUEST_TIMEOUT must be in (0, 10m], got %s", c.RequestTimeout)
	p.Check(c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 32<<20, "MAX_BODY_BYTES must be 1 KiB to 32 MiB, got %d", c.MaxBodyBytes)
	return p.Err()
}
