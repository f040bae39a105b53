package proxy

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/config"
)

// Modes (RUNYARD_MODE), the same values as deploy.ModeIAP and deploy.ModeToken, plus gateway.
const (
	ModeIAP   = "iap"
	ModeToken = "token"
	// ModeGateway: domain mode. The service's only invoker is the gateway function (Cloud Run
	// IAM), which has authorized every request by the runtime's own mode; the sidecar routes,
	// streams and strips credentials but checks none itself.
	ModeGateway = "gateway"
)

// Preview policies (PREVIEW_POLICY) for app ports in token mode.
const (
	PreviewPublic = "public"
	PreviewToken  = "token"
)

// Config is the sidecar's configuration, from the environment. The names of the runtime's env
// are the ones shared/deploy/cloudrun sets on the ingress container.
type Config struct {
	// Port is where the sidecar listens (Cloud Run sets PORT on the container with the port).
	Port int `env:"PORT, default=8080"`
	// ListenHost is the interface to listen on; empty means all (what Cloud Run needs).
	ListenHost string `env:"LISTEN_HOST"`
	// Mode is iap or token (ARCHITECTURE.md §6).
	Mode string `env:"RUNYARD_MODE, default=iap"`
	// RuntimeID is reported with activity.
	RuntimeID string `env:"RUNTIME_ID"`

	// AgentPort is the agent server's port; 0 means the runtime has no agent.
	AgentPort int `env:"AGENT_PORT, default=60000"`
	// VSCodePort is VS Code's port; 0 means none.
	VSCodePort int `env:"VSCODE_PORT, default=60001"`
	// Worker1 and Worker2 are the app ports behind work-1- and work-2-.
	Worker1 int `env:"WORKER_1, default=12000"`
	Worker2 int `env:"WORKER_2, default=12001"`
	// AppPorts are further declared app ports ("3000,8000").
	AppPorts []int `env:"APP_PORTS"`
	// UpstreamHost is the main container's address (containers of a Cloud Run instance share
	// the network namespace, so localhost).
	UpstreamHost string `env:"UPSTREAM_HOST, default=127.0.0.1"`

	// IAPAudience is the aud of the IAP JWTs (/projects/N/locations/R/services/S); iap mode.
	IAPAudience string `env:"IAP_AUDIENCE"`
	// AllowedEmails, when set, further restricts iap mode to these users (comma-separated).
	AllowedEmails []string `env:"ALLOWED_EMAILS"`
	// SessionAPIKey guards the agent port in token mode and authenticates activity reports.
	SessionAPIKey config.Secret `env:"SESSION_API_KEY"`
	// PreviewPolicy is public or token: who may reach app ports in token mode.
	PreviewPolicy string `env:"PREVIEW_POLICY, default=token"`

	// ReadyCache is how long a readiness check result is reused.
	ReadyCache time.Duration `env:"READY_CACHE, default=1s"`
	// DialTimeout bounds connecting to the main container (readiness checks and proxying).
	DialTimeout time.Duration `env:"DIAL_TIMEOUT, default=2s"`
	// RetryAfter is the Retry-After of the 503 answered while the main container starts.
	RetryAfter time.Duration `env:"RETRY_AFTER, default=5s"`

	// ActivityURL is the control-plane endpoint that receives activity; empty disables reports.
	ActivityURL string `env:"ACTIVITY_URL"`
	// ActivityInterval is the least time between two activity reports.
	ActivityInterval time.Duration `env:"ACTIVITY_INTERVAL, default=1m"`
	// ActivityTimeout bounds one activity report.
	ActivityTimeout time.Duration `env:"ACTIVITY_TIMEOUT, default=10s"`

	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.Port > 0 && c.Port <= 65535, "PORT must be a port, got %d", c.Port)
	p.Check(c.Mode == ModeIAP || c.Mode == ModeToken || c.Mode == ModeGateway, "RUNYARD_MODE must be %q, %q or %q, got %q", ModeIAP, ModeToken, ModeGateway, c.Mode)
	p.Check(c.RuntimeID != "", "RUNTIME_ID is required")
	for name, port := range map[string]int{"AGENT_PORT": c.AgentPort, "VSCODE_PORT": c.VSCodePort, "WORKER_1": c.Worker1, "WORKER_2": c.Worker2} {
		p.Check(port >= 0 && port <= 65535 && port != c.Port, "%s must be 0 (none) or a port other than PORT, got %d", name, port)
	}
	for _, port := range c.AppPorts {
		p.Check(port > 0 && port <= 65535 && port != c.Port, "APP_PORTS must hold ports other than PORT, got %d", port)
	}
	p.Check(c.readyPort() != 0, "AGENT_PORT or an app port is required (the readiness check needs one)")
	h := c.UpstreamHost
	p.Check(net.ParseIP(h) != nil || h != "" && !strings.ContainsAny(h, "/ :@?#"),
		"UPSTREAM_HOST must be a host name or IP address, got %q", c.UpstreamHost)
	switch c.Mode {
	case ModeIAP:
		p.Check(strings.HasPrefix(c.IAPAudience, "/projects/"), "IAP_AUDIENCE is required in iap mode (/projects/N/locations/R/services/S), got %q", c.IAPAudience)
	case ModeToken:
		p.Check(c.SessionAPIKey != "", "SESSION_API_KEY is required in token mode")
		p.Check(c.PreviewPolicy == PreviewPublic || c.PreviewPolicy == PreviewToken,
			"PREVIEW_POLICY must be %q or %q, got %q", PreviewPublic, PreviewToken, c.PreviewPolicy)
	}
	for _, e := range c.AllowedEmails {
		p.Check(strings.Count(e, "@") == 1 && !strings.ContainsAny(e, " \t"), "ALLOWED_EMAILS has %q, not an email", e)
	}
	p.Check(c.ReadyCache >= 0 && c.ReadyCache <= time.Minute, "READY_CACHE must be in [0, 1m], got %s", c.ReadyCache)
	p.Check(c.DialTimeout > 0 && c.DialTimeout <= time.Minute, "DIAL_TIMEOUT must be in (0, 1m], got %s", c.DialTimeout)
	p.Check(c.RetryAfter >= time.Second, "RETRY_AFTER must be at least 1s, got %s", c.RetryAfter)
	p.Check(c.ActivityURL == "" || strings.HasPrefix(c.ActivityURL, "https://") || strings.HasPrefix(c.ActivityURL, "http://"),
		"ACTIVITY_URL must be an http(s) URL, got %q", c.ActivityURL)
	p.Check(c.ActivityInterval >= time.Second, "ACTIVITY_INTERVAL must be at least 1s, got %s", c.ActivityInterval)
	p.Check(c.ActivityTimeout > 0, "ACTIVITY_TIMEOUT must be positive, got %s", c.ActivityTimeout)
	return p.Err()
}

// readyPort is the port whose accepting TCP means the main container is ready: the agent's,
// else the first app port.
func (c *Config) readyPort() int {
	if c.AgentPort != 0 {
		return c.AgentPort
	}
	if ports := c.appPorts(); len(ports) > 0 {
		return ports[0]
	}
	return 0
}

// appPorts are WORKER_1, WORKER_2 and APP_PORTS, without zeros and duplicates.
func (c *Config) appPorts() []int {
	var out []int
	for _, p := range append([]int{c.Worker1, c.Worker2}, c.AppPorts...) {
		if p != 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// String describes the configuration for the start-up log; it holds no secret.
func (c *Config) String() string {
	return fmt.Sprintf("mode=%s runtime=%s agent=%d vscode=%d apps=%v upstream=%s preview=%s activity=%t",
		c.Mode, c.RuntimeID, c.AgentPort, c.VSCodePort, c.appPorts(), c.UpstreamHost, c.PreviewPolicy, c.ActivityURL != "")
}
