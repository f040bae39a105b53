package local

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
)

// Error codes of the preview proxy's answers (the httpx envelope).
const (
	CodeRuntimeNotFound = "runtime_not_found"
	CodePortNotFound    = "port_not_found"
	CodeRuntimePaused   = "runtime_paused"
	CodeRuntimeNotReady = "runtime_not_ready"
	CodeRuntimeFailed   = "runtime_failed"
)

// PreviewDomain is the domain of preview hosts: {port}-{runtime}.localhost.
const PreviewDomain = "localhost"

// retryAfter is the Retry-After of 503 answers, in seconds.
const retryAfter = "5"

// ParseHost reads a preview host, with or without a :port, case-insensitively:
//
//	{port}-{runtime}.localhost  → runtime, port (1-65535, decimal, no leading zero)
//	{runtime}.localhost         → runtime, deploy.PortAgent
//
// A runtime id is [a-z0-9-], starts and ends with a letter or digit, and makes a valid service
// name (deploy.ServiceName). When the label could be read both ways ("8000-web" is runtime
// "web" on port 8000, or runtime "8000-web"), the port form wins, as in the cloud's domain mode.
func ParseHost(host string) (runtimeID string, port int, ok bool) {
	return parseHost(host, PreviewDomain)
}

func parseHost(host, domain string) (string, int, bool) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		if !allDigits(p) {
			return "", 0, false
		}
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, ok := strings.CutSuffix(host, "."+domain)
	if !ok || strings.Contains(label, ".") {
		return "", 0, false
	}
	if p, rt, found := strings.Cut(label, "-"); found {
		if port, ok := parsePort(p); ok && validRuntimeID(rt) {
			return rt, port, true
		}
	}
	if validRuntimeID(label) {
		return label, deploy.PortAgent, true
	}
	return "", 0, false
}

// validRuntimeID reports whether id can name a runtime in a host and a service.
func validRuntimeID(id string) bool {
	if id == "" || id[0] == '-' {
		return false
	}
	_, err := deploy.ServiceName(id)
	return err == nil
}

func parsePort(s string) (int, bool) {
	if len(s) == 0 || len(s) > 5 || s[0] == '0' || !allDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, false
	}
	return n, true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// PreviewHandler is the local stand-in for the gateway and the ingress sidecar: it routes a
// request by its Host, {port}-{runtime}.<domain>[:any port] or {runtime}.<domain>, to the
// runtime's app. devHost names the domain ("" or "localhost", a :port on it is ignored).
//
// Locally a runtime has one process listening on one port, so every port the cloud would route
// into the runtime reaches it: the agent port (the bare {runtime} host, a placeholder until the
// local agent exists), 12000 and 12001, the spec's Ports, and the app's real local port. Other
// ports (VS Code, 60001, included) are 404 port_not_found.
//
// Answers of its own, in the httpx error envelope: 404 runtime_not_found (not a preview host,
// unknown or deleted runtime), 404 port_not_found, 503 runtime_paused and 503 runtime_not_ready
// (with Retry-After: 5), 502 runtime_failed (the app exited). Everything else is the app's:
// bodies stream both ways unbuffered (responses are flushed as written) and WebSocket (any
// Upgrade) connections pass through.
func (d *Driver) PreviewHandler(devHost string) http.Handler {
	domain := devHost
	if h, _, err := net.SplitHostPort(devHost); err == nil {
		domain = h
	}
	domain = strings.ToLower(strings.Trim(domain, "."))
	if domain == "" {
		domain = PreviewDomain
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, port, ok := parseHost(r.Host, domain)
		if !ok {
			httpx.Error(w, r, httpx.NotFound(CodeRuntimeNotFound, "not a runtime preview host"))
			return
		}
		d.ServePort(w, r, rt, port)
	})
}

// ServePort serves r from port of runtime rt, as PreviewHandler does after reading the host:
// the gateway's local upstream under runyard dev (it has authorized the request). Port 60001
// (VS Code) reaches the service's VSCODE_PORT; the other ports PreviewHandler lists reach the
// app's PORT.
func (d *Driver) ServePort(w http.ResponseWriter, r *http.Request, rt string, port int) {
	if logging.FromContext(r.Context()) == slog.Default() {
		r = r.WithContext(logging.WithLogger(r.Context(), d.log))
	}
	svc := d.runtime(rt)
	if svc == nil {
		httpx.Error(w, r, httpx.NotFound(CodeRuntimeNotFound, "runtime %s not found", rt))
		return
	}
	s := svc.snapshot()
	if !s.deleted && !servesPort(s, port) {
		httpx.Error(w, r, httpx.NotFound(CodePortNotFound, "runtime %s serves no port %d", rt, port))
		return
	}
	if refuse(w, r, rt, s, nil) {
		return
	}
	to := s.port
	if port == deploy.PortVSCode {
		to = s.vscode
	}
	ctx := context.WithValue(r.Context(), targetKey{}, target{runtime: rt, port: to, svc: svc})
	d.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// refuse answers for the app when the service s cannot take the request, and reports whether it
// did. cause (a failed proxy attempt) is logged, never shown.
func refuse(w http.ResponseWriter, r *http.Request, rt string, s snapshot, cause error) bool {
	var ae *httpx.APIError
	switch {
	case s.deleted:
		ae = httpx.NotFound(CodeRuntimeNotFound, "runtime %s not found", rt)
	case s.paused:
		w.Header().Set("Retry-After", retryAfter)
		ae = httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimePaused, "runtime %s is paused", rt)
	case s.proc == nil:
		w.Header().Set("Retry-After", retryAfter)
		ae = httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimeNotReady, "runtime %s is starting", rt)
	case s.proc.exited():
		ae = httpx.Errorf(http.StatusBadGateway, CodeRuntimeFailed, "runtime %s: the app exited", rt)
	case cause != nil: // running, but not answering: not listening yet
		w.Header().Set("Retry-After", retryAfter)
		ae = httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimeNotReady, "runtime %s is not answering yet", rt)
	default:
		return false
	}
	if cause != nil {
		ae = ae.WithCause(cause)
	}
	httpx.Error(w, r, ae)
	return true
}

// servesPort reports whether a request for port reaches the app (see PreviewHandler).
func servesPort(s snapshot, port int) bool {
	switch port {
	case deploy.PortAgent, deploy.PortVSCode, deploy.PortWorker1, deploy.PortWorker2, s.port:
		return true
	}
	return slices.Contains(s.spec.Ports, port)
}

// runtime returns the live service of runtime id rt, or nil.
func (d *Driver) runtime(rt string) *service {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.services[d.runtimes[rt]]
}

type targetKey struct{}

// target is where the proxy sends a request.
type target struct {
	runtime string
	port    int
	svc     *service
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil, // the apps are on loopback; never through HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass encodings through untouched
	}
}

func (d *Driver) newProxy() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(targetKey{}).(target)
			pr.SetURL(&url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(t.port))})
			pr.Out.Host = pr.In.Host // the app sees the preview host, as behind the cloud's ingress
			pr.SetXForwarded()
		},
		Transport:     d.transport,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left
			}
			// The state now, not when the request came in: it may have been paused or deleted.
			t := r.Context().Value(targetKey{}).(target)
			refuse(w, r, t.runtime, t.svc.snapshot(), err)
		},
	}
}
