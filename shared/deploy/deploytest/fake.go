// Package deploytest holds test helpers of the deploy port: FakeCloudRun, an in-process Cloud
// Run Admin API v2 (services, their IAM policies, long-running operations), and FakeIAP, the
// IAP admin API's IAM policies on IAP resources. Both are gRPC servers driven by the REAL
// run.ServicesClient and iap.IdentityAwareProxyAdminClient (NewFakes).
package deploytest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	iap "cloud.google.com/go/iap/apiv1"
	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runyard/runyard/shared/grpcfake"
)

// FakeCloudRun is an in-process Cloud Run Admin API v2: a gRPC server implementing
// runpb.ServicesServer (CreateService, GetService, ListServices, UpdateService, DeleteService,
// GetIamPolicy, SetIamPolicy) and google.longrunning.Operations (GetOperation).
//
// It checks what Runyard depends on: the parent and the service id (`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`,
// under 50 characters), a template with 1–10 named containers each with an image, exactly one
// container declaring Ports (at most one port), DependsOn naming other containers, unique env
// names with a value or a secret reference, label rules, reserved annotation prefixes, a
// request timeout of at most one hour, IapEnabled only with a BETA (or ALPHA) launch stage,
// MANUAL scaling only with a manual instance count. AlreadyExists on a second create, NotFound
// on a missing service (unless UpdateService allows missing), Aborted on a stale etag (service
// or IAM policy).
//
// A write that changes the template starts a rollout: the service is Reconciling with a new
// latest created revision and the operation is not done until the test calls SetReady or
// SetFailed (or, with ReadyAfterGets(n), until the n-th GetService). A write that changes only
// service-level settings (scaling) creates no revision and finishes at once, as in Cloud Run.
// Images registered with RejectImage fail the create or update with InvalidArgument and a
// field violation on the container's image.
//
// Errors can be injected per method (FailNext); every call is counted (Calls).
type FakeCloudRun struct {
	*grpcfake.Server

	runpb.UnimplementedServicesServer

	mu         sync.Mutex
	seq        int
	services   map[string]*fakeService // by full name
	policies   *grpcfake.Policies
	ops        map[string]*fakeOp
	rejected   map[string]bool
	readyAfter int
}

type fakeService struct {
	pb      *runpb.Service
	gets    int // GetService calls since the rollout started
	pending []string
}

type fakeOp struct {
	svc  string
	done bool
	resp *runpb.Service
	err  *rpcstatus.Status
}

// FakeIAP is the IAP admin API's IAM on IAP resources: a gRPC server implementing the
// IdentityAwareProxyAdminService's GetIamPolicy and SetIamPolicy for resources of the form
// projects/NUMBER/iap_web/cloud_run-REGION/services/SERVICE (the project must be a number, as
// in the real API). An unknown resource has an empty policy; a stale etag is Aborted.
type FakeIAP struct {
	*grpcfake.Server

	iappb.UnimplementedIdentityAwareProxyAdminServiceServer

	mu       sync.Mutex
	policies *grpcfake.Policies
}

// opsServer serves google.longrunning.Operations for the fake's operations.
type opsServer struct {
	longrunningpb.UnimplementedOperationsServer
	f *FakeCloudRun
}

