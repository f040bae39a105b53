package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
)

// Error codes of branding and custom domains.
const (
	CodeInvalidDomain     = "invalid_domain"
	CodeInvalidBranding   = "invalid_branding"
	CodeInvalidHost       = "invalid_host"
	CodeDomainNotFound    = "domain_not_found"
	CodeDomainTaken       = "domain_taken"
	CodeDomainNotVerified = "domain_not_verified"
)

// whitelabelError maps the whitelabel package's errors; the rest go to asAPIError.
func whitelabelError(err error) error {
	switch {
	case errors.Is(err, whitelabel.ErrInvalidDomain):
		return httpx.BadRequest(CodeInvalidDomain, "%s", detail(err, whitelabel.ErrInvalidDomain))
	case errors.Is(err, whitelabel.ErrInvalidBranding):
		return httpx.BadRequest(CodeInvalidBranding, "%s", detail(err, whitelabel.ErrInvalidBranding))
	case errors.Is(err, whitelabel.ErrNotFound):
		return httpx.NotFound(CodeDomainNotFound, "domain not found")
	case errors.Is(err, whitelabel.ErrTaken):
		return httpx.Conflict(CodeDomainTaken, "the domain is verified by another tenant")
	case errors.Is(err, whitelabel.ErrNotVerified):
		return httpx.Errorf(http.StatusUnprocessableEntity, CodeDomainNotVerified, "%s", detail(err, whitelabel.ErrNotVerified))
	case errors.Is(err, whitelabel.ErrExists):
		return httpx.Conflict(httpx.CodeAlreadyExists, "the tenant already has this domain")
	}
	return err
}

// wl adapts a handlerFunc so whitelabel errors get their codes.
func wl(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		return whitelabelError(h(w, r, c))
	}
}

// mountWhitelabel adds the branding and custom domain routes.
func (s *Server) mountWhitelabel(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/branding", s.handlePublicBranding)
	mux.Handle("GET /v1/tenants/{t}/branding", s.authed(wl(getHandler(nil, tenantOnly(s.whitelabel.GetBranding)))))
	mux.Handle("PUT /v1/tenants/{t}/branding", s.authed(wl(s.handlePutBranding)))
	mux.Handle("GET /v1/tenants/{t}/domains", s.authed(wl(listHandler(s.whitelabel.ListDomains))))
	mux.Handle("POST /v1/tenants/{t}/domains", s.authed(wl(s.handleAddDomain)))
	mux.Handle("GET /v1/tenants/{t}/domains/{domain}", s.authed(wl(getHandler(domainName, s.whitelabel.GetDomain))))
	mux.Handle("DELETE /v1/tenants/{t}/domains/{domain}", s.authed(wl(deleteHandler(domainName, s.whitelabel.DeleteDomain))))
	mux.Handle("POST /v1/tenants/{t}/domains/{action}", s.authed(wl(s.handleDomainAction)))
}

// domainName returns the {domain} path value; the whitelabel service checks it.
func domainName(r *http.Request) (string, error) { return r.PathValue("domain"), nil }

// PutBrandingRequest is the body of PUT /v1/tenants/{t}/branding: the whole branding.
type PutBrandingRequest = whitelabel.Branding

func (s *Server) handlePutBranding(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req PutBrandingRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := s.whitelabel.PutBranding(r.Context(), c, t, req)
	if err != nil {
		return err
	}
	httpx.JSON(w, r, http.StatusOK, b)
	return nil
}

// AddDomainRequest is the body of POST /v1/tenants/{t}/domains.
type AddDomainRequest struct {
	Domain string `json:"domain"`
}

func (s *Server) handleAddDomain(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req AddDomainRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := s.whitelabel.AddDomain(r.Context(), c, t, req.Domain)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t+"/domains/"+d.Domain)
	httpx.JSON(w, r, http.StatusCreated, d)
	return nil
}

// handleDomainAction serves POST /v1/tenants/{t}/domains/{domain}:verify.
func (s *Server) handleDomainAction(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	domain, verb, ok := strings.Cut(r.PathValue("action"), ":")
	if !ok || verb != "verify" {
		return httpx.NotFound(httpx.CodeNotFound, "no such endpoint; use POST …/domains/{domain}:verify")
	}
	d, err := s.whitelabel.VerifyDomain(r.Context(), c, t, domain)
	if err != nil {
		return err
	}
	httpx.JSON(w, r, http.StatusOK, d)
	return nil
}

// brandingMaxAge is how long browsers and CDNs may keep a public branding answer.
const brandingMaxAge = "300"

// handlePublicBranding serves GET /v1/branding?host=… without authentication: the branding of
// the tenant whose verified domain the host is under, else the platform's. It answers nothing
// but branding (no tenant id, no domain, no who-changed-it).
func (s *Server) handlePublicBranding(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	host := r.URL.Query().Get("host")
	if host == "" {
		httpx.Error(w, r, httpx.BadRequest(httpx.CodeInvalidArgument, "the host query parameter is required"))
		return
	}
	if _, ok := whitelabel.CanonicalHost(host); !ok {
		httpx.Error(w, r, httpx.BadRequest(CodeInvalidHost, "host must be a DNS host name (an optional :port is ignored)"))
		return
	}
	b, err := s.lookup.BrandingForHost(r.Context(), host)
	if err != nil {
		logging.FromContext(r.Context()).ErrorContext(r.Context(), "branding lookup", "error", err)
		httpx.Error(w, r, httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "a backend is unavailable, retry"))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age="+brandingMaxAge)
	httpx.JSON(w, r, http.StatusOK, b)
}
