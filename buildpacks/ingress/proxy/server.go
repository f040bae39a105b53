// Package proxy is the runtime ingress sidecar: the only container of a runtime's Cloud Run
// service with a port. It authenticates each request (IAP JWT, or the OpenHands session key in
// token mode), routes it by host prefix or path to the agent, VS Code or an app port of the main
// container, and streams it there with httputil.ReverseProxy (WebSocket upgrades included, no
// buffering). While the main container does not accept connections it answers 503 with
// Retry-After, which OpenHands clients read as "paused". It records activity for the control
// plane's idle sweeper. README.md describes the rules.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/httpx"
)

// Paths the sidecar answers itself (agent routes only; on VS Code and app routes they belong
// to the app).
const (
	// AlivePath is the sidecar's liveness: 200 whenever the sidecar runs, without credentials.
	AlivePath = "/alive"
	// ReadyPath answers 200 once the main container accepts connections, else 503.
	ReadyPath = "/_runyard/ready"
)

// Error codes of the sidecar's own answers (envelope {"error":{"code","message"}}).
const (
	CodeRuntimeStarting  = "runtime_starting"
	CodeUnknownPort      = "unknown_port"
	CodePortNotListening = "port_not_listening"
	CodeBadGateway       = "bad_gateway"
)

// Verifier checks an IAP JWT (auth.IAPVerifier).
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Principal, error)
}

// Resolver returns the address (host:port) that serves a port of the main container.
type Resolver func(port int) string

// Deps are the server's collaborators. Verifier is required in iap mode; the rest default.
type Deps struct {
	Verifier Verifier
	// Sender reports activity; nil disables reports.
	Sender Sender
	// Resolver defaults to UPSTREAM_HOST:port.
	Resolver Resolver
	// Dial connects to the main container (readiness and proxying); defaults to a net.Dialer.
	Dial DialFunc
	// Now is the clock (readiness cache, activity); defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the sidecar's HTTP handler.
type Server struct {
	cfg      *Config
	deps     Deps
	router   *Router
	ready    *readiness
	activity *Recorder
	proxy    *httputil.ReverseProxy
	allowed  map[string]bool
	keyHash  [32]byte
	handler  http.Handler
}

type routeKey struct{}

// NewServer checks cfg and deps and builds the handler.
func NewServer(cfg *Config, deps Deps) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("proxy: new server: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("proxy: new server: %w", err)
	}
	if cfg.Mode == ModeIAP && deps.Verifier == nil {
		return nil, errors.New("proxy: new server: iap mode needs a Verifier")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Resolver == nil {
		host := cfg.UpstreamHost
		deps.Resolver = func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	}
	if deps.Dial == nil {
		d := &net.Dialer{Timeout: cfg.DialTimeout}
		deps.Dial = d.DialContext
	}
	readyPort, resolve := cfg.readyPort(), deps.Resolver
	s := &Server{
		cfg:      cfg,
		deps:     deps,
		router:   NewRouter(cfg),
		ready:    &readiness{addr: func() string { return resolve(readyPort) }, ttl: cfg.ReadyCache, now: deps.Now, dial: deps.Dial},
		activity: NewRecorder(cfg.RuntimeID, cfg.ActivityInterval, cfg.ActivityTimeout, deps.Now, deps.Sender, deps.Logger),
		allowed:  map[string]bool{},
		keyHash:  hashKey(cfg.SessionAPIKey.Reveal()),
	}
	for _, e := range cfg.AllowedEmails {
		s.allowed[strings.ToLower(strings.TrimSpace(e))] = true
	}
	dial := deps.Dial
	timeout := cfg.DialTimeout
	s.proxy = &httputil.ReverseProxy{
		Rewrite: s.rewrite,
		Transport: &http.Transport{
			Proxy: nil, // never an HTTP proxy between containers of one instance
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				ctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				return dial(ctx, network, addr)
			},
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true, // pass encodings through untouched
			ExpectContinueTimeout: time.Second,
		},
		FlushInterval:  -1, // stream: flush after every write
		BufferPool:     bufferPool{},
		ModifyResponse: func(resp *http.Response) error { secureResponse(resp.Header); return nil },
		ErrorHandler:   s.proxyError,
	}
	s.handler = httpx.Chain(http.HandlerFunc(s.serve), httpx.RequestID, httpx.Log(deps.Logger, ""), httpx.Recover)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Activity is the server's activity recorder (the binary flushes it periodically).
func (s *Server) Activity() *Recorder { return s.activity }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rt, routeErr := s.router.Route(requestHost(r), r.URL.Path)
	if routeErr == nil && rt.Kind == KindAgent && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		switch r.URL.Path {
		case AlivePath:
			httpx.JSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
			return
		case ReadyPath:
			if !s.ready.Ready(r.Context()) {
				s.starting(w, r)
				return
			}
			httpx.JSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
	}
	if s.cfg.Mode == ModeIAP {
		if err := s.checkIAP(r); err != nil {
			httpx.Error(w, r, err)
			return
		}
	}
	if routeErr != nil {
		httpx.Error(w, r, httpx.NotFound(CodeUnknownPort, "this runtime serves no such port").WithCause(routeErr))
		return
	}
	if s.cfg.Mode == ModeToken {
		if err := s.checkToken(r, rt.Kind); err != nil {
			httpx.Error(w, r, err)
			return
		}
	}
	if !s.ready.Ready(r.Context()) {
		s.starting(w, r)
		return
	}
	s.activity.Begin()
	defer s.activity.End()
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
}

