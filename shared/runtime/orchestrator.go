package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
)

// Orchestrator drives runtimes through their lifecycle: it records each move with Service and
// asks the Deployer to act. Nothing here waits for a rollout: create answers as soon as the
// service is requested, and Refresh (on every GET) or a build's end moves the runtime on.
type Orchestrator struct {
	rt       *Service
	deployer deploy.Deployer
	builds   *build.Service
	cells    map[string]deploy.Cell
	cfg      OrchestratorConfig
}

// OrchestratorConfig holds what every runtime service gets.
type OrchestratorConfig struct {
	// IngressImage is the ingress sidecar image (cloud).
	IngressImage string
	// ServiceAccount returns the identity a tenant's runtimes run as (empty: the default).
	// Identity, when set, takes precedence.
	ServiceAccount func(tenant string) string
	// Identity makes sure the tenant's own service account exists in project (the cell's) and
	// returns it with the environment its runtimes get (identity.Service.ForRuntime).
	Identity func(ctx context.Context, tenant, project string) (email string, env map[string]string, err error)
	// GrantWorkspace gives member (the runtime's identity) access to the tenant's workspace
	// bucket, and to nothing else there (workspace/gcs Provisioner.Grant).
	GrantWorkspace func(ctx context.Context, tenant, bucket, member string) error
	// ActivityURL returns where a runtime's ingress reports activity (empty: it does not).
	ActivityURL func(r Runtime) string
	// Workspace returns the tenant's workspace bucket, creating it if needed (nil: the
	// deployer's own workspace setting applies).
	Workspace func(ctx context.Context, tenant string) (string, error)
	// PublicURL returns the runtime's public agent URL in domain mode (nil or "": direct mode);
	// the deployer gives it to the runtime as RUNTIME_URL.
	PublicURL func(ctx context.Context, r Runtime) string
	// GrantSecrets gives member (the runtime's identity) read access to exactly the named
	// secrets of the tenant (secrets.Manager.GrantAccess). Required when runtimes use secrets.
	GrantSecrets func(ctx context.Context, tenant string, names []string, member string) error
	// Gate is asked before a runtime is created or resumed; its error refuses the start and
	// is returned as is (billing.Service.Check: payment required, budget exceeded). Nil
	// allows every start.
	Gate func(ctx context.Context, tenant string) error
}

// NewOrchestrator returns an Orchestrator.
func NewOrchestrator(rt *Service, d deploy.Deployer, b *build.Service, cfg OrchestratorConfig) (*Orchestrator, error) {
	if rt == nil || d == nil || b == nil {
		return nil, errors.New("runtime.NewOrchestrator: runtime service, deployer and build service are required")
	}
	cells := map[string]deploy.Cell{}
	for _, c := range rt.cells {
		cells[c.Name] = c
	}
	return &Orchestrator{rt: rt, deployer: d, builds: b, cells: cells, cfg: cfg}, nil
}

// Runtimes returns the runtime record service.
func (o *Orchestrator) Runtimes() *Service { return o.rt }

// Request asks for a runtime from an image, or from a build (one already made, or the build
// of a source that Create starts).
type Request struct {
	Image          string
	StartCmd       string
	BuildID        string
	Source         build.Source
	Ports          []int
	ResourceFactor int
	Mode           deploy.Mode
	SessionID      string
	Members        []string
	Env            map[string]string
	Secrets        []deploy.SecretRef
	// IngressEnv is extra settings for the ingress sidecar, e.g. PREVIEW_POLICY=public.
	IngressEnv map[string]string
	Actor      string
}

