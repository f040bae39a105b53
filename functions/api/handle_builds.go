package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// CreateBuildRequest is the JSON body of POST /v1/tenants/{t}/builds: a git repository at a
// commit (cached per commit) or a ref (always built).
type CreateBuildRequest struct {
	RepoURL  string `json:"repo_url"`
	Ref      string `json:"ref"`
	Commit   string `json:"commit"`
	Strategy string `json:"strategy"`
	AppDir   string `json:"app_dir"`
}

// Error codes of builds.
const (
	CodeBuildNotFound   = "build_not_found"
	CodeRepoURL         = "repo_url_not_allowed"
	CodeBuilderQuota    = "builder_quota_exceeded"
	CodeBuilderRejected = "builder_rejected"
)

func buildError(err error) error {
	switch {
	case errors.Is(err, build.ErrNotFound):
		return httpx.NotFound(CodeBuildNotFound, "build not found")
	case errors.Is(err, build.ErrRepoURL):
		return httpx.BadRequest(CodeRepoURL, "%s", strings.TrimPrefix(err.Error(), build.ErrRepoURL.Error()+": "))
	case errors.Is(err, build.ErrQuota):
		return httpx.Errorf(http.StatusTooManyRequests, CodeBuilderQuota, "the build service's quota is exhausted; retry later").WithCause(err)
	case errors.Is(err, build.ErrUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "the build service is unavailable; retry").WithCause(err)
	case errors.Is(err, build.ErrInvalid):
		return httpx.BadRequest(CodeBuilderRejected, "the build service rejected the build").WithCause(err)
	}
	return err
}

// buildAnswer is a build record as the API shows it, with its detected plan.
type buildAnswer struct {
	build.Record
	Plan json.RawMessage `json:"plan,omitempty"`
}

func newBuildAnswer(r build.Record) buildAnswer {
	a := buildAnswer{Record: r}
	if r.PlanJSON != "" {
		a.Plan = json.RawMessage(r.PlanJSON)
	}
	return a
}

func (s *Server) handleCreateBuild(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActBuildCreate, "builds"); err != nil {
		return err
	}
	var spec build.Spec
	if isUpload(r) {
		var cleanup func()
		spec, cleanup, err = s.uploadSpec(w, r, t, c)
		if err != nil {
			return err
		}
		defer cleanup()
	} else {
		var req CreateBuildRequest
		if err := httpx.DecodeJSON(w, r, &req); err != nil {
			return err
		}
		if spec, err = s.gitSpec(req, c); err != nil {
			return err
		}
	}
	rec, err := s.builds.Create(r.Context(), t, spec)
	if err != nil {
		s.tenancy.Audit(r.Context(), c, t, tenancy.ActBuildCreate, "builds", tenancy.OutcomeFailure, "the builder refused the build")
		return buildError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActBuildCreate, "builds/"+rec.ID, tenancy.OutcomeSuccess, auditReason(rec))
	status := http.StatusAccepted
	if rec.Cached {
		status = http.StatusOK
		if spec.Source.Archive != "" {
			// The cached image answers; the upload is not needed.
			if err := s.sources.Delete(r.Context(), spec.Source.Archive); err != nil {
				logging.FromContext(r.Context()).WarnContext(r.Context(), "delete unneeded upload", "error", err)
			}
		}
	}
	w.Header().Set("Location", "/v1/tenants/"+t+"/builds/"+rec.ID)
	httpx.JSON(w, r, status, newBuildAnswer(rec))
	return nil
}

func auditReason(r build.Record) string {
	if r.Cached {
		return "cached image " + r.Digest
	}
	return "status " + string(r.Status)
}

