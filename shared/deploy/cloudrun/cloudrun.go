// Package cloudrun is the Cloud Run adapter of the deploy port (deploy.Deployer): one Cloud Run
// service per runtime, with the ingress sidecar and the runtime image as its two containers,
// IAP enabled on the service in IAP mode (run.invoker for the IAP service agent,
// iap.httpsResourceAccessor for the tenant's members on the service's IAP resource). It starts
// rollouts and never waits for them: Status reads the service.
//
// See README.md for the service shape, the pause mechanism and the admin calls per operation.
// Its in-process gRPC fakes live in ../deploytest.
package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"strings"

	iap "cloud.google.com/go/iap/apiv1"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/deploy"
)

// Deployer runs runtimes as Cloud Run services. It implements deploy.Deployer and is safe for
// concurrent use.
type Deployer struct {
	run    *run.ServicesClient
	iap    *iap.IdentityAwareProxyAdminClient
	owned  bool
	cfg    Config
	cfgErr error
}

var _ deploy.Deployer = (*Deployer)(nil)

// New validates cfg and connects to the Cloud Run Admin API and the IAP admin API with opts.
// Close releases the clients.
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Deployer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rc, err := run.NewServicesClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudrun: run.NewServicesClient: %w", err)
	}
	ic, err := iap.NewIdentityAwareProxyAdminClient(ctx, opts...)
	if err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("cloudrun: iap.NewIdentityAwareProxyAdminClient: %w", err)
	}
	d := NewFromClients(rc, ic, cfg)
	d.owned = true
	return d, nil
}

// NewFromClients wraps existing clients (which the caller closes). An invalid cfg makes every
// Deploy fail with ErrInvalid and cfg's validation error.
func NewFromClients(rc *run.ServicesClient, ic *iap.IdentityAwareProxyAdminClient, cfg Config) *Deployer {
	return &Deployer{run: rc, iap: ic, cfg: cfg.withDefaults(), cfgErr: cfg.Validate()}
}

// Close closes the clients if New created them.
func (d *Deployer) Close() error {
	if !d.owned {
		return nil
	}
	if err := errors.Join(d.run.Close(), d.iap.Close()); err != nil {
		return fmt.Errorf("cloudrun: Close: %w", err)
	}
	return nil
}

func (d *Deployer) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.CallTimeout)
}

// Deploy creates the runtime's service, or replaces it if it exists (a retry, or a resume of
// an archived runtime), and in IAP mode grants the IAP service agent run.invoker on it and the
// members iap.httpsResourceAccessor on its IAP resource. It does not wait for the rollout: the
// answer is PhaseDeploying (with the URL once Cloud Run has assigned one).
func (d *Deployer) Deploy(ctx context.Context, spec deploy.Spec) (deploy.Status, error) {
	svc, err := d.BuildService(spec)
	if err != nil {
		return deploy.Status{}, err
	}
	parent := Parent(spec.Cell)
	cctx, cancel := d.call(ctx)
	create, err := d.run.CreateService(cctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: spec.Service, Service: svc})
	cancel()
	var meta *runpb.Service
	switch {
	case err == nil:
		meta, _ = create.Metadata()
	case status.Code(err) == codes.AlreadyExists:
		cctx, cancel := d.call(ctx)
		update, uerr := d.run.UpdateService(cctx, &runpb.UpdateServiceRequest{Service: svc, AllowMissing: true})
		cancel()
		if uerr != nil {
			return deploy.Status{}, wrap("UpdateService", svc.GetName(), uerr)
		}
		meta, _ = update.Metadata()
	default:
		return deploy.Status{}, wrap("CreateService", svc.GetName(), err)
	}
	if d.cfg.GatewayInvoker != "" {
		if err := d.ensureInvoker(ctx, svc.GetName(), "serviceAccount:"+d.cfg.GatewayInvoker); err != nil {
			return deploy.Status{}, err
		}
	} else if spec.Mode == deploy.ModeIAP {
		n, _ := d.cfg.projectNumber(spec.Cell.Project) // BuildService checked it
		if err := d.ensureInvoker(ctx, svc.GetName(), IAPServiceAgent(n)); err != nil {
			return deploy.Status{}, err
		}
		if err := d.setIAPAccessors(ctx, IAPResource(n, spec.Cell.Region, spec.Service), spec.Members); err != nil {
			return deploy.Status{}, err
		}
	}
	return deploy.Status{Phase: deploy.PhaseDeploying, URL: meta.GetUri()}, nil
}

// Status reads the service: missing, paused (manual scaling at zero), deploying (reconciling,
// or the latest revision not ready yet), failed (terminal condition failed, with its message),
// or ready (with its URL).
func (d *Deployer) Status(ctx context.Context, cell deploy.Cell, service string) (deploy.Status, error) {
	s, err := d.get(ctx, cell, service)
	if errors.Is(err, deploy.ErrNotFound) {
		return deploy.Status{Phase: deploy.PhaseMissing}, nil
	}
	if err != nil {
		return deploy.Status{}, err
	}
	return statusOf(s), nil
}

