package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/previews"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Error codes of the gateway's own answers (the httpx envelope).
const (
	CodeUnknownHost       = "unknown_host"
	CodeRuntimeNotFound   = "runtime_not_found"
	CodeRuntimeNotRunning = "runtime_not_running"
	CodeBadGateway        = "bad_gateway"
	CodePreviewDenied     = "preview_denied"
)

// Verifier checks an IAP JWT from the load balancer (auth.IAPVerifier).
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Principal, error)
}

// DomainResolver maps a tenant's verified custom domain to the tenant (shared/whitelabel's
// Lookup). ok is false for a domain no tenant verified.
type DomainResolver interface {
	TenantForDomain(ctx context.Context, domain string) (tenant string, ok bool, err error)
}

// Brander gives the branding of the page a denied preview gets.
type Brander interface {
	Brand(ctx context.Context, tenant string) (Brand, error)
}

// TokenSourceFunc returns the source of Google-signed ID tokens for audience (a runtime
// service's URL). The default is idtoken.NewTokenSource (the metadata server on Cloud Run).
type TokenSourceFunc func(ctx context.Context, audience string) (oauth2.TokenSource, error)

// LocalUpstream serves an authorized request from the local runtime driver (runyard dev):
// runtimeID's port, without an ID token.
type LocalUpstream func(w http.ResponseWriter, r *http.Request, runtimeID string, port int)

// Deps are the server's collaborators. Store is required; the rest default or are optional.
type Deps struct {
	Store store.Store
	// Verifier checks IAP JWTs; nil: no IAP in front (iap-mode runtimes are refused, unless
	// Local).
	Verifier Verifier
	// Domains resolves custom domains; nil: only RUNTIME_DOMAIN is served.
	Domains DomainResolver
	// Branding themes the denial page; nil: Runyard's.
	Branding Brander
	// Tokens mints ID tokens for runtime services; nil: idtoken.NewTokenSource.
	Tokens TokenSourceFunc
	// Transport carries proxied requests to runtime services; nil: a fresh http.Transport.
	Transport http.RoundTripper
	// Local, set by runyard dev only, sends authorized requests to the local driver and treats
	// callers of iap-mode runtimes as the tenant's members (there is no IAP on loopback, as on
	// the preview proxy before the gateway).
	Local  LocalUpstream
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the gateway's HTTP handler.
type Server struct {
	cfg     Config
	deps    Deps
	signer  *previews.Signer
	tenancy *tenancy.Service
	proxy   *httputil.ReverseProxy

	owners  *ttlCache[string]
	records *ttlCache[record]
	members *ttlCache[bool]
	domains *ttlCache[string]

	tokMu  sync.Mutex
	tokens map[string]oauth2.TokenSource
}

// record is what the gateway keeps of one runtime.
type record struct {
	rt       runtime.Runtime
	settings previews.Settings
}

// NewServer checks cfg and deps and builds the handler.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("gateway: a store is required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Tokens == nil {
		deps.Tokens = googleIDTokens
	}
	if deps.Transport == nil {
		deps.Transport = newTransport(cfg.DialTimeout)
	}
	ten, err := tenancy.NewService(deps.Store, authn.NewAPIKey) // membership checks only; it makes no keys
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s := &Server{cfg: cfg, deps: deps, tenancy: ten, tokens: map[string]oauth2.TokenSource{},
		owners:  newTTLCache[string](time.Hour, cfg.CacheSize, deps.Now), // an id's tenant never changes
		records: newTTLCache[record](cfg.CacheTTL, cfg.CacheSize, deps.Now),
		members: newTTLCache[bool](cfg.CacheTTL, cfg.CacheSize, deps.Now),
		domains: newTTLCache[string](cfg.CacheTTL, cfg.CacheSize, deps.Now),
	}
	if cfg.PreviewKey != "" {
		if s.signer, err = previews.NewSigner([]byte(cfg.PreviewKey.Reveal())); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:       s.rewrite,
		Transport:     deps.Transport,
		FlushInterval: -1, // stream: flush after every write (SSE, long polls); upgrades pass through
		BufferPool:    bufferPool{},
		ErrorHandler:  s.proxyError,
	}
	return s, nil
}

// Handler is the server with the standard middleware (request id, logger, access log, panic
// recovery). There is no body cap and no deadline: uploads and WebSockets stream for as long
// as Cloud Run's request timeout (60 minutes) allows.
func (s *Server) Handler() http.Handler {
	return httpx.Chain(http.HandlerFunc(s.serve), httpx.RequestID, httpx.Log(s.deps.Logger, s.cfg.ProjectID), httpx.Recover)
}