// gitSpec validates a git build request.
func (s *Server) gitSpec(req CreateBuildRequest, c tenancy.Caller) (build.Spec, error) {
	repo, err := build.ValidateRepoURL(req.RepoURL, s.cfg.BuildAllowedHosts)
	if err != nil {
		return build.Spec{}, buildError(err)
	}
	if req.Commit != "" && !build.ValidCommit(req.Commit) {
		return build.Spec{}, httpx.BadRequest(httpx.CodeInvalidArgument, "commit must be a full 40- or 64-character hex commit id")
	}
	if req.Commit == "" && req.Ref == "" {
		return build.Spec{}, httpx.BadRequest(httpx.CodeInvalidArgument, "give a commit (cached) or a ref (always built)")
	}
	if !validRef(req.Ref) {
		return build.Spec{}, httpx.BadRequest(httpx.CodeInvalidArgument, "ref must be a branch or tag name")
	}
	switch req.Strategy {
	case "", build.StrategyBuildpacks, build.StrategyDockerfile:
	default:
		return build.Spec{}, httpx.BadRequest(httpx.CodeInvalidArgument, "strategy must be buildpacks or dockerfile")
	}
	if req.AppDir != "" && !validAppDir(req.AppDir) {
		return build.Spec{}, httpx.BadRequest(httpx.CodeInvalidArgument, "app_dir must be a relative path inside the repository")
	}
	return build.Spec{
		Source:   build.Source{RepoURL: repo, Ref: req.Ref, Commit: req.Commit},
		CacheKey: build.GitCacheKey(repo, req.Commit), Strategy: req.Strategy, AppDir: req.AppDir,
		Trigger: build.TriggerAPI, Actor: c.Actor(),
	}, nil
}

func validRef(ref string) bool {
	if len(ref) > 255 || strings.HasPrefix(ref, "-") || strings.Contains(ref, "..") {
		return false
	}
	for _, r := range ref {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)) {
			return false
		}
	}
	return true
}

func validAppDir(d string) bool {
	if len(d) > 512 || strings.HasPrefix(d, "/") {
		return false
	}
	for _, p := range strings.Split(d, "/") {
		if p == "" || p == "." || p == ".." || !validRef(p) {
			return false
		}
	}
	return true
}

// listBuilds and getBuild authorize, then read through the build service.
func (s *Server) listBuilds(ctx context.Context, c tenancy.Caller, t string, q store.Query) (tenancy.Page[buildAnswer], error) {
	if _, err := s.tenancy.Authorize(ctx, c, t, tenancy.ActBuildsList, ""); err != nil {
		return tenancy.Page[buildAnswer]{}, err
	}
	recs, next, err := s.builds.List(ctx, t, q)
	if err != nil {
		return tenancy.Page[buildAnswer]{}, err
	}
	page := tenancy.Page[buildAnswer]{Items: make([]buildAnswer, len(recs)), NextCursor: next}
	for i, r := range recs {
		page.Items[i] = newBuildAnswer(r)
	}
	return page, nil
}

func (s *Server) getBuild(ctx context.Context, c tenancy.Caller, t, id string) (buildAnswer, error) {
	if _, err := s.tenancy.Authorize(ctx, c, t, tenancy.ActBuildsList, ""); err != nil {
		return buildAnswer{}, err
	}
	r, err := s.builds.Get(ctx, t, id)
	return newBuildAnswer(r), buildError(err)
}

// buildID reads {b}, validated.
func buildID(r *http.Request) (string, error) { return checkBuildID(r.PathValue("b")) }

func checkBuildID(id string) (string, error) {
	if len(id) == 0 || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "build id must be 1-64 characters of a-z and 0-9")
	}
	return id, nil
}

// handleBuildAction serves POST /v1/tenants/{t}/builds/{b}:cancel (the ":verb" form cannot be a
// ServeMux pattern).
func (s *Server) handleBuildAction(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	id, verb, ok := strings.Cut(r.PathValue("action"), ":")
	if !ok || verb != "cancel" {
		return httpx.NotFound(httpx.CodeNotFound, "no such endpoint; use POST …/builds/{b}:cancel")
	}
	if _, err := checkBuildID(id); err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActBuildCancel, "builds/"+id); err != nil {
		return err
	}
	rec, err := s.builds.Cancel(r.Context(), t, id)
	if err != nil {
		return buildError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActBuildCancel, "builds/"+id, tenancy.OutcomeSuccess, "status "+string(rec.Status))
	httpx.JSON(w, r, http.StatusAccepted, newBuildAnswer(rec))
	return nil
}
