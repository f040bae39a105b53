package api

import (
	"net"
	"time"

	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/whitelabel"
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
	// BuildAllowedHosts are the git hosts builds may fetch from.
	BuildAllowedHosts []string `env:"BUILD_ALLOWED_HOSTS, default=github.com,gitlab.com,bitbucket.org"`
	// Build is the Cloud Build configuration.
	Build cloudbuild.EnvConfig
	// Repos configures repository connections.
	Repos repos.Config
	// Runtimes configures where and how runtimes run.
	Runtimes cloudrun.EnvConfig
	// Billing configures Stripe (off without STRIPE_SECRET_KEY), unit prices and budgets.
	Billing stripe.EnvConfig
	// PublicURL is the api's own public base URL (e.g. https://api.example.com); runtimes'
	// ingress report activity to it. Empty: no activity reports.
	PublicURL string `env:"RUNYARD_API_URL"`
	// PreviewHost, when set, makes preview URLs http://{port}-{runtime}.{PreviewHost}/ (the
	// local stack: "localhost:8080"); otherwise previews are under the runtime's URL.
	PreviewHost string `env:"RUNYARD_PREVIEW_HOST"`
	// DNSServer is the DNS server ("host:port") custom domains' TXT records are looked up at;
	// empty: the system's resolver.
	DNSServer string `env:"DNS_SERVER"`
	// DNSTimeout bounds one verification lookup.
	DNSTimeout time.Duration `env:"DNS_TIMEOUT, default=5s"`
	// WhitelabelCacheTTL is how long an instance keeps domain and branding lookups.
	WhitelabelCacheTTL time.Duration `env:"WHITELABEL_CACHE_TTL, default=30s"`
	// Branding* are the platform's branding (GET /v1/branding for hosts of no tenant).
	BrandingProductName string `env:"BRANDING_PRODUCT_NAME, default=Runyard"`
	BrandingLogoURL     string `env:"BRANDING_LOGO_URL"`
	BrandingSupportURL  string `env:"BRANDING_SUPPORT_URL"`
	// PreviewLinkKey signs preview links (the gateway has the same key); at least 32 bytes.
	// Empty: POST …/previews/{port}/links answers 501.
	PreviewLinkKey config.Secret `env:"PREVIEW_LINK_KEY"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// RequestTimeout is each request's deadline.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=30s"`
	// MaxBodyBytes caps request bodies; JSON bodies are further capped at 1 MiB.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=134217728"`
	// MaxUploadBytes caps an uploaded source archive (compressed).
	MaxUploadBytes int64 `env:"MAX_UPLOAD_BYTES, default=104857600"`
	// SourcesBucket is the Cloud Storage bucket for uploaded source archives.
	SourcesBucket string `env:"SOURCES_BUCKET"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.ProjectID != "", "GOOGLE_CLOUD_PROJECT is required")
	p.Check(len(c.Audiences) > 0, "RUNYARD_AUDIENCES needs at least one ID token audience")
	for _, a := range c.Audiences {
		p.Check(a != "", "RUNYARD_AUDIENCES has an empty entry")
	}
	p.Check(len(c.BuildAllowedHosts) > 0, "BUILD_ALLOWED_HOSTS needs at least one host")
	p.Check(c.Build.ArtifactRepo != "", "BUILD_ARTIFACT_REPO is required (the Artifact Registry repository for images)")
	p.Add(c.Repos.Validate())
	p.Add(c.Runtimes.Validate())
	p.Add(c.Billing.Validate())
	p.Check(c.RequestTimeout > 0 && c.RequestTimeout <= 10*time.Minute, "REQUEST_TIMEOUT must be in (0, 10m], got %s", c.RequestTimeout)
	p.Check(c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 1<<30, "MAX_BODY_BYTES must be 1 KiB to 1 GiB, got %d", c.MaxBodyBytes)
	p.Check(c.MaxUploadBytes >= 1024 && c.MaxUploadBytes <= c.MaxBodyBytes, "MAX_UPLOAD_BYTES must be 1 KiB to MAX_BODY_BYTES, got %d", c.MaxUploadBytes)
	p.Check(c.SourcesBucket != "", "SOURCES_BUCKET is required (the bucket for uploaded source archives)")
	p.Check(c.DNSTimeout >= 0 && c.DNSTimeout <= time.Minute, "DNS_TIMEOUT must be in [0, 1m], got %s", c.DNSTimeout)
	p.Check(c.WhitelabelCacheTTL >= 0 && c.WhitelabelCacheTTL <= time.Hour, "WHITELABEL_CACHE_TTL must be in [0, 1h], got %s", c.WhitelabelCacheTTL)
	_, err := (whitelabel.Branding{ProductName: c.BrandingProductName, LogoURL: c.BrandingLogoURL, SupportURL: c.BrandingSupportURL}).Check()
	p.Check(err == nil, "BRANDING_PRODUCT_NAME, BRANDING_LOGO_URL, BRANDING_SUPPORT_URL: %v", err)
	if c.DNSServer != "" {
		_, _, err := net.SplitHostPort(c.DNSServer)
		p.Check(err == nil, "DNS_SERVER must be host:port, got %q", c.DNSServer)
	}
	return p.Err()
}

// Defaults that callers building a Config by hand (runyard dev, tests) use.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 128 << 20
	DefaultMaxUploadBytes = 100 << 20
)