// ServeHTTP implements http.Handler without the middleware.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// target is a request's destination, carried to the proxy in the context.
type target struct {
	tenant, runtime string
	port            int
	upstream        *url.URL
	idToken         string
	// iap: the request's IAP JWT was verified (its headers may pass on to the agent).
	iap bool
}

type targetKey struct{}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h, err := hosts.Parse(r.Host)
	if err != nil {
		httpx.Error(w, r, httpx.NotFound(CodeUnknownHost, "this host is not a runtime host"))
		return
	}
	ctx := r.Context()
	tenant, err := s.tenantFor(ctx, h)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	rec, err := s.runtime(ctx, tenant, h.Runtime)
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	if rec.rt.Tenant != tenant || rec.rt.State == runtime.StateDeleted {
		httpx.Error(w, r, notFound(h.Runtime))
		return
	}
	if previews.IsPreviewPort(h.Port) && r.URL.Query().Has(previews.TokenParam) {
		s.exchangeLink(w, r, tenant, h, rec)
		return
	}
	who, deny := s.authorize(r, tenant, h.Port, rec)
	if deny != nil {
		s.deny(w, r, tenant, h.Port, deny)
		return
	}
	t := target{tenant: tenant, runtime: h.Runtime, port: h.Port, iap: who.iap}
	switch rec.rt.State {
	case runtime.StateRunning, runtime.StateDeploying:
	default:
		w.Header().Set("Retry-After", "5")
		httpx.Error(w, r, httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimeNotRunning, "runtime %s is %s", h.Runtime, rec.rt.State))
		return
	}
	if s.deps.Local != nil {
		stripInbound(r, t)
		s.deps.Local(w, r, h.Runtime, h.Port)
		return
	}
	up, err := url.Parse(rec.rt.URL)
	if err != nil || rec.rt.URL == "" || (up.Scheme != "https" && up.Scheme != "http") || up.Host == "" {
		w.Header().Set("Retry-After", "5")
		httpx.Error(w, r, httpx.Errorf(http.StatusServiceUnavailable, CodeRuntimeNotRunning, "runtime %s has no service URL yet", h.Runtime))
		return
	}
	t.upstream = &url.URL{Scheme: up.Scheme, Host: up.Host}
	tok, err := s.idToken(ctx, t.upstream.String())
	if err != nil {
		httpx.Error(w, r, httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot authenticate to the runtime now; retry").WithCause(err))
		return
	}
	t.idToken = tok
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, targetKey{}, t)))
}

func notFound(rt string) *httpx.APIError {
	return httpx.NotFound(CodeRuntimeNotFound, "runtime %s not found", rt)
}

// tenantFor is the tenant a host may serve: the runtime's owner under the platform's domain,
// the domain's owner under a custom domain (whose runtimes alone it serves).
func (s *Server) tenantFor(ctx context.Context, h hosts.Host) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	if h.Domain == s.cfg.RuntimeDomain {
		if t, ok := s.owners.get(h.Runtime); ok {
			return t, nil
		}
		var o runtime.RuntimeOwner
		_, err := s.deps.Store.Get(lctx, store.Key{Kind: store.KindRuntimeIDs, ID: h.Runtime}, &o)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey):
			return "", notFound(h.Runtime)
		case err != nil:
			return "", unavailable(err)
		}
		s.owners.put(h.Runtime, o.Tenant)
		return o.Tenant, nil
	}
	if s.deps.Domains == nil {
		return "", httpx.NotFound(CodeUnknownHost, "this host is not a runtime host")
	}
	if t, ok := s.domains.get(h.Domain); ok {
		return t, nil
	}
	t, ok, err := s.deps.Domains.TenantForDomain(lctx, h.Domain)
	switch {
	case err != nil:
		return "", unavailable(err)
	case !ok || t == "":
		return "", httpx.NotFound(CodeUnknownHost, "this host is not a runtime host")
	}
	s.domains.put(h.Domain, t)
	return t, nil
}

func unavailable(err error) *httpx.APIError {
	return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot look the runtime up now; retry").WithCause(err)
}

// runtime reads tenant's runtime id and its preview settings (cached for CACHE_TTL).
func (s *Server) runtime(ctx context.Context, tenant, id string) (record, error) {
	key := tenant + "/" + id
	if rec, ok := s.records.get(key); ok {
		return rec, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	var rec record
	_, err := s.deps.Store.Get(ctx, store.Key{Tenant: tenant, Kind: runtime.KindRuntimes, ID: id}, &rec.rt)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey):
		return record{}, notFound(id)
	case err != nil:
		return record{}, unavailable(err)
	}
	if rec.settings, err = previews.Get(ctx, s.deps.Store, tenant, id); err != nil {
		return record{}, unavailable(err)
	}
	s.records.put(key, rec)
	return rec, nil
}

