package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// CreateRuntimeRequest is the body of POST /v1/tenants/{t}/runtimes: exactly one of image,
// build_id or repo_url (+ commit or ref).
type CreateRuntimeRequest struct {
	Image          string   `json:"image"`
	BuildID        string   `json:"build_id"`
	RepoURL        string   `json:"repo_url"`
	Commit         string   `json:"commit"`
	Ref            string   `json:"ref"`
	StartCmd       string   `json:"start_cmd"`
	Ports          []int    `json:"ports"`
	ResourceFactor int      `json:"resource_factor"`
	Secrets        []string `json:"secrets"`
}

// RuntimeAnswer is a runtime with its URLs.
type RuntimeAnswer struct {
	runtime.Runtime
	URLs URLs `json:"urls"`
}

// URLs are where a runtime answers.
type URLs struct {
	Agent    string            `json:"agent,omitempty"`
	VSCode   string            `json:"vscode,omitempty"`
	Previews map[string]string `json:"previews,omitempty"`
}

// Error codes of runtimes.
const (
	CodeRuntimeNotFound   = "runtime_not_found"
	CodeIllegalTransition = "illegal_transition"
	CodeCapacity          = "capacity_exhausted"
	CodeDeployQuota       = "deploy_quota_exceeded"
	CodeDeployPermission  = "deploy_permission_denied"
	CodeInvalidImage      = "invalid_image"
	CodePaymentRequired   = "payment_required"
	CodeBudgetExceeded    = "budget_exceeded"
)

func runtimeError(err error) error {
	var qe *runtime.QuotaError
	switch {
	case errors.Is(err, billing.ErrPaymentRequired):
		return httpx.Errorf(http.StatusPaymentRequired, CodePaymentRequired, "%s; update the payment method in the billing portal", detail(err, billing.ErrPaymentRequired))
	case errors.Is(err, billing.ErrBudgetExceeded):
		return httpx.Errorf(http.StatusTooManyRequests, CodeBudgetExceeded, "%s; raise the budget to start runtimes", detail(err, billing.ErrBudgetExceeded))
	case errors.As(err, &qe):
		return httpx.Errorf(http.StatusTooManyRequests, CodeQuotaExceeded, "quota %s exceeded: limit %d, in use %d", qe.Quota, qe.Limit, qe.Used)
	case errors.Is(err, runtime.ErrCapacity):
		return httpx.Errorf(http.StatusServiceUnavailable, CodeCapacity, "no capacity for new runtimes; retry later")
	case errors.Is(err, runtime.ErrNotFound):
		return httpx.NotFound(CodeRuntimeNotFound, "runtime not found")
	case errors.Is(err, runtime.ErrIllegalTransition):
		return httpx.Conflict(CodeIllegalTransition, "%s", detail(err, runtime.ErrIllegalTransition))
	case errors.Is(err, runtime.ErrInvalid):
		return httpx.BadRequest(httpx.CodeInvalidArgument, "%s", detail(err, runtime.ErrInvalid))
	case errors.Is(err, deploy.ErrQuota):
		return httpx.Errorf(http.StatusServiceUnavailable, CodeDeployQuota, "the platform's runtime service quota is exhausted; retry later").WithCause(err)
	case errors.Is(err, deploy.ErrPermission):
		return httpx.Errorf(http.StatusInternalServerError, CodeDeployPermission, "the platform lacks a permission to run the runtime").WithCause(err)
	case errors.Is(err, deploy.ErrInvalidImage):
		return httpx.BadRequest(CodeInvalidImage, "the runtime image is missing or invalid").WithCause(err)
	case errors.Is(err, deploy.ErrUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "the runtime platform is unavailable; retry").WithCause(err)
	}
	return buildError(err)
}

// detail is what follows sentinel's text in err's message (or the sentinel's text itself).
func detail(err, sentinel error) string {
	msg, text := err.Error(), sentinel.Error()
	if i := strings.LastIndex(msg, text+": "); i >= 0 {
		return msg[i+len(text)+2:]
	}
	return text
}

func (s *Server) answer(ctx context.Context, r runtime.Runtime) RuntimeAnswer {
	return RuntimeAnswer{Runtime: r, URLs: s.urls(r, s.runtimeDomain(ctx, r.Tenant))}
}