// Create records a runtime and starts it: from an image it deploys at once; from a build
// that has finished, with the build's image; from a build under way, it waits (building) for
// the build's end (OnBuildFinished).
func (o *Orchestrator) Create(ctx context.Context, tenant string, req Request) (Runtime, error) {
	if err := o.gate(ctx, tenant); err != nil {
		return Runtime{}, err
	}
	sp := Spec{SessionID: req.SessionID, Source: req.Source, Image: req.Image, StartCmd: req.StartCmd, Ports: req.Ports,
		ResourceFactor: req.ResourceFactor, Mode: req.Mode, Actor: req.Actor, State: StateDeploying,
		Env: req.Env, Secrets: req.Secrets, Members: req.Members, IngressEnv: req.IngressEnv}
	if req.Image == "" {
		b, err := o.buildFor(ctx, tenant, req)
		if err != nil {
			return Runtime{}, err
		}
		sp.BuildID, sp.Source = b.ID, b.Source
		if sp.StartCmd == "" {
			sp.StartCmd = startCmd(b)
		}
		switch {
		case b.Status == build.StatusSuccess:
			sp.Image = b.Image
		case b.Status.Terminal():
			return Runtime{}, fmt.Errorf("%w: build %s ended %s", ErrInvalid, b.ID, b.Status)
		default:
			sp.State = StateBuilding
		}
	}
	r, err := o.rt.Create(ctx, tenant, sp)
	if err != nil {
		return Runtime{}, err
	}
	if r.State == StateBuilding {
		// The build may have ended between reading it and recording the runtime, before
		// anyone waited on it: check again, so the runtime never waits for an event that
		// has already come.
		return o.continueBuilding(ctx, r)
	}
	return o.deploy(ctx, r)
}

// gate asks the configured Gate whether tenant may start a runtime.
func (o *Orchestrator) gate(ctx context.Context, tenant string) error {
	if o.cfg.Gate == nil {
		return nil
	}
	return o.cfg.Gate(ctx, tenant)
}

// continueBuilding moves a building runtime on if its build has ended.
func (o *Orchestrator) continueBuilding(ctx context.Context, r Runtime) (Runtime, error) {
	b, err := o.builds.Get(ctx, r.Tenant, r.BuildID)
	if err != nil || !b.Status.Terminal() {
		return r, nil
	}
	if err := o.continueRuntime(ctx, r, b); err != nil {
		return r, err
	}
	return o.rt.Get(ctx, r.Tenant, r.ID)
}

