package deploytest_test

import (
	"strings"
	"testing"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runyard/runyard/shared/deploy/deploytest"
)

const (
	parent = "projects/p-test-1/locations/us-central1"
	svcID  = "rt-abc"
	name   = parent + "/services/" + svcID
)

// twoContainers is a valid multi-container service: an ingress container with the port and a
// second one that depends on it.
func twoContainers() *runpb.Service {
	return &runpb.Service{
		Labels: map[string]string{"tenant": "acme"},
		Template: &runpb.RevisionTemplate{
			Timeout: durationpb.New(3600e9),
			Containers: []*runpb.Container{
				{Name: "ingress", Image: "gcr.io/p/ingress", Ports: []*runpb.ContainerPort{{ContainerPort: 8080}}},
				{Name: "runtime", Image: "gcr.io/p/rt", DependsOn: []string{"ingress"},
					Env: []*runpb.EnvVar{{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}}}},
			},
		},
	}
}

func TestCreateServiceRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string // default svcID
		edit func(*runpb.Service)
		want codes.Code
	}{
		{name: "valid", want: codes.OK},
		{name: "id of 49 characters", id: "a" + strings.Repeat("b", 48), want: codes.OK},
		{name: "id of 50 characters", id: "a" + strings.Repeat("b", 49), want: codes.InvalidArgument},
		{name: "id ends with a hyphen", id: "rt-abc-", want: codes.InvalidArgument},
		{name: "id starts with a digit", id: "1rt", want: codes.InvalidArgument},
		{name: "id with upper case", id: "rt-ABC", want: codes.InvalidArgument},
		{name: "two containers with ports", edit: func(s *runpb.Service) {
			s.Template.Containers[1].Ports = []*runpb.ContainerPort{{ContainerPort: 60000}}
		}, want: codes.InvalidArgument},
		{name: "no container with ports", edit: func(s *runpb.Service) { s.Template.Containers[0].Ports = nil }, want: codes.InvalidArgument},
		{name: "two ports", edit: func(s *runpb.Service) {
			s.Template.Containers[0].Ports = append(s.Template.Containers[0].Ports, &runpb.ContainerPort{ContainerPort: 8081})
		}, want: codes.InvalidArgument},
		{name: "no image", edit: func(s *runpb.Service) { s.Template.Containers[1].Image = "" }, want: codes.InvalidArgument},
		{name: "no template", edit: func(s *runpb.Service) { s.Template = nil }, want: codes.InvalidArgument},
		{name: "unnamed container", edit: func(s *runpb.Service) { s.Template.Containers[1].Name = "" }, want: codes.InvalidArgument},
		{name: "same name twice", edit: func(s *runpb.Service) { s.Template.Containers[1].Name = "ingress" }, want: codes.InvalidArgument},
		{name: "depends on unknown", edit: func(s *runpb.Service) { s.Template.Containers[1].DependsOn = []string{"db"} }, want: codes.InvalidArgument},
		{name: "duplicate env", edit: func(s *runpb.Service) {
			s.Template.Containers[1].Env = append(s.Template.Containers[1].Env, s.Template.Containers[1].Env[0])
		}, want: codes.InvalidArgument},
		{name: "iap without beta", edit: func(s *runpb.Service) { s.IapEnabled = true }, want: codes.InvalidArgument},
		{name: "iap with beta", edit: func(s *runpb.Service) { s.IapEnabled, s.LaunchStage = true, api.LaunchStage_BETA }, want: codes.OK},
		{name: "reserved annotation", edit: func(s *runpb.Service) {
			s.Annotations = map[string]string{"run.googleapis.com/ingress": "all"}
		}, want: codes.InvalidArgument},
		{name: "bad label", edit: func(s *runpb.Service) { s.Labels["Tenant"] = "x" }, want: codes.InvalidArgument},
		{name: "timeout over an hour", edit: func(s *runpb.Service) { s.Template.Timeout = durationpb.New(3601e9) }, want: codes.InvalidArgument},
		{name: "manual scaling without a count", edit: func(s *runpb.Service) {
			s.Scaling = &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL}
		}, want: codes.InvalidArgument},
		{name: "single container needs no name or port", edit: func(s *runpb.Service) {
			s.Template.Containers = []*runpb.Container{{Image: "gcr.io/p/rt"}}
		}, want: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := deploytest.NewFakeCloudRun(t)
			c := f.Client(t)
			s := twoContainers()
			if tt.edit != nil {
				tt.edit(s)
			}
			id := svcID
			if tt.id != "" {
				id = tt.id
			}
			_, err := c.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: s})
			if got := status.Code(err); got != tt.want {
				t.Fatalf("CreateService code = %s (%v), want %s", got, err, tt.want)
			}
			if tt.want == codes.OK {
				if got := f.Service(parent + "/services/" + id); got == nil {
					t.Fatal("service not stored")
				}
			} else if len(f.ServiceNames()) != 0 {
				t.Errorf("a refused create stored %v", f.ServiceNames())
			}
		})
	}
}