// runtimeDomain is the domain tenant's runtime URLs use in domain mode (its verified custom
// domain, else RUNTIME_DOMAIN), "" in direct mode. A failed lookup falls back to the platform's
// domain, which serves every tenant.
func (s *Server) runtimeDomain(ctx context.Context, tenant string) string {
	d, err := s.lookup.RuntimeDomain(ctx, tenant)
	if err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "runtime domain lookup failed; using the platform's", "tenant", tenant, "error", err)
		return s.cfg.Runtimes.RuntimeDomain
	}
	return d
}

// urls are the runtime's URLs. In domain mode (domain set) they are the gateway's hosts
// (shared/hosts): {runtime}.{domain} for the agent, vscode-{runtime}.… for VS Code and
// {port}-{runtime}.… (work-1-/work-2- for 12000/12001) for previews, known from creation on.
// In direct mode they are under the service URL (the ingress routes /vscode/ and /_port/{n}/),
// and locally the preview hosts of runyard dev.
func (s *Server) urls(r runtime.Runtime, domain string) URLs {
	if domain != "" {
		if r.State == runtime.StateDeleted {
			return URLs{}
		}
		scheme := s.cfg.Runtimes.Scheme()
		u := URLs{Agent: hosts.URL(scheme, r.ID, deploy.PortAgent, domain),
			VSCode: hosts.URL(scheme, r.ID, deploy.PortVSCode, domain) + "/?tkn=" + r.VSCodeToken, Previews: map[string]string{}}
		for _, p := range r.Ports {
			u.Previews[strconv.Itoa(p)] = hosts.URL(scheme, r.ID, p, domain) + "/"
		}
		return u
	}
	if r.URL == "" {
		return URLs{}
	}
	u := URLs{Agent: r.URL, VSCode: r.URL + "/vscode/?tkn=" + r.VSCodeToken, Previews: map[string]string{}}
	for _, p := range r.Ports {
		if s.cfg.PreviewHost != "" {
			u.Previews[strconv.Itoa(p)] = fmt.Sprintf("http://%d-%s.%s/", p, r.ID, s.cfg.PreviewHost)
		} else {
			u.Previews[strconv.Itoa(p)] = fmt.Sprintf("%s/_port/%d/", r.URL, p)
		}
	}
	return u
}

func (s *Server) handleCreateRuntime(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActRuntimeCreate, "runtimes"); err != nil {
		return err
	}
	var req CreateRuntimeRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	rq, err := s.runtimeRequest(r.Context(), t, c, req)
	if err != nil {
		return err
	}
	rt, err := s.runtimes.Create(r.Context(), t, rq)
	if err != nil {
		// A refused deploy has already recorded the runtime as failed, with no service behind.
		s.tenancy.Audit(r.Context(), c, t, tenancy.ActRuntimeCreate, "runtimes", tenancy.OutcomeFailure, "the runtime could not be created")
		return runtimeError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActRuntimeCreate, "runtimes/"+rt.ID, tenancy.OutcomeSuccess, "state "+string(rt.State))
	w.Header().Set("Location", "/v1/tenants/"+t+"/runtimes/"+rt.ID)
	httpx.JSON(w, r, http.StatusAccepted, s.answer(r.Context(), rt))
	return nil
}