// buildFor returns the named build, or starts one of the request's source.
func (o *Orchestrator) buildFor(ctx context.Context, tenant string, req Request) (build.Record, error) {
	if req.BuildID != "" {
		b, err := o.builds.Get(ctx, tenant, req.BuildID)
		if err != nil {
			return build.Record{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return b, nil
	}
	if req.Source.RepoURL == "" {
		return build.Record{}, fmt.Errorf("%w: give an image, a build id or a repository", ErrInvalid)
	}
	return o.builds.Create(ctx, tenant, build.Spec{Source: req.Source, CacheKey: build.GitCacheKey(req.Source.RepoURL, req.Source.Commit),
		Trigger: build.TriggerAPI, Actor: req.Actor})
}

// startCmd reads the start command from a build's detected plan.
func startCmd(b build.Record) string {
	var plan struct {
		StartCmd *string `json:"start_cmd"`
	}
	if b.PlanJSON == "" || json.Unmarshal([]byte(b.PlanJSON), &plan) != nil || plan.StartCmd == nil {
		return ""
	}
	return *plan.StartCmd
}

// spec is the deploy spec of a runtime.
func (o *Orchestrator) spec(r Runtime) deploy.Spec {
	labels := map[string]string{"tenant": r.Tenant, "runtime": r.ID}
	env := map[string]string{"VSCODE_CONNECTION_TOKEN": r.VSCodeToken, "SESSION_API_KEY": r.SessionAPIKey}
	for k, v := range r.Env {
		env[k] = v
	}
	sa := ""
	if o.cfg.ServiceAccount != nil {
		sa = o.cfg.ServiceAccount(r.Tenant)
	}
	ingressEnv := map[string]string{}
	for k, v := range r.IngressEnv {
		ingressEnv[k] = v
	}
	if o.cfg.ActivityURL != nil {
		if u := o.cfg.ActivityURL(r); u != "" {
			ingressEnv["ACTIVITY_URL"] = u
		}
	}
	return deploy.Spec{IngressEnv: ingressEnv, Tenant: r.Tenant, RuntimeID: r.ID, Service: r.Service, Cell: o.cells[r.Cell], Image: r.Image,
		IngressImage: o.cfg.IngressImage, StartCmd: r.StartCmd, Ports: r.Ports, Env: env, Secrets: r.Secrets,
		Size: deploy.Sizes[r.ResourceFactor], ServiceAccount: sa, Mode: r.Mode, Members: r.Members, Labels: labels}
}

// deploy asks the Deployer for the runtime's service; a refusal fails the runtime, which gives
// back its capacity and leaves no service behind.
func (o *Orchestrator) deploy(ctx context.Context, r Runtime) (Runtime, error) {
	spec := o.spec(r)
	if o.cfg.PublicURL != nil {
		spec.PublicURL = o.cfg.PublicURL(ctx, r)
	}
	err := o.identity(ctx, &spec)
	if err == nil {
		err = o.grant(ctx, spec)
	}
	if err == nil && o.cfg.Workspace != nil {
		if spec.WorkspaceBucket, err = o.cfg.Workspace(ctx, r.Tenant); err != nil {
			err = fmt.Errorf("%w: workspace: %w", deploy.ErrUnavailable, err)
		}
	}
	if err == nil && spec.WorkspaceBucket != "" && spec.ServiceAccount != "" && o.cfg.GrantWorkspace != nil {
		if err = o.cfg.GrantWorkspace(ctx, r.Tenant, spec.WorkspaceBucket, "serviceAccount:"+spec.ServiceAccount); err != nil {
			err = fmt.Errorf("%w: grant workspace access: %w", deploy.ErrPermission, err)
		}
	}
	var st deploy.Status
	if err == nil {
		st, err = o.deployer.Deploy(ctx, spec)
	}
	if err != nil {
		_ = o.deployer.Delete(context.WithoutCancel(ctx), o.cells[r.Cell], r.Service)
		failed, ferr := o.rt.Transition(ctx, r.Tenant, r.ID, StateFailed, func(x *Runtime) error {
			x.Reason = deployReason(err)
			return nil
		})
		if ferr != nil {
			logging.FromContext(ctx).ErrorContext(ctx, "record failed deploy", "runtime", r.ID, "error", ferr)
		}
		return failed, fmt.Errorf("runtime: deploy: %w", err)
	}
	return o.apply(ctx, r, st)
}

// identity gives the runtime its tenant's own service account (created on the tenant's first
// runtime in the cell's project) and the environment that comes with it; the runtime's own
// env wins over it.
func (o *Orchestrator) identity(ctx context.Context, spec *deploy.Spec) error {
	if o.cfg.Identity == nil {
		return nil
	}
	email, env, err := o.cfg.Identity(ctx, spec.Tenant, spec.Cell.Project)
	if err != nil {
		return fmt.Errorf("%w: runtime identity: %w", identityError(err), err)
	}
	spec.ServiceAccount = email
	for k, v := range env {
		if _, set := spec.Env[k]; !set {
			spec.Env[k] = v
		}
	}
	return nil
}

// identityError classifies an identity failure for the runtime's reason.
func identityError(err error) error {
	switch {
	case errors.Is(err, identity.ErrQuota):
		return deploy.ErrQuota
	case errors.Is(err, identity.ErrPermission), errors.Is(err, identity.ErrForeign):
		return deploy.ErrPermission
	}
	return deploy.ErrUnavailable
}

// grant lets the runtime's identity read the secrets it references, and nothing else.
func (o *Orchestrator) grant(ctx context.Context, spec deploy.Spec) error {
	if len(spec.Secrets) == 0 || spec.ServiceAccount == "" {
		return nil
	}
	if o.cfg.GrantSecrets == nil {
		return fmt.Errorf("%w: the runtime uses secrets but no secret grants are configured", deploy.ErrPermission)
	}
	names := make([]string, 0, len(spec.Secrets))
	for _, s := range spec.Secrets {
		names = append(names, s.Name)
	}
	if err := o.cfg.GrantSecrets(ctx, spec.Tenant, names, "serviceAccount:"+spec.ServiceAccount); err != nil {
		return fmt.Errorf("%w: grant secret access: %w", deploy.ErrPermission, err)
	}
	return nil
}

// deployReason is the failure reason a tenant sees; the cause is logged by the caller.
func deployReason(err error) string {
	switch {
	case errors.Is(err, deploy.ErrQuota):
		return "the platform's quota for runtime services is exhausted"
	case errors.Is(err, deploy.ErrPermission):
		return "the platform lacks a permission to create the runtime service"
	case errors.Is(err, deploy.ErrInvalidImage):
		return "the runtime image is missing or invalid"
	}
	return "the runtime service could not be created"
}

// apply records what the Deployer observed: a URL, ready → running, failed → failed.
func (o *Orchestrator) apply(ctx context.Context, r Runtime, st deploy.Status) (Runtime, error) {
	switch st.Phase {
	case deploy.PhaseReady:
		if r.State == StateRunning && r.URL == st.URL {
			return r, nil
		}
		return o.rt.Transition(ctx, r.Tenant, r.ID, StateRunning, func(x *Runtime) error { x.URL = st.URL; return nil })
	case deploy.PhaseFailed:
		_ = o.deployer.Delete(context.WithoutCancel(ctx), o.cells[r.Cell], r.Service)
		return o.rt.Transition(ctx, r.Tenant, r.ID, StateFailed, func(x *Runtime) error { x.Reason = st.Reason; return nil })
	case deploy.PhaseMissing:
		if r.State.HasService() {
			return o.rt.Transition(ctx, r.Tenant, r.ID, StateFailed, func(x *Runtime) error {
				x.Reason = "the runtime's service is gone"
				return nil
			})
		}
	}
	if st.URL != "" && r.URL != st.URL {
		r.URL = st.URL
	}
	return r, nil
}

// Refresh reads a deploying or running runtime's service and records what changed.
func (o *Orchestrator) Refresh(ctx context.Context, tenant, id string) (Runtime, error) {
	r, err := o.rt.Get(ctx, tenant, id)
	if err != nil {
		return r, err
	}
	if r.State == StateBuilding {
		return o.continueBuilding(ctx, r)
	}
	if r.State != StateDeploying && r.State != StateRunning {
		return r, nil
	}
	st, err := o.deployer.Status(ctx, o.cells[r.Cell], r.Service)
	if err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "runtime status", "runtime", id, "error", err)
		return r, nil
	}
	out, err := o.apply(ctx, r, st)
	if errors.Is(err, ErrIllegalTransition) {
		return o.rt.Get(ctx, tenant, id) // someone else moved it meanwhile
	}
	return out, err
}

