package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/detect"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
)

// Ports every OpenHands runtime gets: the agent on deploy.PortAgent (60000), VS Code on
// deploy.PortVSCode (60001), and the two app ports OpenHands tells the agent about.
const (
	PortWork1 = 12000
	PortWork2 = 12001
)

// serverEnv are variables the platform sets in every runtime (the deployer: RUNTIME_ID,
// RUNTIME_URL, VSCODE_PORT, WORKER_1, WORKER_2; the orchestrator: SESSION_API_KEY,
// VSCODE_CONNECTION_TOKEN; Cloud Run: PORT, K_*); a client's values for them are dropped.
var serverEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true,
	"RUNTIME_ID": true, "RUNTIME_URL": true, "VSCODE_PORT": true, "WORKER_1": true, "WORKER_2": true,
	"SESSION_API_KEY": true, "VSCODE_CONNECTION_TOKEN": true}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)

// LocalImagePrefix marks a local folder as /start's image in local mode.
const LocalImagePrefix = "local:"

// Server serves the Runtime API.
type Server struct {
	cfg      Config
	authn    *authn.Authenticator
	runtimes *runtime.Orchestrator
	http     *http.Client
	local    bool
	store    store.Store
	builds   *build.Service
	sources  sources.Store
	// lookup finds each tenant's runtime domain in domain mode.
	lookup *whitelabel.Lookup
}

// Routes returns the function's routes.
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("POST /start", s.authed(s.handleStart))
	mux.Handle("GET /sessions/batch", s.authed(s.handleSessionsBatch))
	mux.Handle("GET /sessions/{session_id}", s.authed(s.handleSession))
	mux.Handle("GET /runtime/{runtime_id}", s.authed(s.handleRuntime))
	mux.Handle("POST /pause", s.authed(s.action(runtime.ActionPause)))
	mux.Handle("POST /resume", s.authed(s.action(runtime.ActionResume)))
	mux.Handle("POST /stop", s.authed(s.action(runtime.ActionStop)))
	mux.Handle("GET /list", s.authed(s.handleList))
	mux.Handle("GET /registry_prefix", s.authed(s.handleRegistryPrefix))
	mux.Handle("GET /image_exists", s.authed(s.handleImageExists))
	mux.Handle("POST /build", s.authed(s.handleBuild))
	mux.Handle("GET /build_status", s.authed(s.handleBuildStatus))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeDetail(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error

// authed authenticates X-API-Key (a tenant API key with the runtimes scope) and renders the
// handler's errors as {"detail": …}.
func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authn.Authenticate(r)
		if err != nil {
			renderError(w, r, authn.AsAPIError(err))
			return
		}
		if c.Kind != tenancy.CallerAPIKey {
			writeDetail(w, http.StatusUnauthorized, "send a tenant API key as X-API-Key")
			return
		}
		if !slices.Contains(c.Scopes, tenancy.ScopeRuntimes) {
			writeDetail(w, http.StatusForbidden, "the API key lacks the runtimes scope")
			return
		}
		if err := h(w, r, c); err != nil {
			renderError(w, r, err)
		}
	})
}

// writeDetail writes the FastAPI-style error body OpenHands reads.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// renderError answers err as {"detail": …}: an *httpx.APIError with its status and message,
// anything else as a logged 500.
func renderError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *httpx.APIError
	if !errors.As(err, &ae) {
		ae = &httpx.APIError{Status: http.StatusInternalServerError, Message: "internal error", Cause: err}
	}
	if ae.Status >= 500 && ae.Status != http.StatusNotImplemented {
		logging.FromContext(r.Context()).ErrorContext(r.Context(), "runtimeapi", "status", ae.Status, "error", err)
	}
	writeDetail(w, ae.Status, ae.Message)
}

func detailf(status int, format string, args ...any) *httpx.APIError {
	return &httpx.APIError{Status: status, Code: "runtimeapi", Message: fmt.Sprintf(format, args...)}
}

