package api

import (
	"time"

	"github.com/runyard/runyard/shared/config"
)

// Config is the api function's configuration, from the environment.
type Config struct {
	// ProjectID is the Google Cloud project (Cloud Run sets GOOGLE_CLOUD_PROJECT for functions).
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// SecretsProject is the project holding tenant secrets (default: ProjectID).
	SecretsProject string `env:"SECRETS_PROJECT"`
	// Audiences are the accepted Google ID token audiences (OAuth client ids of the frontends,
	// or this service's URL for service-to-service callers). Comma-separated.
	Audiences []string `env:"RUNYARD_AUDIENCES"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// RequestTimeout is each request's deadline.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=30s"`
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=1048576"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(len(c.Audiences) > 0, "RUNYARD_AUDIENCES needs at least one ID token audience")
	for _, a := range c.Audiences {
		p.Check(a != "", "RUNYARD_AUDIENCES has an empty entry")
	}
	p.Check(c.RequestTimeout > 0 && c.RequestTimeout <= 10*time.Minute, "REQUEST_TIMEOUT must be in (0, 10m], got %s", c.RequestTimeout)
	p.Check(c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 32<<20, "MAX_BODY_BYTES must be 1 KiB to 32 MiB, got %d", c.MaxBodyBytes)
	return p.Err()
}

// Defaults that callers building a Config by hand (runyard dev, tests) use.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
)
