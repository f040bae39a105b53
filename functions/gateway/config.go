package gateway

import (
	"strings"
	"time"

	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/hosts"
)

// Config is the gateway function's configuration, from the environment.
type Config struct {
	// ProjectID is the Google Cloud project (Cloud Run sets GOOGLE_CLOUD_PROJECT for functions).
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `env:"FIRESTORE_DATABASE, default=(default)"`
	// RuntimeDomain is the platform's runtime domain d: hosts {runtime}.{d}, vscode-{runtime}.{d},
	// work-1-…, {port}-{runtime}.{d} (shared/hosts). Hosts under a tenant's verified custom domain
	// are served too (Deps.Domains).
	RuntimeDomain string `env:"RUNTIME_DOMAIN"`
	// IAPAudience is the aud of the IAP JWTs the load balancer adds when IAP is on its backend
	// service: /projects/NUMBER/global/backendServices/ID. Empty: no IAP in front, so runtimes in
	// iap mode cannot be reached through the gateway (token mode and public previews can).
	IAPAudience string `env:"IAP_AUDIENCE"`
	// PreviewKey signs preview links (the api function must have the same value); at least 32
	// bytes. Empty: preview links are refused.
	PreviewKey config.Secret `env:"PREVIEW_LINK_KEY"`
	// CacheTTL is how long a runtime record, its preview settings and a membership answer are
	// reused per instance (a revoked link or removed member keeps access at most this long).
	CacheTTL time.Duration `env:"CACHE_TTL, default=5s"`
	// CacheSize bounds the number of cached entries per instance.
	CacheSize int `env:"CACHE_SIZE, default=10000"`
	// DialTimeout bounds connecting to a runtime service.
	DialTimeout time.Duration `env:"DIAL_TIMEOUT, default=10s"`
	// LookupTimeout bounds each Firestore read and ID token fetch of a request.
	LookupTimeout time.Duration `env:"LOOKUP_TIMEOUT, default=5s"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
}

// Defaults for callers that build a Config by hand (runyard dev, tests).
const (
	DefaultCacheTTL      = 5 * time.Second
	DefaultCacheSize     = 10000
	DefaultDialTimeout   = 10 * time.Second
	DefaultLookupTimeout = 5 * time.Second
)

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	_, err := hosts.Parse("x." + c.RuntimeDomain)
	p.Check(c.RuntimeDomain != "" && err == nil && !strings.Contains(c.RuntimeDomain, ":"),
		"RUNTIME_DOMAIN must be a domain such as rt.example.com, got %q", c.RuntimeDomain)
	p.Check(c.IAPAudience == "" || strings.HasPrefix(c.IAPAudience, "/projects/") && strings.Contains(c.IAPAudience, "/backendServices/"),
		"IAP_AUDIENCE must be /projects/NUMBER/global/backendServices/ID, got %q", c.IAPAudience)
	p.Check(c.PreviewKey == "" || len(c.PreviewKey) >= 32, "PREVIEW_LINK_KEY must have at least 32 bytes")
	p.Check(c.CacheTTL >= 0 && c.CacheTTL <= time.Minute, "CACHE_TTL must be in [0, 1m], got %s", c.CacheTTL)
	p.Check(c.CacheSize >= 1, "CACHE_SIZE must be positive, got %d", c.CacheSize)
	p.Check(c.DialTimeout > 0 && c.DialTimeout <= time.Minute, "DIAL_TIMEOUT must be in (0, 1m], got %s", c.DialTimeout)
	p.Check(c.LookupTimeout > 0 && c.LookupTimeout <= time.Minute, "LOOKUP_TIMEOUT must be in (0, 1m], got %s", c.LookupTimeout)
	return p.Err()
}