// starting answers 503 runtime_starting with Retry-After.
func (s *Server) starting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter/time.Second)))
	httpx.Error(w, r, httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimeStarting, "the runtime is starting; retry shortly"))
}

// rewrite points the outbound request at the route's port and strips what it must not see.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	rt, _ := pr.In.Context().Value(routeKey{}).(Route)
	pr.SetURL(&url.URL{Scheme: "http", Host: s.deps.Resolver(rt.Port)})
	// The app sees the host the user asked for (origin checks, absolute URLs), as behind
	// OpenHands' own ingress; the connection goes to the resolved address.
	pr.Out.Host = requestHost(pr.In)
	if rt.Strip != "" {
		pr.Out.URL.Path = stripPrefix(pr.Out.URL.Path, rt.Strip)
		pr.Out.URL.RawPath = stripPrefix(pr.Out.URL.RawPath, rt.Strip)
	}
	// Keep the chain Google's front end built, and add the hop we saw.
	in := pr.In.Header
	if v := in.Values("X-Forwarded-For"); len(v) > 0 {
		pr.Out.Header["X-Forwarded-For"] = v
	}
	pr.SetXForwarded()
	if v := in.Get("X-Forwarded-Host"); v != "" {
		pr.Out.Header.Set("X-Forwarded-Host", v)
	}
	if v := in.Get("X-Forwarded-Proto"); v == "https" || v == "http" {
		pr.Out.Header.Set("X-Forwarded-Proto", v)
	}
	pr.Out.Header.Del("X-Forwarded-Prefix") // only ours
	if rt.Strip != "" {
		pr.Out.Header.Set("X-Forwarded-Prefix", rt.Strip)
	}
	stripCredentials(pr.Out.Header, rt.Kind, s.cfg.Mode)
}

// proxyError answers a failed round trip: a refused connection to the agent means the main
// container is (re)starting (503), to an app port that nothing listens there (502).
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		w.WriteHeader(http.StatusBadGateway) // the client is gone; nobody reads this
		return
	}
	rt, _ := r.Context().Value(routeKey{}).(Route)
	refused := errors.Is(err, syscall.ECONNREFUSED)
	switch {
	case refused && rt.Kind == KindAgent:
		s.ready.Forget()
		s.starting(w, r)
	case refused:
		httpx.Error(w, r, httpx.Errorf(http.StatusBadGateway, CodePortNotListening, "nothing listens on port %d", rt.Port).WithCause(err))
	default:
		httpx.Error(w, r, httpx.Errorf(http.StatusBadGateway, CodeBadGateway, "the runtime did not answer").WithCause(err))
	}
}

// bufferPool reuses ReverseProxy's copy buffers (32 KiB each) across requests.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// requestHost is the host the client asked for: X-Forwarded-Host (set by the gateway in
// domain mode) or Host.
func requestHost(r *http.Request) string {
	if v := r.Header.Get("X-Forwarded-Host"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		return strings.TrimSpace(first)
	}
	return r.Host
}