// runtimeRequest validates a create request.
func (s *Server) runtimeRequest(ctx context.Context, t string, c tenancy.Caller, req CreateRuntimeRequest) (runtime.Request, error) {
	n := 0
	for _, v := range []string{req.Image, req.BuildID, req.RepoURL} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return runtime.Request{}, httpx.BadRequest(httpx.CodeInvalidArgument, "give exactly one of image, build_id or repo_url")
	}
	out := runtime.Request{Image: req.Image, BuildID: req.BuildID, StartCmd: req.StartCmd, Ports: req.Ports,
		ResourceFactor: req.ResourceFactor, Mode: deploy.ModeIAP, Actor: c.Actor(), Env: map[string]string{}}
	if req.Image != "" && (len(req.Image) > 1024 || strings.ContainsAny(req.Image, " \t\n\"'`$")) {
		return runtime.Request{}, httpx.BadRequest(CodeInvalidImage, "image must be an image reference")
	}
	if req.BuildID != "" {
		if _, err := checkBuildID(req.BuildID); err != nil {
			return runtime.Request{}, err
		}
	}
	if req.RepoURL != "" {
		spec, err := s.gitSpec(CreateBuildRequest{RepoURL: req.RepoURL, Commit: req.Commit, Ref: req.Ref}, c)
		if err != nil {
			return runtime.Request{}, err
		}
		out.Source = spec.Source
	}
	if len(req.StartCmd) > 4096 {
		return runtime.Request{}, httpx.BadRequest(httpx.CodeInvalidArgument, "start_cmd is too long")
	}
	if len(req.Ports) > 8 {
		return runtime.Request{}, httpx.BadRequest(httpx.CodeInvalidArgument, "at most 8 ports")
	}
	for _, p := range req.Ports {
		if p < 1024 || p > 65535 || p == deploy.PortAgent || p == deploy.PortVSCode || p == deploy.PortIngress {
			return runtime.Request{}, httpx.BadRequest(httpx.CodeInvalidArgument, "port %d is not an app port (1024-65535, not 8080, 60000 or 60001)", p)
		}
	}
	for _, name := range req.Secrets {
		if !secrets.ValidName(name) || strings.HasPrefix(name, tenancy.ReservedSecretPrefix) {
			return runtime.Request{}, httpx.BadRequest(CodeSecretName, "secret %q is not a tenant secret name", name)
		}
		if _, err := s.tenancy.GetSecret(ctx, c, t, name); err != nil {
			return runtime.Request{}, httpx.BadRequest(httpx.CodeInvalidArgument, "secret %s does not exist", name)
		}
		out.Secrets = append(out.Secrets, deploy.SecretRef{Env: name, Tenant: t, Name: name, Version: secrets.Latest})
	}
	emails, err := s.tenancy.MemberEmails(ctx, t)
	if err != nil {
		return runtime.Request{}, err
	}
	for _, e := range emails {
		out.Members = append(out.Members, "user:"+e)
	}
	slices.Sort(out.Members)
	return out, nil
}

func (s *Server) listRuntimes(ctx context.Context, c tenancy.Caller, t string, q store.Query) (tenancy.Page[RuntimeAnswer], error) {
	if _, err := s.tenancy.Authorize(ctx, c, t, tenancy.ActRuntimesList, ""); err != nil {
		return tenancy.Page[RuntimeAnswer]{}, err
	}
	state, _ := ctx.Value(stateFilterKey{}).(runtime.State)
	recs, next, err := s.runtimes.Runtimes().List(ctx, t, state, q)
	if err != nil {
		return tenancy.Page[RuntimeAnswer]{}, err
	}
	page := tenancy.Page[RuntimeAnswer]{Items: make([]RuntimeAnswer, len(recs)), NextCursor: next}
	domain := s.runtimeDomain(ctx, t)
	for i, rec := range recs {
		page.Items[i] = RuntimeAnswer{Runtime: rec, URLs: s.urls(rec, domain)}
	}
	return page, nil
}

type stateFilterKey struct{}

// withStateFilter passes ?state= to listRuntimes.
func withStateFilter(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		st := runtime.State(r.URL.Query().Get("state"))
		if st != "" && !st.Valid() {
			return httpx.BadRequest(httpx.CodeInvalidArgument, "state must be one of pending, building, deploying, running, paused, stopped, deleted, failed")
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), stateFilterKey{}, st)), c)
	}
}

func (s *Server) getRuntime(ctx context.Context, c tenancy.Caller, t, id string) (RuntimeAnswer, error) {
	if _, err := s.tenancy.Authorize(ctx, c, t, tenancy.ActRuntimesList, ""); err != nil {
		return RuntimeAnswer{}, err
	}
	rt, err := s.runtimes.Refresh(ctx, t, id)
	if err != nil {
		return RuntimeAnswer{}, runtimeError(err)
	}
	s.touch(ctx, rt)
	return s.answer(ctx, rt), nil
}

// touch records an API call about a runtime as activity (best effort).
func (s *Server) touch(ctx context.Context, rt runtime.Runtime) {
	if err := s.runtimes.Runtimes().TouchRecord(ctx, rt, s.now()); err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "record runtime activity", "runtime", rt.ID, "error", err)
	}
}

func runtimeID(r *http.Request) (string, error) { return checkRuntimeID(r.PathValue("r")) }

func checkRuntimeID(id string) (string, error) {
	if len(id) == 0 || len(id) > 40 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "runtime id must be 1-40 characters of a-z and 2-7")
	}
	return id, nil
}