// OnBuildFinished continues the runtimes that wait on a build: deploy them with its image,
// or fail them with its error.
func (o *Orchestrator) OnBuildFinished(ctx context.Context, b build.Record) error {
	waiting, _, err := o.rt.List(ctx, b.Tenant, StateBuilding, store.Query{Limit: store.MaxLimit})
	if err != nil {
		return fmt.Errorf("runtime: waiting runtimes: %w", err)
	}
	var errs []error
	for _, r := range waiting {
		if r.BuildID == b.ID {
			errs = append(errs, o.continueRuntime(ctx, r, b))
		}
	}
	return errors.Join(errs...)
}

// continueRuntime moves a runtime waiting on build b on: deploy it with b's image, or fail it
// with b's error. A runtime that has already moved on (a redelivered event, or Create and the
// event racing) is left alone.
func (o *Orchestrator) continueRuntime(ctx context.Context, r Runtime, b build.Record) error {
	if b.Status != build.StatusSuccess {
		reason := "the image build ended " + string(b.Status)
		if b.Error != "" {
			reason += ": " + b.Error
		}
		_, err := o.rt.Transition(ctx, r.Tenant, r.ID, StateFailed, func(x *Runtime) error { x.Reason = reason; return nil })
		if err != nil && !errors.Is(err, ErrIllegalTransition) {
			return err
		}
		return nil
	}
	moved, err := o.rt.Transition(ctx, r.Tenant, r.ID, StateDeploying, func(x *Runtime) error {
		x.Image = b.Image
		if x.StartCmd == "" {
			x.StartCmd = startCmd(b)
		}
		return nil
	})
	if errors.Is(err, ErrIllegalTransition) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := o.deploy(ctx, moved); err != nil && !isDeployRefusal(err) {
		return err
	}
	return nil
}

