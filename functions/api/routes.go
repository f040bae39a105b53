package api

import (
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
)

// Routes returns the function's router. Paths are relative to the function's root
// (`/api` under runyard dev).
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)

	mux.Handle("POST /v1/tenants", s.authed(s.handleCreateTenant))
	mux.Handle("GET /v1/tenants/{t}", s.authed(s.handleGetTenant))

	mux.Handle("GET /v1/tenants/{t}/members", s.authed(s.handleListMembers))
	mux.Handle("POST /v1/tenants/{t}/members", s.authed(s.handleAddMember))
	mux.Handle("GET /v1/tenants/{t}/members/{user}", s.authed(s.handleGetMember))
	mux.Handle("DELETE /v1/tenants/{t}/members/{user}", s.authed(s.handleRemoveMember))

	mux.Handle("GET /v1/tenants/{t}/apikeys", s.authed(s.handleListAPIKeys))
	mux.Handle("POST /v1/tenants/{t}/apikeys", s.authed(s.handleCreateAPIKey))
	mux.Handle("GET /v1/tenants/{t}/apikeys/{id}", s.authed(s.handleGetAPIKey))
	mux.Handle("DELETE /v1/tenants/{t}/apikeys/{id}", s.authed(s.handleRevokeAPIKey))

	mux.Handle("GET /v1/tenants/{t}/audit", s.authed(s.handleListAudit))

	mux.Handle("/", notFound(mux))
	return mux
}

// notFound answers unrouted requests with an envelope: 405 (with Allow) when the path exists
// for other methods, else 404.
func notFound(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			httpx.Error(w, r, &httpx.APIError{Status: http.StatusMethodNotAllowed, Code: httpx.CodeMethodNotAllowed,
				Message: "method not allowed; use " + strings.Join(allow, ", "), Allow: allow})
			return
		}
		httpx.Error(w, r, httpx.NotFound(httpx.CodeNotFound, "no such endpoint"))
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpx.JSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}