// runtimeActionRoute serves POST /v1/tenants/{t}/runtimes/{r}:verb: :activity authenticates
// with the runtime's own session key (the ingress sidecar reports activity), every other verb
// with the caller's credentials.
func (s *Server) runtimeActionRoute() http.Handler {
	authed := s.authed(s.handleRuntimeAction)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.PathValue("action"), ":activity") {
			if err := s.handleActivity(w, r); err != nil {
				httpx.Error(w, r, asAPIError(err))
			}
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// ActivityReport is the body the ingress sends.
type ActivityReport struct {
	RuntimeID   string    `json:"runtime_id"`
	LastRequest time.Time `json:"last_request"`
}

// handleActivity records a runtime's last request, reported by its ingress with the runtime's
// session key as bearer. It can only move that runtime's activity time forward.
func (s *Server) handleActivity(w http.ResponseWriter, r *http.Request) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	id, _, _ := strings.Cut(r.PathValue("action"), ":")
	if _, err := checkRuntimeID(id); err != nil {
		return err
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "send the runtime's session key as a bearer token")
	}
	rt, err := s.runtimes.Runtimes().Get(r.Context(), t, id)
	if err != nil || subtle.ConstantTimeCompare([]byte(key), []byte(rt.SessionAPIKey)) != 1 || rt.SessionAPIKey == "" {
		return httpx.Unauthenticated("invalid_session_key", "the session key is not valid for this runtime")
	}
	var rep ActivityReport
	if err := httpx.DecodeJSON(w, r, &rep); err != nil {
		return err
	}
	if rep.RuntimeID != id {
		return httpx.BadRequest(httpx.CodeInvalidArgument, "runtime_id does not match the path")
	}
	now := s.now()
	if rep.LastRequest.After(now) {
		rep.LastRequest = now // a reporter's clock cannot push activity into the future
	}
	if err := s.runtimes.Runtimes().Touch(r.Context(), t, id, rep.LastRequest); err != nil {
		return runtimeError(err)
	}
	httpx.JSON(w, r, http.StatusNoContent, nil)
	return nil
}

// handleRuntimeAction serves POST /v1/tenants/{t}/runtimes/{r}:pause|:resume|:stop.
func (s *Server) handleRuntimeAction(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	id, verb, ok := strings.Cut(r.PathValue("action"), ":")
	a := runtime.Action(verb)
	if !ok || (a != runtime.ActionPause && a != runtime.ActionResume && a != runtime.ActionStop) {
		return httpx.NotFound(httpx.CodeNotFound, "no such endpoint; use POST …/runtimes/{r}:pause, :resume or :stop")
	}
	return s.runtimeAction(w, r, c, t, id, a)
}

func (s *Server) handleDeleteRuntime(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	return s.runtimeAction(w, r, c, t, r.PathValue("r"), runtime.ActionDelete)
}

func (s *Server) runtimeAction(w http.ResponseWriter, r *http.Request, c tenancy.Caller, t, id string, a runtime.Action) error {
	if _, err := checkRuntimeID(id); err != nil {
		return err
	}
	target := "runtimes/" + id
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActRuntimeManage, target); err != nil {
		return err
	}
	rt, err := s.runtimes.Do(r.Context(), t, id, a)
	if err != nil {
		s.tenancy.Audit(r.Context(), c, t, tenancy.ActRuntimeManage, target, tenancy.OutcomeFailure, string(a))
		return runtimeError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActRuntimeManage, target, tenancy.OutcomeSuccess, string(a))
	s.touch(r.Context(), rt)
	if a == runtime.ActionDelete {
		httpx.JSON(w, r, http.StatusNoContent, nil)
		return nil
	}
	httpx.JSON(w, r, http.StatusAccepted, s.answer(r.Context(), rt))
	return nil
}

// handleRuntimeLogs serves GET /v1/tenants/{t}/runtimes/{r}/logs where the deployer keeps
// output (the local driver); in the cloud the output is in Cloud Logging.
func (s *Server) handleRuntimeLogs(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, id, err := tenantAnd(r, runtimeID)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActRuntimesList, ""); err != nil {
		return err
	}
	rt, err := s.runtimes.Runtimes().Get(r.Context(), t, id)
	if err != nil {
		return runtimeError(err)
	}
	lr, ok := s.deployer.(deploy.LogReader)
	if !ok {
		return httpx.Errorf(http.StatusNotImplemented, "logs_unavailable", "runtime output is in Cloud Logging (resource cloud_run_revision, service %s)", rt.Service)
	}
	out, err := lr.Logs(rt.Service)
	if err != nil {
		return runtimeError(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(out)
	return nil
}