// isMember reports whether email is a member of tenant (cached for CACHE_TTL when true).
func (s *Server) isMember(ctx context.Context, tenant, email string) (bool, error) {
	key := tenant + "/" + email
	if _, ok := s.members.get(key); ok {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	_, err := s.tenancy.Authorize(ctx, tenancy.Caller{Kind: tenancy.CallerUser, Email: email}, tenant, tenancy.ActRuntimeManage, "")
	switch {
	case errors.Is(err, tenancy.ErrTenantNotFound), errors.Is(err, tenancy.ErrForbidden), errors.Is(err, tenancy.ErrInvalidID):
		return false, nil
	case err != nil:
		return false, err
	}
	s.members.put(key, true)
	return true, nil
}

// rewrite points the outbound request at the runtime's service: its own host (Cloud Run routes
// by Host), the ID token in X-Serverless-Authorization (so the caller's Authorization header
// reaches the runtime untouched), and the host the client asked for in X-Forwarded-Host, which
// the ingress sidecar routes by.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	t, _ := pr.In.Context().Value(targetKey{}).(target)
	pr.SetURL(t.upstream)
	pr.Out.Host = t.upstream.Host
	in := pr.In.Header
	if v := in.Values("X-Forwarded-For"); len(v) > 0 {
		pr.Out.Header["X-Forwarded-For"] = v
	}
	pr.SetXForwarded()
	pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	if v := in.Get("X-Forwarded-Proto"); v == "https" || v == "http" {
		proto = v
	}
	pr.Out.Header.Set("X-Forwarded-Proto", proto)
	stripOutbound(pr.Out, t)
	pr.Out.Header.Set("X-Serverless-Authorization", "Bearer "+t.idToken)
}

// stripInbound removes from r what the gateway consumed (runyard dev's local path).
func stripInbound(r *http.Request, t target) {
	stripOutbound(r, t)
}

// stripOutbound removes the gateway's own credentials and unverified identity headers: the
// preview cookie and token, an X-Serverless-Authorization the client sent, and, unless the
// IAP JWT was verified, the IAP headers (the agent keeps a verified assertion).
func stripOutbound(out *http.Request, t target) {
	out.Header.Del("X-Serverless-Authorization")
	if !t.iap || t.port != deploy.PortAgent {
		out.Header.Del(auth.IAPHeader)
	}
	if !t.iap {
		out.Header.Del("X-Goog-Authenticated-User-Email")
		out.Header.Del("X-Goog-Authenticated-User-Id")
	}
	httpx.RemoveCookie(out.Header, previews.Cookie)
	if out.URL.RawQuery != "" && strings.Contains(out.URL.RawQuery, previews.TokenParam) {
		q := out.URL.Query()
		q.Del(previews.TokenParam)
		out.URL.RawQuery = q.Encode()
	}
}

// proxyError answers a failed round trip and forgets the runtime, so the next request reads
// its record again (it may have been paused, moved or deleted).
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t, _ := r.Context().Value(targetKey{}).(target)
	s.records.forget(t.tenant + "/" + t.runtime)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		w.WriteHeader(http.StatusBadGateway) // the client is gone; nobody reads this
		return
	}
	httpx.Error(w, r, httpx.Errorf(http.StatusBadGateway, CodeBadGateway, "the runtime did not answer").WithCause(err))
}

// idToken returns an ID token for audience, from a token source kept per audience (each
// reuses its token until shortly before expiry).
func (s *Server) idToken(ctx context.Context, audience string) (string, error) {
	s.tokMu.Lock()
	ts, ok := s.tokens[audience]
	s.tokMu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
		defer cancel()
		var err error
		if ts, err = s.deps.Tokens(ctx, audience); err != nil {
			return "", fmt.Errorf("gateway: id token source for %s: %w", audience, err)
		}
		s.tokMu.Lock()
		if len(s.tokens) >= s.cfg.CacheSize {
			clear(s.tokens)
		}
		s.tokens[audience] = ts
		s.tokMu.Unlock()
	}
	tok, err := ts.Token()
	if err != nil {
		return "", fmt.Errorf("gateway: id token for %s: %w", audience, err)
	}
	if v, ok := tok.Extra("id_token").(string); ok && v != "" {
		return v, nil
	}
	return tok.AccessToken, nil
}

func newTransport(dial time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dial,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass encodings through untouched
	}
}

// bufferPool reuses ReverseProxy's copy buffers (32 KiB each) across requests.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
