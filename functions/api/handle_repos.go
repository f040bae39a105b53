package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/tenancy"
)

// ConnectRepoRequest is the body of POST /v1/tenants/{t}/repos.
type ConnectRepoRequest struct {
	// URL is https://github.com/<owner>/<name> (a trailing ".git" or "/" is dropped).
	URL string `json:"url"`
	// DefaultBranch is the branch whose pushes prebuild; "main" when empty.
	DefaultBranch string `json:"default_branch"`
}

// ConnectRepoResponse is the new connection with its webhook signing secret, shown this once:
// configure a GitHub webhook with payload URL hook_url, content type application/json, secret
// hook_secret and the push event.
type ConnectRepoResponse struct {
	repos.Repo
	HookSecret string `json:"hook_secret"`
}

// Error codes of the repository endpoints.
const (
	CodeInvalidRepoURL = "invalid_repo_url"
	CodeInvalidBranch  = "invalid_branch"
)

// mountRepos adds the repository connection endpoints, served by svc, to mux.
func (s *Server) mountRepos(mux *http.ServeMux, svc *repos.Service) {
	mux.Handle("GET /v1/tenants/{t}/repos", s.authed(reposErrors(listHandler(svc.List))))
	mux.Handle("POST /v1/tenants/{t}/repos", s.authed(reposErrors(connectRepoHandler(svc))))
	mux.Handle("GET /v1/tenants/{t}/repos/{id}", s.authed(reposErrors(getHandler(repoID, svc.Get))))
	mux.Handle("DELETE /v1/tenants/{t}/repos/{id}", s.authed(reposErrors(deleteHandler(repoID, svc.Disconnect))))
}

func connectRepoHandler(svc *repos.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		t, err := tenantID(r)
		if err != nil {
			return err
		}
		var req ConnectRepoRequest
		if err := httpx.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		repo, secret, err := svc.Connect(r.Context(), c, t, req.URL, req.DefaultBranch)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/tenants/"+t+"/repos/"+repo.ID)
		httpx.JSON(w, r, http.StatusCreated, ConnectRepoResponse{Repo: repo, HookSecret: secret})
		return nil
	}
}

// reposErrors maps the repos package's errors to answers; the rest go to asAPIError.
func reposErrors(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		err := h(w, r, c)
		detail := func(sentinel error) string {
			return strings.TrimPrefix(strings.TrimPrefix(err.Error(), sentinel.Error()), ": ")
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, repos.ErrInvalidURL):
			return httpx.BadRequest(CodeInvalidRepoURL, "url %s", detail(repos.ErrInvalidURL))
		case errors.Is(err, repos.ErrInvalidBranch):
			return httpx.BadRequest(CodeInvalidBranch, "default_branch: %s", detail(repos.ErrInvalidBranch))
		case errors.Is(err, repos.ErrExists):
			return httpx.Conflict(httpx.CodeAlreadyExists, "the repository is already connected to this tenant")
		case errors.Is(err, repos.ErrNotFound):
			return httpx.NotFound(httpx.CodeNotFound, "repository connection not found")
		case errors.Is(err, repos.ErrUnavailable):
			return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "a backend is unavailable, retry").WithCause(err)
		}
		return err
	}
}

// repoID returns the {id} path value, validated.
func repoID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !repos.ValidID(id) {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "repository id must be 1-32 characters of a-z and 0-9")
	}
	return id, nil
}
