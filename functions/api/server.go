package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/usage"
	"github.com/runyard/runyard/shared/whitelabel"
)

// Server holds the api function's dependencies; its methods are the handlers.
type Server struct {
	cfg      Config
	tenancy  *tenancy.Service
	authn    *authn.Authenticator
	builds   *build.Service
	sources  sources.Store
	repos    *repos.Service
	runtimes *runtime.Orchestrator
	deployer deploy.Deployer
	// whitelabel serves tenants' branding and domains; lookup the public side of them and
	// each tenant's runtime domain.
	whitelabel *whitelabel.Service
	lookup     *whitelabel.Lookup
	// billing and usage serve usage, budgets and checkout (set by Build).
	billing *billing.Service
	usage   *usage.Service
	// identity serves the LLM setting (nil when runtimes share one identity).
	identity *identity.Service
	// previews serve preview visibility and links (set by Build).
	previews previewAPI
	now      func() time.Time
}

// NewServer returns a Server, rejecting missing dependencies.
func NewServer(cfg Config, t *tenancy.Service, a *authn.Authenticator, b *build.Service, src sources.Store, rp *repos.Service,
	rt *runtime.Orchestrator, d deploy.Deployer, wl *whitelabel.Service, lk *whitelabel.Lookup) (*Server, error) {
	if t == nil || a == nil || b == nil || src == nil || rp == nil || rt == nil || d == nil || wl == nil || lk == nil {
		return nil, errors.New("api.NewServer: tenancy, authenticator, build, source store, repos, runtimes, deployer and white label are required")
	}
	return &Server{cfg: cfg, tenancy: t, authn: a, builds: b, sources: src, repos: rp, runtimes: rt, deployer: d,
		whitelabel: wl, lookup: lk, now: time.Now}, nil
}

// handlerFunc is an authenticated handler: it gets the caller and returns an error to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error

// authed authenticates the request, then runs h and renders its error.
func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authn.Authenticate(r)
		if err != nil {
			httpx.Error(w, r, authn.AsAPIError(err))
			return
		}
		if err := h(w, r, c); err != nil {
			httpx.Error(w, r, asAPIError(err))
		}
	})
}

// Error codes of this function beyond httpx's.
const (
	CodeTenantNotFound = "tenant_not_found"
	CodeLastOwner      = "last_owner"
	CodeQuotaExceeded  = "quota_exceeded"
	CodeSecretName     = "invalid_secret_name"
	CodeSecretTooLarge = "secret_too_large"
)

// asAPIError maps domain errors to answers; only here do errors meet HTTP statuses.
func asAPIError(err error) error {
	var ae *httpx.APIError
	msg := func(sentinel error) string {
		return strings.TrimPrefix(strings.TrimPrefix(err.Error(), sentinel.Error()), ": ")
	}
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, tenancy.ErrTenantNotFound):
		return httpx.NotFound(CodeTenantNotFound, "tenant not found")
	case errors.Is(err, tenancy.ErrForbidden):
		return httpx.Forbidden("%s", msg(tenancy.ErrForbidden)).WithCause(err)
	case errors.Is(err, tenancy.ErrSecretName):
		return httpx.BadRequest(CodeSecretName, "%s", msg(tenancy.ErrSecretName))
	case errors.Is(err, tenancy.ErrSecretTooLarge):
		return httpx.Errorf(http.StatusRequestEntityTooLarge, CodeSecretTooLarge, "%s", msg(tenancy.ErrSecretTooLarge))
	case errors.Is(err, tenancy.ErrUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "a backend is unavailable, retry").WithCause(err)
	case errors.Is(err, tenancy.ErrInvalidID):
		return httpx.BadRequest(httpx.CodeInvalidID, "%s", msg(tenancy.ErrInvalidID))
	case errors.Is(err, tenancy.ErrInvalid):
		return httpx.BadRequest(httpx.CodeInvalidArgument, "%s", msg(tenancy.ErrInvalid))
	case errors.Is(err, tenancy.ErrExists):
		return httpx.Conflict(httpx.CodeAlreadyExists, "%s already exists", msg(tenancy.ErrExists))
	case errors.Is(err, tenancy.ErrNotFound):
		return httpx.NotFound(httpx.CodeNotFound, "%s not found", msg(tenancy.ErrNotFound))
	case errors.Is(err, tenancy.ErrLastOwner):
		return httpx.Conflict(CodeLastOwner, "a tenant keeps at least one owner")
	case errors.Is(err, tenancy.ErrQuota):
		return httpx.Errorf(http.StatusTooManyRequests, CodeQuotaExceeded, "%s", msg(tenancy.ErrQuota))
	case errors.Is(err, store.ErrInvalidCursor):
		return httpx.BadRequest(httpx.CodeInvalidCursor, "cursor is not valid for this listing")
	case errors.Is(err, store.ErrConflict):
		return httpx.Conflict(httpx.CodeConflict, "the resource changed concurrently, retry").WithCause(err)
	case errors.Is(err, context.DeadlineExceeded):
		return httpx.Errorf(http.StatusGatewayTimeout, httpx.CodeTimeout, "the request timed out").WithCause(err)
	}
	return err
}

// tenantID returns the {t} path value, validated.
func tenantID(r *http.Request) (string, error) {
	t := r.PathValue("t")
	if !tenancy.ValidTenantID(t) {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "tenant id must be 3-27 characters of a-z, 0-9 and '-'")
	}
	return t, nil
}

// maxCursor bounds the cursor query parameter.
const maxCursor = 1024

// pageQuery reads ?limit= and ?cursor=.
func pageQuery(r *http.Request) (store.Query, error) {
	var q store.Query
	v := r.URL.Query()
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			return q, httpx.BadRequest(httpx.CodeInvalidArgument, "limit must be 1-%d", store.MaxLimit)
		}
		q.Limit = n
	}
	q.Cursor = v.Get("cursor")
	if len(q.Cursor) > maxCursor {
		return q, httpx.BadRequest(httpx.CodeInvalidCursor, "cursor is not valid for this listing")
	}
	return q, nil
}