// runtimeError maps orchestrator errors to answers.
func runtimeError(err error) error {
	var qe *runtime.QuotaError
	switch {
	case errors.Is(err, billing.ErrPaymentRequired):
		return detailf(http.StatusPaymentRequired, "payment required: %s", strings.TrimPrefix(err.Error(), billing.ErrPaymentRequired.Error()+": "))
	case errors.Is(err, billing.ErrBudgetExceeded):
		return detailf(http.StatusTooManyRequests, "monthly budget exceeded: %s", strings.TrimPrefix(err.Error(), billing.ErrBudgetExceeded.Error()+": "))
	case errors.As(err, &qe):
		return detailf(http.StatusTooManyRequests, "quota %s exceeded: limit %d, in use %d", qe.Quota, qe.Limit, qe.Used)
	case errors.Is(err, runtime.ErrCapacity):
		return detailf(http.StatusServiceUnavailable, "no capacity for new runtimes; retry later")
	case errors.Is(err, runtime.ErrNotFound):
		return detailf(http.StatusNotFound, "runtime not found")
	case errors.Is(err, runtime.ErrIllegalTransition):
		return detailf(http.StatusConflict, "%s", err.Error())
	case errors.Is(err, runtime.ErrInvalid):
		return detailf(http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, deploy.ErrInvalid):
		return detailf(http.StatusBadRequest, "the runtime request is invalid: %v", err)
	case errors.Is(err, deploy.ErrInvalidImage):
		return detailf(http.StatusBadRequest, "the runtime image is missing or invalid")
	case errors.Is(err, deploy.ErrQuota), errors.Is(err, deploy.ErrUnavailable):
		return detailf(http.StatusServiceUnavailable, "the runtime platform is unavailable; retry later")
	}
	return fmt.Errorf("runtimeapi: %w", err)
}

// Command is /start's command: a JSON list of arguments (V0, V1) or one shell string (SDK).
type Command struct {
	Args  []string
	Shell string
}

// UnmarshalJSON takes a string or a list of strings.
func (c *Command) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.Shell); err == nil {
		return nil
	}
	return json.Unmarshal(b, &c.Args)
}