// statusOf maps a service to the port's Status.
func statusOf(s *runpb.Service) deploy.Status {
	tc := s.GetTerminalCondition()
	switch {
	case isPaused(s):
		return deploy.Status{Phase: deploy.PhasePaused, URL: s.GetUri()}
	case s.GetReconciling():
		return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.GetUri()}
	case tc.GetState() == runpb.Condition_CONDITION_FAILED:
		return deploy.Status{Phase: deploy.PhaseFailed, URL: s.GetUri(), Reason: failureReason(s)}
	case tc.GetState() == runpb.Condition_CONDITION_SUCCEEDED &&
		s.GetLatestReadyRevision() != "" && s.GetLatestReadyRevision() == s.GetLatestCreatedRevision() &&
		s.GetObservedGeneration() == s.GetGeneration():
		return deploy.Status{Phase: deploy.PhaseReady, URL: s.GetUri()}
	}
	return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.GetUri()}
}

// failureReason is the terminal condition's message, else the first failed condition's.
func failureReason(s *runpb.Service) string {
	if m := s.GetTerminalCondition().GetMessage(); m != "" {
		return m
	}
	for _, c := range s.GetConditions() {
		if c.GetState() == runpb.Condition_CONDITION_FAILED && c.GetMessage() != "" {
			return c.GetType() + ": " + c.GetMessage()
		}
	}
	return "rollout failed"
}

// Pause scales the service to zero and keeps it: service-level manual scaling with zero
// instances (no new revision). Pausing a paused service makes no write; a missing one is
// ErrNotFound.
func (d *Deployer) Pause(ctx context.Context, cell deploy.Cell, service string) error {
	return d.setScaling(ctx, cell, service, true)
}

// Resume restores automatic scaling (at most one instance). Resuming a running service makes
// no write; a missing one is ErrNotFound (Deploy recreates an archived runtime).
func (d *Deployer) Resume(ctx context.Context, cell deploy.Cell, service string) error {
	return d.setScaling(ctx, cell, service, false)
}

func (d *Deployer) setScaling(ctx context.Context, cell deploy.Cell, service string, pause bool) error {
	const attempts = 3
	var err error
	for range attempts {
		var s *runpb.Service
		if s, err = d.get(ctx, cell, service); err != nil {
			return err
		}
		if isPaused(s) == pause {
			return nil
		}
		if pause {
			s.Scaling = pausedScaling()
		} else {
			s.Scaling = autoScaling()
		}
		if s.GetIapEnabled() {
			s.LaunchStage = api.LaunchStage_BETA // the read may report the downgraded stage
		}
		cctx, cancel := d.call(ctx)
		_, err = d.run.UpdateService(cctx, &runpb.UpdateServiceRequest{Service: s}) // s.Etag guards the write
		cancel()
		if status.Code(err) != codes.Aborted {
			break
		}
	}
	if err != nil {
		return wrap("UpdateService", ServiceResource(cell, service), err)
	}
	return nil
}

// Delete deletes the service; a missing service is success.
func (d *Deployer) Delete(ctx context.Context, cell deploy.Cell, service string) error {
	if err := checkName(cell, service); err != nil {
		return err
	}
	name := ServiceResource(cell, service)
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.run.DeleteService(cctx, &runpb.DeleteServiceRequest{Name: name})
	if err != nil && status.Code(err) != codes.NotFound {
		return wrap("DeleteService", name, err)
	}
	return nil
}

// get reads the service; NotFound is deploy.ErrNotFound.
func (d *Deployer) get(ctx context.Context, cell deploy.Cell, service string) (*runpb.Service, error) {
	if err := checkName(cell, service); err != nil {
		return nil, err
	}
	name := ServiceResource(cell, service)
	cctx, cancel := d.call(ctx)
	defer cancel()
	s, err := d.run.GetService(cctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return nil, wrap("GetService", name, err)
	}
	return s, nil
}

// checkName refuses a cell or service name that would make a malformed resource name.
func checkName(cell deploy.Cell, service string) error {
	if !projectRE.MatchString(cell.Project) || !regionRE.MatchString(cell.Region) {
		return invalid("cell %q is not a project and a region", cell.Name)
	}
	if len(service) >= 50 || !serviceIDRE.MatchString(service) {
		return invalid("service %q is not a Cloud Run service id", service)
	}
	return nil
}

// wrap maps a gRPC error of method on resource to the port's sentinels (the cause stays
// wrapped too, so status.Code still works).
func wrap(method, resource string, err error) error {
	var sentinel error
	switch status.Code(err) {
	case codes.ResourceExhausted:
		sentinel = deploy.ErrQuota
	case codes.PermissionDenied, codes.Unauthenticated:
		sentinel = deploy.ErrPermission
	case codes.InvalidArgument, codes.FailedPrecondition:
		sentinel = deploy.ErrInvalid
		if aboutImage(err) {
			sentinel = deploy.ErrInvalidImage
		}
	case codes.NotFound:
		sentinel = deploy.ErrNotFound
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted:
		sentinel = deploy.ErrUnavailable
	}
	if sentinel == nil {
		return fmt.Errorf("cloudrun: %s %s: %w", method, resource, err)
	}
	return fmt.Errorf("cloudrun: %s %s: %w: %w", method, resource, sentinel, err)
}

// aboutImage tells a bad request about a container image: a BadRequest field violation on a
// field ending in "image", else a message that names an image ("Image '…' not found",
// "… is not a valid image …").
func aboutImage(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, det := range st.Details() {
		if br, ok := det.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if strings.HasSuffix(strings.ToLower(v.GetField()), "image") {
					return true
				}
			}
		}
	}
	return strings.Contains(strings.ToLower(st.Message()), "image")
}