func isDeployRefusal(err error) bool {
	return errors.Is(err, deploy.ErrQuota) || errors.Is(err, deploy.ErrPermission) || errors.Is(err, deploy.ErrInvalidImage) || errors.Is(err, deploy.ErrInvalid)
}

// Action is a user's request on a runtime.
type Action string

// Actions.
const (
	ActionPause  Action = "pause"
	ActionResume Action = "resume"
	ActionStop   Action = "stop"
	ActionDelete Action = "delete"
)

// Do performs an action. Pause keeps the service, scaled to zero; resume scales it up again,
// or recreates a stopped runtime's service with the same id; stop and delete remove it.
func (o *Orchestrator) Do(ctx context.Context, tenant, id string, a Action) (Runtime, error) {
	r, err := o.rt.Get(ctx, tenant, id)
	if err != nil {
		return Runtime{}, err
	}
	cell := o.cells[r.Cell]
	switch a {
	case ActionPause:
		if !CanTransition(r.State, StatePaused) {
			return r, fmt.Errorf("%w: cannot pause a %s runtime", ErrIllegalTransition, r.State)
		}
		if err := o.deployer.Pause(ctx, cell, r.Service); err != nil {
			return r, fmt.Errorf("runtime: pause: %w", err)
		}
		return o.rt.Transition(ctx, tenant, id, StatePaused, nil)
	case ActionResume:
		if r.State == StatePaused || r.State == StateStopped || r.State == StateFailed {
			if err := o.gate(ctx, tenant); err != nil {
				return r, err
			}
		}
		switch r.State {
		case StatePaused:
			if err := o.deployer.Resume(ctx, cell, r.Service); err != nil {
				return r, fmt.Errorf("runtime: resume: %w", err)
			}
			return o.rt.Transition(ctx, tenant, id, StateDeploying, nil)
		case StateStopped, StateFailed:
			if r.Image == "" {
				return r, fmt.Errorf("%w: the runtime has no image to resume from", ErrIllegalTransition)
			}
			moved, err := o.rt.Transition(ctx, tenant, id, StateDeploying, func(x *Runtime) error { x.Reason = ""; return nil })
			if err != nil {
				return r, err
			}
			return o.deploy(ctx, moved)
		}
		return r, fmt.Errorf("%w: cannot resume a %s runtime", ErrIllegalTransition, r.State)
	case ActionStop, ActionDelete:
		to := StateStopped
		if a == ActionDelete {
			to = StateDeleted
		}
		if !CanTransition(r.State, to) {
			return r, fmt.Errorf("%w: cannot %s a %s runtime", ErrIllegalTransition, a, r.State)
		}
		if r.Cell != "" {
			if err := o.deployer.Delete(ctx, cell, r.Service); err != nil && !errors.Is(err, deploy.ErrNotFound) {
				return r, fmt.Errorf("runtime: %s: %w", a, err)
			}
		}
		return o.rt.Transition(ctx, tenant, id, to, nil)
	}
	return r, fmt.Errorf("%w: unknown action %q", ErrInvalid, strings.TrimSpace(string(a)))
}

// ActivityURL is where a runtime's ingress reports activity: the api's endpoint under its
// public base URL ("" when there is none).
func ActivityURL(base string, r Runtime) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/v1/tenants/" + r.Tenant + "/runtimes/" + r.ID + ":activity"
}