// StartCmd is the command as one shell string.
func (c Command) StartCmd() string {
	if c.Shell != "" || len(c.Args) == 0 {
		return c.Shell
	}
	q := make([]string, len(c.Args))
	for i, a := range c.Args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// StartRequest is the body of POST /start (the union of what the clients send).
type StartRequest struct {
	Image           string            `json:"image"`
	Command         Command           `json:"command"`
	WorkingDir      string            `json:"working_dir"`
	Environment     map[string]string `json:"environment"`
	SessionID       string            `json:"session_id"`
	ResourceFactor  *int              `json:"resource_factor"`
	RuntimeClass    string            `json:"runtime_class"`
	RunAsUser       *int              `json:"run_as_user"`
	RunAsGroup      *int              `json:"run_as_group"`
	FSGroup         *int              `json:"fs_group"`
	ImagePullPolicy string            `json:"image_pull_policy"`
}

// Runtime is the Runtime object the clients read.
type Runtime struct {
	RuntimeID      string         `json:"runtime_id"`
	SessionID      string         `json:"session_id"`
	URL            string         `json:"url"`
	SessionAPIKey  string         `json:"session_api_key"`
	Status         string         `json:"status"`
	PodStatus      string         `json:"pod_status"`
	WorkHosts      map[string]int `json:"work_hosts"`
	VSCodeURL      string         `json:"vscode_url,omitempty"`
	Image          string         `json:"image,omitempty"`
	RestartCount   int            `json:"restart_count"`
	RestartReasons []string       `json:"restart_reasons"`
	Error          string         `json:"error,omitempty"`
}

// Statuses (status) and pod statuses (pod_status) of the Runtime API.
const (
	StatusRunning  = "running"
	StatusStarting = "starting"
	StatusPaused   = "paused"
	StatusStopped  = "stopped"
	StatusError    = "error"

	PodReady    = "ready"
	PodPending  = "pending"
	PodRunning  = "running"
	PodNotFound = "not found"
	PodFailed   = "failed"
)

// statusOf maps a runtime's state (and, when running, whether {url}/alive answered) to the
// API's status and pod_status.
func statusOf(st runtime.State, alive bool) (status, pod string) {
	switch st {
	case runtime.StateRunning:
		if alive {
			return StatusRunning, PodReady
		}
		return StatusStarting, PodRunning
	case runtime.StatePending, runtime.StateBuilding, runtime.StateDeploying:
		return StatusStarting, PodPending
	case runtime.StatePaused:
		return StatusPaused, PodNotFound
	case runtime.StateStopped, runtime.StateDeleted:
		return StatusStopped, PodNotFound
	}
	return StatusError, PodFailed
}

// URLs are a runtime's addresses. In domain mode they are the gateway's hosts (shared/hosts),
// OpenHands' subdomain scheme: the agent at {runtime}.{domain}, VS Code at vscode-{runtime}.…,
// app ports at work-1-/work-2-{runtime}.… (12000/12001) and {port}-{runtime}.…, so the V1
// frontend, which derives vscode-<host> and work-N-<host> from the agent URL's host, finds
// them. In direct mode the ingress serves the agent at the service URL, VS Code under
// /vscode/ and app ports under /_port/{n}/ (path mode).
type URLs struct {
	Agent     string
	VSCode    string
	WorkHosts map[string]int
}

// urlsOf builds every URL of a runtime; it is the only place that does. domain is the runtime
// domain in domain mode, "" in direct mode; scheme is domain mode's (https, http locally).
func urlsOf(r runtime.Runtime, domain, scheme string) URLs {
	u := URLs{WorkHosts: map[string]int{}}
	if domain != "" {
		if r.State == runtime.StateDeleted {
			return u
		}
		u.Agent = hosts.URL(scheme, r.ID, deploy.PortAgent, domain)
		u.VSCode = hosts.URL(scheme, r.ID, deploy.PortVSCode, domain) + "/?tkn=" + r.VSCodeToken + "&folder=%2Fworkspace"
		for _, p := range r.Ports {
			u.WorkHosts[hosts.URL(scheme, r.ID, p, domain)] = p
		}
		return u
	}
	if r.URL == "" {
		return u
	}
	base := strings.TrimRight(r.URL, "/")
	u.Agent = base
	u.VSCode = base + "/vscode/?tkn=" + r.VSCodeToken + "&folder=%2Fworkspace"
	for _, p := range r.Ports {
		u.WorkHosts[fmt.Sprintf("%s/_port/%d", base, p)] = p
	}
	return u
}

// urls are r's URLs: in domain mode under its tenant's runtime domain (a verified custom
// domain, else RUNTIME_DOMAIN; the platform's when the lookup fails, as it serves every tenant).
func (s *Server) urls(ctx context.Context, r runtime.Runtime) URLs {
	domain := s.cfg.Runtimes.RuntimeDomain
	if domain != "" {
		d, err := s.lookup.RuntimeDomain(ctx, r.Tenant)
		if err != nil {
			logging.FromContext(ctx).WarnContext(ctx, "runtime domain lookup failed; using the platform's", "tenant", r.Tenant, "error", err)
		} else {
			domain = d
		}
	}
	return urlsOf(r, domain, s.cfg.Runtimes.Scheme())
}

// answer is the Runtime object of r; alive says whether its /alive answered.
func (s *Server) answer(ctx context.Context, r runtime.Runtime, alive bool) Runtime {
	return answerWith(r, s.urls(ctx, r), alive)
}

func answerWith(r runtime.Runtime, u URLs, alive bool) Runtime {
	status, pod := statusOf(r.State, alive)
	return Runtime{RuntimeID: r.ID, SessionID: r.SessionID, URL: u.Agent, SessionAPIKey: r.SessionAPIKey,
		Status: status, PodStatus: pod, WorkHosts: u.WorkHosts, VSCodeURL: u.VSCode, Image: r.Image,
		RestartReasons: []string{}, Error: r.Reason}
}

// alive reports whether GET {agent}/alive answers 2xx through the public path (the gateway in
// domain mode, the ingress in direct mode), within a short timeout.
func (s *Server) alive(ctx context.Context, r runtime.Runtime, agent string) bool {
	if r.State != runtime.StateRunning || r.URL == "" || agent == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AliveTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, agent+"/alive", nil)
	if err != nil {
		return false
	}
	req.Header.Set("X-Session-API-Key", r.SessionAPIKey)
	resp, err := s.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// view refreshes a runtime and answers it, with the readiness check when running.
func (s *Server) view(ctx context.Context, r runtime.Runtime) (Runtime, error) {
	r, err := s.runtimes.Refresh(ctx, r.Tenant, r.ID)
	if err != nil {
		return Runtime{}, runtimeError(err)
	}
	u := s.urls(ctx, r)
	return answerWith(r, u, s.alive(ctx, r, u.Agent)), nil
}

// bySession returns the tenant's newest runtime of a session (not deleted).
func (s *Server) bySession(ctx context.Context, tenant, sid string) (runtime.Runtime, error) {
	recs, _, err := s.runtimes.Runtimes().List(ctx, tenant, "", store.Query{
		Where: []store.Filter{{Field: "session_id", Value: sid}}, Limit: store.MaxLimit})
	if err != nil {
		return runtime.Runtime{}, fmt.Errorf("runtimeapi: list session: %w", err)
	}
	var best runtime.Runtime
	for _, r := range recs {
		if r.State == runtime.StateDeleted {
			continue
		}
		if best.ID == "" || r.CreatedAt.After(best.CreatedAt) {
			best = r
		}
	}
	if best.ID == "" {
		return best, detailf(http.StatusNotFound, "no runtime for session %s", sid)
	}
	return best, nil
}

func validSessionID(sid string) bool {
	return sid != "" && len(sid) <= 128 && strings.Trim(sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

func validRuntimeID(id string) bool {
	return id != "" && len(id) <= 40 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") == ""
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	var req StartRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !validSessionID(req.SessionID) {
		return detailf(http.StatusBadRequest, "session_id must be 1-128 characters of letters, digits, '-', '_' and '.'")
	}
	rf := 1
	if req.ResourceFactor != nil {
		rf = *req.ResourceFactor
	}
	if rf != 1 && rf != 2 && rf != 4 && rf != 8 {
		return detailf(http.StatusBadRequest, "resource_factor must be one of 1, 2, 4, 8")
	}
	if req.RuntimeClass != "" && req.RuntimeClass != "sysbox-runc" && req.RuntimeClass != "gvisor" {
		return detailf(http.StatusBadRequest, "runtime_class must be sysbox-runc or gvisor (or absent)")
	}
	switch req.ImagePullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		return detailf(http.StatusBadRequest, "image_pull_policy must be Always, IfNotPresent or Never")
	}
	for k := range req.Environment {
		if !envNameRE.MatchString(k) {
			return detailf(http.StatusBadRequest, "environment has an invalid variable name %q", k)
		}
	}
	ctx := r.Context()
	// An existing runtime of the session: running or starting → return it; paused → resume;
	// stopped, failed → a fresh runtime.
	if cur, err := s.bySession(ctx, c.Tenant, req.SessionID); err == nil {
		switch cur.State {
		case runtime.StatePending, runtime.StateBuilding, runtime.StateDeploying, runtime.StateRunning:
			out, err := s.view(ctx, cur)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		case runtime.StatePaused:
			rt, err := s.runtimes.Do(ctx, c.Tenant, cur.ID, runtime.ActionResume)
			if err != nil {
				return runtimeError(err)
			}
			writeJSON(w, http.StatusOK, s.answer(r.Context(), rt, false))
			return nil
		}
	} else if !isNotFound(err) {
		return err
	}
	rq, err := s.request(ctx, req, rf, c)
	if err != nil {
		return err
	}
	rt, err := s.runtimes.Create(ctx, c.Tenant, rq)
	if err != nil {
		// A refused deploy has already recorded the runtime as failed, with no service behind.
		return runtimeError(err)
	}
	writeJSON(w, http.StatusOK, s.answer(r.Context(), rt, false))
	return nil
}

func isNotFound(err error) bool {
	var ae *httpx.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// request turns a start request into the orchestrator's request.
func (s *Server) request(ctx context.Context, req StartRequest, rf int, c tenancy.Caller) (runtime.Request, error) {
	env := map[string]string{}
	for k, v := range req.Environment {
		if !serverEnv[k] {
			env[k] = v
		}
	}
	for k, v := range map[string]string{"WORK_PORT_1": fmt.Sprint(PortWork1), "WORK_PORT_2": fmt.Sprint(PortWork2)} {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	out := runtime.Request{StartCmd: req.Command.StartCmd(), Ports: []int{PortWork1, PortWork2}, ResourceFactor: rf,
		Mode: deploy.ModeToken, SessionID: req.SessionID, Env: env, Actor: c.Actor(),
		IngressEnv: map[string]string{"PREVIEW_POLICY": "public"}}
	if s.local {
		dir, ok := strings.CutPrefix(req.Image, LocalImagePrefix)
		if !ok || dir == "" {
			return out, detailf(http.StatusBadRequest, "locally, image must be local:<folder> (a folder on this machine); registry images run only in the cloud")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return out, detailf(http.StatusBadRequest, "image folder %s: %v", dir, err)
		}
		if out.StartCmd == "" {
			plan, err := detect.Detect(ctx, abs, detect.Options{})
			if err != nil {
				return out, detailf(http.StatusBadRequest, "cannot detect how to run %s: %v", abs, err)
			}
			if plan.StartCmd == nil || *plan.StartCmd == "" {
				return out, detailf(http.StatusBadRequest, "no start command detected for %s; send command", abs)
			}
			out.StartCmd = *plan.StartCmd
		}
		out.Image = "file://" + abs
	} else {
		if !validImage(req.Image) || strings.HasPrefix(req.Image, LocalImagePrefix) {
			return out, detailf(http.StatusBadRequest, "image must be a container image reference")
		}
		out.Image = req.Image
		if s.cfg.Build.ArtifactRepo != "" && s.ours(req.Image) {
			// An image OpenHands had built here: run what the build produced.
			img, ok, err := s.cached(ctx, c.Tenant, req.Image)
			if err != nil {
				return out, err
			}
			if !ok {
				return out, detailf(http.StatusBadRequest, "image %s has not been built (POST /build first)", req.Image)
			}
			out.Image = img.Image
		}
	}
	if out.StartCmd != "" && req.WorkingDir != "" {
		out.StartCmd = "cd " + shellQuote(req.WorkingDir) + " && " + out.StartCmd
	}
	if len(out.StartCmd) > 4096 {
		return out, detailf(http.StatusBadRequest, "command is too long")
	}
	return out, nil
}

// maxJSON caps JSON bodies.
const maxJSON = 1 << 20

// decode reads a JSON body (at most 1 MiB); bad JSON is a 400.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSON))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return detailf(http.StatusRequestEntityTooLarge, "request body too large")
		}
		return detailf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	sid := r.PathValue("session_id")
	if !validSessionID(sid) {
		return detailf(http.StatusNotFound, "no runtime for session %s", sid)
	}
	rt, err := s.bySession(r.Context(), c.Tenant, sid)
	if err != nil {
		return err
	}
	out, err := s.view(r.Context(), rt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleSessionsBatch(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	ids := r.URL.Query()["ids"]
	if len(ids) > 100 {
		return detailf(http.StatusBadRequest, "at most 100 ids")
	}
	out := make([]*Runtime, len(ids))
	for i, sid := range ids {
		if !validSessionID(sid) {
			continue
		}
		rt, err := s.bySession(r.Context(), c.Tenant, sid)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		v, err := s.view(r.Context(), rt)
		if err != nil {
			return err
		}
		out[i] = &v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) get(ctx context.Context, tenant, id string) (runtime.Runtime, error) {
	if !validRuntimeID(id) {
		return runtime.Runtime{}, detailf(http.StatusNotFound, "runtime not found")
	}
	rt, err := s.runtimes.Runtimes().Get(ctx, tenant, id)
	if err != nil || rt.State == runtime.StateDeleted {
		if err == nil || errors.Is(err, runtime.ErrNotFound) {
			return rt, detailf(http.StatusNotFound, "runtime not found")
		}
		return rt, runtimeError(err)
	}
	return rt, nil
}

func (s *Server) handleRuntime(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	rt, err := s.get(r.Context(), c.Tenant, r.PathValue("runtime_id"))
	if err != nil {
		return err
	}
	out, err := s.view(r.Context(), rt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// actionRequest is the body of /pause, /resume and /stop.
type actionRequest struct {
	RuntimeID string `json:"runtime_id"`
}

// action serves POST /pause, /resume, /stop. Pausing a paused runtime, resuming a running one
// and stopping a stopped one succeed without change.
func (s *Server) action(a runtime.Action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		var req actionRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		rt, err := s.get(r.Context(), c.Tenant, req.RuntimeID)
		if err != nil {
			return err
		}
		noop := (a == runtime.ActionPause && rt.State == runtime.StatePaused) ||
			(a == runtime.ActionStop && rt.State == runtime.StateStopped) ||
			(a == runtime.ActionResume && (rt.State == runtime.StateRunning || rt.State == runtime.StateDeploying))
		if !noop {
			if rt, err = s.runtimes.Do(r.Context(), c.Tenant, rt.ID, a); err != nil {
				return runtimeError(err)
			}
		}
		if err := s.runtimes.Runtimes().Touch(r.Context(), rt.Tenant, rt.ID, time.Now()); err != nil {
			logging.FromContext(r.Context()).WarnContext(r.Context(), "record runtime activity", "runtime", rt.ID, "error", err)
		}
		writeJSON(w, http.StatusOK, s.answer(r.Context(), rt, false))
		return nil
	}
}

// listResponse is GET /list's answer.
type listResponse struct {
	Total    int       `json:"total"`
	Runtimes []Runtime `json:"runtimes"`
}

// handleList answers the tenant's runtimes that are not deleted, without readiness checks
// (OpenHands reads no pod_status here): a running runtime lists as running.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	out := listResponse{Runtimes: []Runtime{}}
	q := store.Query{Limit: store.MaxLimit}
	for {
		recs, next, err := s.runtimes.Runtimes().List(r.Context(), c.Tenant, "", q)
		if err != nil {
			return fmt.Errorf("runtimeapi: list: %w", err)
		}
		for _, rt := range recs {
			if rt.State == runtime.StateDeleted || rt.SessionID == "" {
				continue
			}
			out.Runtimes = append(out.Runtimes, s.answer(r.Context(), rt, rt.State == runtime.StateRunning))
		}
		if next == "" || len(out.Runtimes) >= 5000 {
			break
		}
		q.Cursor = next
	}
	out.Total = len(out.Runtimes)
	writeJSON(w, http.StatusOK, out)
	return nil
}