var (
	parentRE      = regexp.MustCompile(`^projects/([^/]+)/locations/([a-z0-9-]+)$`)
	serviceNameRE = regexp.MustCompile(`^(projects/[^/]+/locations/[a-z0-9-]+)/services/([^/]+)$`)
	serviceIDRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	dnsLabelRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelKeyRE    = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE  = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	iapResourceRE = regexp.MustCompile(`^projects/[0-9]+/iap_web/cloud_run-[a-z0-9-]+/services/[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

	reservedAnnotationPrefixes = []string{"run.googleapis.com/", "cloud.googleapis.com/", "serving.knative.dev/", "autoscaling.knative.dev/"}
)

// Cloud Run limits the fake enforces.
const (
	maxContainers   = 10
	maxTimeout      = time.Hour
	maxServiceIDLen = 49
)

// NewFakeCloudRun starts a FakeCloudRun on an in-memory listener; it stops on tb's cleanup.
func NewFakeCloudRun(tb testing.TB) *FakeCloudRun {
	tb.Helper()
	f := &FakeCloudRun{
		Server:   grpcfake.New(),
		services: map[string]*fakeService{},
		policies: grpcfake.NewPolicies(),
		ops:      map[string]*fakeOp{},
		rejected: map[string]bool{},
	}
	f.Register(func(g *grpc.Server) {
		runpb.RegisterServicesServer(g, f)
		longrunningpb.RegisterOperationsServer(g, &opsServer{f: f})
	})
	f.Start(tb)
	return f
}

// NewFakeIAP starts a FakeIAP on an in-memory listener; it stops on tb's cleanup.
func NewFakeIAP(tb testing.TB) *FakeIAP {
	tb.Helper()
	f := &FakeIAP{Server: grpcfake.New(), policies: grpcfake.NewPolicies()}
	f.Register(func(g *grpc.Server) { iappb.RegisterIdentityAwareProxyAdminServiceServer(g, f) })
	f.Start(tb)
	return f
}

// NewFakes starts a FakeCloudRun and a FakeIAP (two servers, so their SetIamPolicy calls are
// counted apart) and returns them with real clients connected to them, closed on tb's cleanup.
func NewFakes(tb testing.TB) (*FakeCloudRun, *FakeIAP, *run.ServicesClient, *iap.IdentityAwareProxyAdminClient) {
	tb.Helper()
	fr, fi := NewFakeCloudRun(tb), NewFakeIAP(tb)
	return fr, fi, fr.Client(tb), fi.Client(tb)
}

// Client returns a real Cloud Run services client connected to f, closed on tb's cleanup.
func (f *FakeCloudRun) Client(tb testing.TB) *run.ServicesClient {
	tb.Helper()
	c, err := run.NewServicesClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("run.NewServicesClient: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Client returns a real IAP admin client connected to f, closed on tb's cleanup.
func (f *FakeIAP) Client(tb testing.TB) *iap.IdentityAwareProxyAdminClient {
	tb.Helper()
	c, err := iap.NewIdentityAwareProxyAdminClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("iap.NewIdentityAwareProxyAdminClient: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// WriteCalls counts the admin write calls the fake received (CreateService, UpdateService,
// DeleteService, SetIamPolicy), failed ones included.
func (f *FakeCloudRun) WriteCalls() int {
	return f.Calls("CreateService") + f.Calls("UpdateService") + f.Calls("DeleteService") + f.Calls("SetIamPolicy")
}

// WriteCalls counts the SetIamPolicy calls the fake received, failed ones included.
func (f *FakeIAP) WriteCalls() int { return f.Calls("SetIamPolicy") }

// ReadyAfterGets makes every later rollout finish (as SetReady) on the n-th GetService of the
// service after it started; 0 (the default) waits for SetReady or SetFailed.
func (f *FakeCloudRun) ReadyAfterGets(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readyAfter = n
}

// RejectImage makes creates and updates that use image fail as Cloud Run does for an image it
// cannot find: InvalidArgument with a field violation on the container's image.
func (f *FakeCloudRun) RejectImage(image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected[image] = true
}

// Service returns a copy of the stored service, or nil.
func (f *FakeCloudRun) Service(name string) *runpb.Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.services[name]; ok {
		return proto.Clone(s.pb).(*runpb.Service)
	}
	return nil
}

// ServiceNames returns the names of the stored services, sorted.
func (f *FakeCloudRun) ServiceNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.services))
	for n := range f.services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Policy returns a copy of the IAM policy of the service named resource, or nil.
func (f *FakeCloudRun) Policy(resource string) *iampb.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.policies.Policy(resource)
}

// Policy returns a copy of the IAM policy of the IAP resource, or nil if none was set.
func (f *FakeIAP) Policy(resource string) *iampb.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.policies.Policy(resource)
}

// Bindings flattens a policy into "role member" strings, sorted (nil policy: nil).
func Bindings(p *iampb.Policy) []string {
	var out []string
	for _, b := range p.GetBindings() {
		for _, m := range b.GetMembers() {
			out = append(out, b.GetRole()+" "+m)
		}
	}
	slices.Sort(out)
	return out
}

// SetReady finishes the service's rollout successfully: the latest created revision becomes
// ready and serves, the terminal condition succeeds and pending operations are done.
func (f *FakeCloudRun) SetReady(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.services[name]; ok {
		f.readyLocked(s)
	}
}

// SetFailed fails the service's rollout with msg as the terminal condition's message; pending
// operations are done with FailedPrecondition.
func (f *FakeCloudRun) SetFailed(name, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[name]
	if !ok {
		return
	}
	s.pb.Reconciling = false
	s.pb.ObservedGeneration = s.pb.GetGeneration()
	s.pb.TerminalCondition = &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_FAILED,
		Message: msg, Severity: runpb.Condition_ERROR, LastTransitionTime: timestamppb.Now()}
	f.finishOpsLocked(s, &rpcstatus.Status{Code: int32(codes.FailedPrecondition), Message: msg})
}

func (f *FakeCloudRun) readyLocked(s *fakeService) {
	s.pb.Reconciling = false
	s.pb.ObservedGeneration = s.pb.GetGeneration()
	s.pb.LatestReadyRevision = s.pb.GetLatestCreatedRevision()
	s.pb.TerminalCondition = &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED,
		LastTransitionTime: timestamppb.Now()}
	s.pb.Conditions = []*runpb.Condition{
		{Type: "ConfigurationsReady", State: runpb.Condition_CONDITION_SUCCEEDED},
		{Type: "RoutesReady", State: runpb.Condition_CONDITION_SUCCEEDED},
	}
	f.finishOpsLocked(s, nil)
}

func (f *FakeCloudRun) finishOpsLocked(s *fakeService, err *rpcstatus.Status) {
	for _, name := range s.pending {
		if op := f.ops[name]; op != nil {
			op.done, op.err, op.resp = true, err, proto.Clone(s.pb).(*runpb.Service)
		}
	}
	s.pending = nil
}

// invalid answers InvalidArgument with a field violation, as Cloud Run reports a bad request.
func invalid(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	st, err := status.New(codes.InvalidArgument, "fake: "+msg).WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}},
	})
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return st.Err()
}

// checkServiceID applies Cloud Run's rule for a service id.
func checkServiceID(id string) error {
	if len(id) > maxServiceIDLen || !serviceIDRE.MatchString(id) {
		return invalid("service_id", "service id %q must be under 50 characters of lowercase letters, digits and '-', start with a letter and not end with '-'", id)
	}
	return nil
}

// checkService validates the input fields of a service (locked: uses f.rejected).
func (f *FakeCloudRun) checkServiceLocked(s *runpb.Service) error {
	if s == nil {
		return invalid("service", "service is required")
	}
	for k, v := range s.GetLabels() {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			return invalid("service.labels", "invalid label %q=%q", k, v)
		}
	}
	for k := range s.GetAnnotations() {
		for _, p := range reservedAnnotationPrefixes {
			if strings.HasPrefix(k, p) {
				return invalid("service.annotations", "annotation %q uses the reserved prefix %q", k, p)
			}
		}
	}
	if s.GetIapEnabled() && s.GetLaunchStage() != api.LaunchStage_BETA && s.GetLaunchStage() != api.LaunchStage_ALPHA {
		return invalid("service.launch_stage", "iap_enabled is a preview feature: set launch_stage BETA")
	}
	if sc := s.GetScaling(); sc.GetScalingMode() == runpb.ServiceScaling_MANUAL && sc.ManualInstanceCount == nil {
		return invalid("service.scaling.manual_instance_count", "MANUAL scaling needs manual_instance_count")
	}
	t := s.GetTemplate()
	if t == nil {
		return invalid("service.template", "template is required")
	}
	if d := t.GetTimeout(); d != nil && (d.AsDuration() <= 0 || d.AsDuration() > maxTimeout) {
		return invalid("service.template.timeout", "timeout must be in (0, 3600s]")
	}
	if sc := t.GetScaling(); sc.GetMaxInstanceCount() < 0 || sc.GetMinInstanceCount() < 0 ||
		(sc.GetMaxInstanceCount() > 0 && sc.GetMinInstanceCount() > sc.GetMaxInstanceCount()) {
		return invalid("service.template.scaling", "invalid instance counts")
	}
	cs := t.GetContainers()
	if len(cs) == 0 || len(cs) > maxContainers {
		return invalid("service.template.containers", "a template has 1 to %d containers", maxContainers)
	}
	names := map[string]bool{}
	withPorts := 0
	for i, c := range cs {
		field := fmt.Sprintf("service.template.containers[%d]", i)
		if len(cs) > 1 && !dnsLabelRE.MatchString(c.GetName()) {
			return invalid(field+".name", "every container of a multi-container service needs a DNS-label name")
		}
		if names[c.GetName()] && c.GetName() != "" {
			return invalid(field+".name", "container name %q is used twice", c.GetName())
		}
		names[c.GetName()] = true
		if c.GetImage() == "" {
			return invalid(field+".image", "image is required")
		}
		if f.rejected[c.GetImage()] {
			return invalid(field+".image", "Image '%s' not found.", c.GetImage())
		}
		if n := len(c.GetPorts()); n > 1 {
			return invalid(field+".ports", "a container may declare at most one port")
		} else if n == 1 {
			withPorts++
			if p := c.GetPorts()[0].GetContainerPort(); p <= 0 || p > 65535 {
				return invalid(field+".ports", "invalid port %d", p)
			}
		}
		envs := map[string]bool{}
		for _, e := range c.GetEnv() {
			if !envNameRE.MatchString(e.GetName()) || envs[e.GetName()] {
				return invalid(field+".env", "invalid or duplicate env name %q", e.GetName())
			}
			envs[e.GetName()] = true
			if src := e.GetValueSource(); src != nil && src.GetSecretKeyRef().GetSecret() == "" {
				return invalid(field+".env", "env %s: a value source needs a secret", e.GetName())
			}
		}
	}
	if len(cs) > 1 && withPorts != 1 {
		return invalid("service.template.containers", "exactly one container (the ingress container) must declare ports; %d do", withPorts)
	}
	for i, c := range cs {
		for _, d := range c.GetDependsOn() {
			if !names[d] || d == c.GetName() {
				return invalid(fmt.Sprintf("service.template.containers[%d].depends_on", i), "unknown container %q", d)
			}
		}
	}
	return nil
}

func (f *FakeCloudRun) nextLocked() int {
	f.seq++
	return f.seq
}

// storeLocked writes in (input fields) over the stored service (output fields) and answers
// the operation. A changed template starts a rollout.
func (f *FakeCloudRun) storeLocked(name string, in *runpb.Service) *longrunningpb.Operation {
	m := serviceNameRE.FindStringSubmatch(name)
	loc, id := m[1], m[2]
	n := f.nextLocked()
	s, exists := f.services[name]
	next := proto.Clone(in).(*runpb.Service)
	next.Name = name
	now := timestamppb.Now()
	if exists {
		old := s.pb
		next.Uid, next.CreateTime, next.Creator, next.Uri, next.Urls = old.Uid, old.CreateTime, old.Creator, old.Uri, old.Urls
		next.Generation = old.GetGeneration() + 1
		next.LatestCreatedRevision, next.LatestReadyRevision = old.LatestCreatedRevision, old.LatestReadyRevision
		next.TerminalCondition, next.Conditions, next.ObservedGeneration = old.TerminalCondition, old.Conditions, old.ObservedGeneration
		next.Reconciling = old.Reconciling
	} else {
		s = &fakeService{}
		f.services[name] = s
		next.Uid = fmt.Sprintf("uid-%d", n)
		next.CreateTime = now
		next.Creator = "fake@example.com"
		next.Generation = 1
		region := loc[strings.LastIndex(loc, "/")+1:]
		next.Uri = "https://" + id + "-fake-" + region + ".a.run.app"
		next.Urls = []string{next.Uri}
	}
	next.UpdateTime, next.LastModifier = now, "fake@example.com"
	next.Etag = fmt.Sprintf(`"etag-%d"`, n)
	next.DeleteTime, next.ExpireTime, next.TrafficStatuses = nil, nil, nil

	opName := fmt.Sprintf("%s/operations/op-%d", loc, n)
	op := &fakeOp{svc: name}
	f.ops[opName] = op
	templateChanged := !exists || !proto.Equal(s.pb.GetTemplate(), next.GetTemplate())
	s.pb = next
	if templateChanged {
		next.Reconciling = true
		next.LatestCreatedRevision = fmt.Sprintf("%s-%05d-fak", id, next.GetGeneration())
		next.TerminalCondition = &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_RECONCILING, LastTransitionTime: now}
		s.gets = 0
		s.pending = append(s.pending, opName)
	} else if next.GetReconciling() {
		s.pending = append(s.pending, opName) // finishes with the rollout under way
	} else {
		next.ObservedGeneration = next.GetGeneration()
		op.done, op.resp = true, proto.Clone(next).(*runpb.Service)
	}
	return opLocked(opName, op, next)
}

func opLocked(name string, op *fakeOp, svc *runpb.Service) *longrunningpb.Operation {
	meta, _ := anypb.New(svc)
	out := &longrunningpb.Operation{Name: name, Metadata: meta, Done: op.done}
	switch {
	case op.done && op.err != nil:
		out.Result = &longrunningpb.Operation_Error{Error: op.err}
	case op.done:
		resp, _ := anypb.New(op.resp)
		out.Result = &longrunningpb.Operation_Response{Response: resp}
	}
	return out
}

// CreateService implements the RPC.
func (f *FakeCloudRun) CreateService(_ context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	if !parentRE.MatchString(req.GetParent()) {
		return nil, invalid("parent", "parent must be projects/P/locations/L")
	}
	if err := checkServiceID(req.GetServiceId()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkServiceLocked(req.GetService()); err != nil {
		return nil, err
	}
	name := req.GetParent() + "/services/" + req.GetServiceId()
	if _, ok := f.services[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "fake: Resource '%s' already exists.", req.GetServiceId())
	}
	if req.GetValidateOnly() {
		return &longrunningpb.Operation{Name: req.GetParent() + "/operations/validate", Done: true}, nil
	}
	return f.storeLocked(name, req.GetService()), nil
}

func (f *FakeCloudRun) serviceLocked(name string) (*fakeService, error) {
	m := serviceNameRE.FindStringSubmatch(name)
	if m == nil {
		return nil, invalid("name", "name must be projects/P/locations/L/services/S")
	}
	if err := checkServiceID(m[2]); err != nil {
		return nil, err
	}
	s, ok := f.services[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "fake: Resource '%s' was not found", name)
	}
	return s, nil
}

// GetService implements the RPC.
func (f *FakeCloudRun) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.serviceLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if s.pb.GetReconciling() && f.readyAfter > 0 {
		s.gets++
		if s.gets >= f.readyAfter {
			f.readyLocked(s)
		}
	}
	return proto.Clone(s.pb).(*runpb.Service), nil
}

// ListServices implements the RPC (one page, sorted by name).
func (f *FakeCloudRun) ListServices(_ context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	if !parentRE.MatchString(req.GetParent()) {
		return nil, invalid("parent", "parent must be projects/P/locations/L")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &runpb.ListServicesResponse{}
	for name, s := range f.services {
		if strings.HasPrefix(name, req.GetParent()+"/services/") {
			out.Services = append(out.Services, proto.Clone(s.pb).(*runpb.Service))
		}
	}
	slices.SortFunc(out.Services, func(a, b *runpb.Service) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

// UpdateService implements the RPC: the whole service is replaced (UpdateMask is not
// supported); AllowMissing creates a missing service.
func (f *FakeCloudRun) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	if req.GetUpdateMask() != nil {
		return nil, status.Errorf(codes.Unimplemented, "fake: update_mask is not supported")
	}
	name := req.GetService().GetName()
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.serviceLocked(name)
	missing := status.Code(err) == codes.NotFound
	if err != nil && !(missing && req.GetAllowMissing()) {
		return nil, err
	}
	if err := f.checkServiceLocked(req.GetService()); err != nil {
		return nil, err
	}
	if e := req.GetService().GetEtag(); !missing && e != "" && e != s.pb.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "fake: etag %s does not match the service's %s", e, s.pb.GetEtag())
	}
	if req.GetValidateOnly() {
		return &longrunningpb.Operation{Name: "validate", Done: true}, nil
	}
	return f.storeLocked(name, req.GetService()), nil
}

// DeleteService implements the RPC; the operation is done at once with the deleted service.
func (f *FakeCloudRun) DeleteService(_ context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.serviceLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if e := req.GetEtag(); e != "" && e != s.pb.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "fake: etag mismatch")
	}
	if req.GetValidateOnly() {
		return &longrunningpb.Operation{Name: "validate", Done: true}, nil
	}
	delete(f.services, req.GetName())
	f.policies.Delete(req.GetName())
	s.pb.DeleteTime = timestamppb.Now()
	f.finishOpsLocked(s, &rpcstatus.Status{Code: int32(codes.Aborted), Message: "service deleted"})
	m := serviceNameRE.FindStringSubmatch(req.GetName())
	opName := fmt.Sprintf("%s/operations/op-%d", m[1], f.nextLocked())
	op := &fakeOp{svc: req.GetName(), done: true, resp: proto.Clone(s.pb).(*runpb.Service)}
	f.ops[opName] = op
	return opLocked(opName, op, s.pb), nil
}

// GetIamPolicy implements the RPC on a service (an empty policy until one is set).
func (f *FakeCloudRun) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.serviceLocked(req.GetResource()); err != nil {
		return nil, err
	}
	return f.policies.Get(req.GetResource()), nil
}

// SetIamPolicy implements the RPC on a service; a stale etag is Aborted.
func (f *FakeCloudRun) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.serviceLocked(req.GetResource()); err != nil {
		return nil, err
	}
	return f.policies.Set(req.GetResource(), req.GetPolicy())
}

// GetIamPolicy implements the RPC on an IAP resource (an empty policy until one is set).
func (f *FakeIAP) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if !iapResourceRE.MatchString(req.GetResource()) {
		return nil, invalid("resource", "resource %q is not projects/NUMBER/iap_web/cloud_run-REGION/services/SERVICE", req.GetResource())
	}
	return f.policies.Get(req.GetResource()), nil
}

// SetIamPolicy implements the RPC on an IAP resource; a stale etag is Aborted.
func (f *FakeIAP) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if !iapResourceRE.MatchString(req.GetResource()) {
		return nil, invalid("resource", "resource %q is not projects/NUMBER/iap_web/cloud_run-REGION/services/SERVICE", req.GetResource())
	}
	return f.policies.Set(req.GetResource(), req.GetPolicy())
}

// GetOperation implements the RPC for the fake's operations.
func (o *opsServer) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	op, ok := o.f.ops[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "fake: operation %s not found", req.GetName())
	}
	svc := op.resp
	if s, ok := o.f.services[op.svc]; ok && !op.done {
		svc = s.pb
	}
	return opLocked(req.GetName(), op, svc), nil
}