func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	f := deploytest.NewFakeCloudRun(t)
	c := f.Client(t)
	ctx := t.Context()

	op, err := c.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: svcID, Service: twoContainers()})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if op.Done() {
		t.Error("create operation done before the rollout")
	}
	if _, err := c.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: svcID, Service: twoContainers()}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	got, err := c.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if !got.GetReconciling() || got.GetLatestReadyRevision() != "" || got.GetUri() == "" {
		t.Errorf("new service: reconciling %v ready %q uri %q", got.GetReconciling(), got.GetLatestReadyRevision(), got.GetUri())
	}

	f.SetReady(name)
	svc, err := op.Poll(ctx) // one GetOperation, no wait
	if err != nil || !op.Done() {
		t.Fatalf("Poll after SetReady: done %v, %v", op.Done(), err)
	}
	if svc.GetLatestReadyRevision() != svc.GetLatestCreatedRevision() || svc.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED {
		t.Errorf("ready service: %v", svc)
	}

	// A stale etag is refused; the current one is taken.
	stale := proto.Clone(got).(*runpb.Service)
	got, _ = c.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	zero := int32(0)
	got.Scaling = &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL, ManualInstanceCount: &zero}
	if _, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: got}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	if _, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: stale}); status.Code(err) != codes.Aborted {
		t.Errorf("update with a stale etag: %v, want Aborted", err)
	}
	// A scaling-only update makes no revision: still ready.
	if s := f.Service(name); s.GetReconciling() || s.GetLatestCreatedRevision() != svc.GetLatestCreatedRevision() {
		t.Errorf("scaling update started a rollout: %v", s)
	}

	// A template change starts one; SetFailed ends it.
	got, _ = c.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	got.Template.Containers[1].Image = "gcr.io/p/rt2"
	uop, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: got})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	f.SetFailed(name, "container failed to start")
	if _, err := uop.Poll(ctx); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Poll of a failed rollout: %v, want FailedPrecondition", err)
	}
	if s := f.Service(name); s.GetTerminalCondition().GetMessage() != "container failed to start" {
		t.Errorf("terminal condition %v", s.GetTerminalCondition())
	}

	missing := twoContainers()
	missing.Name = parent + "/services/rt-other"
	if _, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: missing}); status.Code(err) != codes.NotFound {
		t.Errorf("update of a missing service: %v, want NotFound", err)
	}
	if _, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: missing, AllowMissing: true}); err != nil {
		t.Errorf("update with AllowMissing: %v", err)
	}

	list := c.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent})
	var names []string
	for s, err := range list.All() {
		if err != nil {
			t.Fatalf("ListServices: %v", err)
		}
		names = append(names, s.GetName())
	}
	if diff := cmp.Diff([]string{parent + "/services/rt-abc", parent + "/services/rt-other"}, names); diff != "" {
		t.Errorf("ListServices (-want +got):\n%s", diff)
	}

	dop, err := c.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name})
	if err != nil || !dop.Done() {
		t.Fatalf("DeleteService: done %v, %v", dop != nil && dop.Done(), err)
	}
	if _, err := c.GetService(ctx, &runpb.GetServiceRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Errorf("GetService after delete: %v, want NotFound", err)
	}
	if _, err := c.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Errorf("second delete: %v, want NotFound", err)
	}
	// CreateService ×2, UpdateService ×5 (one stale, one missing), DeleteService ×2.
	if got := f.WriteCalls(); got != 9 {
		t.Errorf("WriteCalls = %d, want 9", got)
	}
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	fr, fi, rc, ic := deploytest.NewFakes(t)
	ctx := t.Context()
	if _, err := rc.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name}); status.Code(err) != codes.NotFound {
		t.Errorf("policy of a missing service: %v, want NotFound", err)
	}
	if _, err := rc.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: svcID, Service: twoContainers()}); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	iapRes := "projects/123/iap_web/cloud_run-us-central1/services/" + svcID

	type api struct {
		name     string
		resource string
		get      func(*iampb.GetIamPolicyRequest) (*iampb.Policy, error)
		set      func(*iampb.SetIamPolicyRequest) (*iampb.Policy, error)
		policy   func(string) *iampb.Policy
	}
	for _, a := range []api{
		{"run", name,
			func(r *iampb.GetIamPolicyRequest) (*iampb.Policy, error) { return rc.GetIamPolicy(ctx, r) },
			func(r *iampb.SetIamPolicyRequest) (*iampb.Policy, error) { return rc.SetIamPolicy(ctx, r) }, fr.Policy},
		{"iap", iapRes,
			func(r *iampb.GetIamPolicyRequest) (*iampb.Policy, error) { return ic.GetIamPolicy(ctx, r) },
			func(r *iampb.SetIamPolicyRequest) (*iampb.Policy, error) { return ic.SetIamPolicy(ctx, r) }, fi.Policy},
	} {
		p, err := a.get(&iampb.GetIamPolicyRequest{Resource: a.resource})
		if err != nil {
			t.Fatalf("%s GetIamPolicy: %v", a.name, err)
		}
		stale := proto.Clone(p).(*iampb.Policy)
		p.Bindings = []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"user:a@example.com"}}}
		if _, err := a.set(&iampb.SetIamPolicyRequest{Resource: a.resource, Policy: p}); err != nil {
			t.Fatalf("%s SetIamPolicy: %v", a.name, err)
		}
		stale.Bindings = []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"user:b@example.com"}}}
		if _, err := a.set(&iampb.SetIamPolicyRequest{Resource: a.resource, Policy: stale}); status.Code(err) != codes.Aborted {
			t.Errorf("%s SetIamPolicy with a stale etag: %v, want Aborted", a.name, err)
		}
		bad := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"a@example.com"}}}}
		if _, err := a.set(&iampb.SetIamPolicyRequest{Resource: a.resource, Policy: bad}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s SetIamPolicy with a bad member: %v, want InvalidArgument", a.name, err)
		}
		if diff := cmp.Diff([]string{"roles/run.invoker user:a@example.com"}, deploytest.Bindings(a.policy(a.resource))); diff != "" {
			t.Errorf("%s policy (-want +got):\n%s", a.name, diff)
		}
	}
	if _, err := ic.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/p-test-1/iap_web/cloud_run-us-central1/services/" + svcID}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("IAP resource named by project id: %v, want InvalidArgument", err)
	}
	if got := fr.WriteCalls(); got != 4 { // create + 3 SetIamPolicy
		t.Errorf("run WriteCalls = %d, want 4", got)
	}
	if got := fi.WriteCalls(); got != 3 {
		t.Errorf("iap WriteCalls = %d, want 3", got)
	}
}
