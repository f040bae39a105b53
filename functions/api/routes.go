package api

import (
	"context"
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// Routes returns the function's router. Paths are relative to the function's root
// (`/api` under runyard dev).
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", httpx.Health)

	mux.Handle("GET /v1/me", s.authed(s.handleMe))
	mux.Handle("POST /v1/tenants", s.authed(s.handleCreateTenant))
	mux.Handle("GET /v1/tenants/{t}", s.authed(getHandler(nil, tenantOnly(s.tenancy.GetTenant))))
	mux.Handle("DELETE /v1/tenants/{t}", s.authed(deleteHandler(nil, func(ctx context.Context, c tenancy.Caller, t, _ string) error {
		return s.tenancy.DeleteTenant(ctx, c, t)
	})))

	mux.Handle("GET /v1/tenants/{t}/members", s.authed(listHandler(s.tenancy.ListMembers)))
	mux.Handle("POST /v1/tenants/{t}/members", s.authed(s.handleAddMember))
	mux.Handle("GET /v1/tenants/{t}/members/{user}", s.authed(getHandler(memberID, s.tenancy.GetMember)))
	mux.Handle("DELETE /v1/tenants/{t}/members/{user}", s.authed(deleteHandler(memberID, s.tenancy.RemoveMember)))

	mux.Handle("GET /v1/tenants/{t}/apikeys", s.authed(listHandler(s.tenancy.ListAPIKeys)))
	mux.Handle("POST /v1/tenants/{t}/apikeys", s.authed(s.handleCreateAPIKey))
	mux.Handle("GET /v1/tenants/{t}/apikeys/{id}", s.authed(getHandler(keyID, s.tenancy.GetAPIKey)))
	mux.Handle("DELETE /v1/tenants/{t}/apikeys/{id}", s.authed(deleteHandler(keyID, s.tenancy.RevokeAPIKey)))

	mux.Handle("GET /v1/tenants/{t}/audit", s.authed(listHandler(s.tenancy.ListAudit)))

	mux.Handle("GET /v1/tenants/{t}/secrets", s.authed(listHandler(s.tenancy.ListSecrets)))
	mux.Handle("GET /v1/tenants/{t}/secrets/{name}", s.authed(getHandler(secretName, s.tenancy.GetSecret)))
	mux.Handle("PUT /v1/tenants/{t}/secrets/{name}", s.authed(s.handlePutSecret))
	mux.Handle("DELETE /v1/tenants/{t}/secrets/{name}", s.authed(deleteHandler(secretName, s.tenancy.DeleteSecret)))

	mux.Handle("GET /v1/tenants/{t}/builds", s.authed(listHandler(s.listBuilds)))
	mux.Handle("POST /v1/tenants/{t}/builds", s.authed(s.handleCreateBuild))
	mux.Handle("GET /v1/tenants/{t}/builds/{b}", s.authed(getHandler(buildID, s.getBuild)))
	mux.Handle("POST /v1/tenants/{t}/builds/{action}", s.authed(s.handleBuildAction))

	s.mountRepos(mux, s.repos)
	s.mountWhitelabel(mux)
	s.mountLLM(mux)

	mux.Handle("GET /v1/tenants/{t}/runtimes", s.authed(withStateFilter(listHandler(s.listRuntimes))))
	mux.Handle("POST /v1/tenants/{t}/runtimes", s.authed(s.handleCreateRuntime))
	mux.Handle("GET /v1/tenants/{t}/runtimes/{r}", s.authed(getHandler(runtimeID, s.getRuntime)))
	mux.Handle("DELETE /v1/tenants/{t}/runtimes/{r}", s.authed(s.handleDeleteRuntime))
	mux.Handle("POST /v1/tenants/{t}/runtimes/{action}", s.runtimeActionRoute())
	mux.Handle("GET /v1/tenants/{t}/runtimes/{r}/logs", s.authed(s.handleRuntimeLogs))
	s.mountPreviews(mux)

	mux.Handle("GET /v1/tenants/{t}/usage", s.authed(s.handleUsage))
	mux.Handle("PUT /v1/tenants/{t}/budget", s.authed(s.handlePutBudget))
	mux.Handle("POST /v1/tenants/{t}/billing/checkout", s.authed(s.handleCheckout))
	mux.Handle("POST /v1/tenants/{t}/billing/portal", s.authed(s.handlePortal))

	mux.Handle("/", httpx.NotFoundHandler(mux))
	return mux
}
