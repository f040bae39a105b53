package cloudrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
)

const (
	project   = "runyard-cell-1"
	number    = "123456789012"
	region    = "us-central1"
	tenant    = "acme"
	runtimeID = "r4nd0m1d"
	service   = "rt-" + runtimeID
	svcName   = "projects/" + project + "/locations/" + region + "/services/" + service
	iapRes    = "projects/" + number + "/iap_web/cloud_run-" + region + "/services/" + service
	iapAgent  = "serviceAccount:service-" + number + "@gcp-sa-iap.iam.gserviceaccount.com"
	image     = "us-central1-docker.pkg.dev/runyard-cell-1/runyard-images/acme@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	ingress   = "us-central1-docker.pkg.dev/runyard-cell-1/runyard/ingress:v1"
	runtimeSA = "rt-acme@runyard-cell-1.iam.gserviceaccount.com"
)

var cell = deploy.Cell{Name: "c1", Project: project, Region: region, Limit: 100}

func baseConfig() cloudrun.Config {
	return cloudrun.Config{ProjectNumbers: map[string]string{project: number}}
}

// newDeployer returns a Deployer over FakeCloudRun and FakeIAP driven by the real clients.
func newDeployer(tb testing.TB, cfg cloudrun.Config) (*cloudrun.Deployer, *deploytest.FakeCloudRun, *deploytest.FakeIAP) {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	fr, fi, rc, ic := deploytest.NewFakes(tb)
	return cloudrun.NewFromClients(rc, ic, cfg), fr, fi
}

func newSpec(mode deploy.Mode) deploy.Spec {
	return deploy.Spec{
		Tenant:       tenant,
		RuntimeID:    runtimeID,
		Service:      service,
		Cell:         cell,
		Image:        image,
		IngressImage: ingress,
		Ports:        []int{3000},
		Env:          map[string]string{"SESSION_API_KEY": "sk-test", "LOG_LEVEL": "info"},
		Secrets: []deploy.SecretRef{
			{Env: "OPENAI_API_KEY", Tenant: tenant, Name: "OPENAI_KEY", Version: "3"},
			{Name: "GITHUB_TOKEN"},
		},
		Size:           deploy.Sizes[2],
		ServiceAccount: runtimeSA,
		Mode:           mode,
		Members:        []string{"user:bob@example.com", "user:alice@example.com"},
		Labels:         map[string]string{"team": "blue"},
	}
}

func val(name, v string) *runpb.EnvVar {
	return &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: v}}
}

func secretEnv(name, secret, version string) *runpb.EnvVar {
	return &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{
		SecretKeyRef: &runpb.SecretKeySelector{Secret: "projects/" + project + "/secrets/" + secret, Version: version}}}}
}

// wantService is the documented service shape (README.md) of newSpec(mode).
func wantService(mode deploy.Mode) *runpb.Service {
	labels := map[string]string{"tenant": tenant, "runtime": runtimeID, "managed-by": "runyard", "team": "blue"}
	sidecarEnv := []*runpb.EnvVar{
		val("RUNYARD_MODE", string(mode)), val("RUNTIME_ID", runtimeID), val("AGENT_PORT", "60000"),
		val("VSCODE_PORT", "60001"), val("WORKER_1", "12000"), val("WORKER_2", "12001"), val("APP_PORTS", "3000"),
	}
	if mode == deploy.ModeIAP {
		sidecarEnv = append(sidecarEnv, val("IAP_AUDIENCE", "/projects/"+number+"/locations/"+region+"/services/"+service))
	}
	sidecarEnv = append(sidecarEnv, val("SESSION_API_KEY", "sk-test"))
	s := &runpb.Service{
		Name:    svcName,
		Labels:  labels,
		Ingress: runpb.IngressTraffic_INGRESS_TRAFFIC_ALL,
		Scaling: &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_AUTOMATIC, MaxInstanceCount: 1},
		Template: &runpb.RevisionTemplate{
			Labels:               labels,
			Scaling:              &runpb.RevisionScaling{MaxInstanceCount: 1},
			Timeout:              durationpb.New(3600e9),
			ServiceAccount:       runtimeSA,
			ExecutionEnvironment: runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2,
			SessionAffinity:      true,
			Containers: []*runpb.Container{
				{
					Name:      "ingress",
					Image:     ingress,
					Env:       sidecarEnv,
					Ports:     []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
					Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1", "memory": "512Mi"}, CpuIdle: true},
					StartupProbe: &runpb.Probe{PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 30,
						ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: 8080}}},
				},
				{
					Name:  "runtime",
					Image: image,
					Env: []*runpb.EnvVar{
						val("LOG_LEVEL", "info"), val("SESSION_API_KEY", "sk-test"),
						val("RUNTIME_URL", cloudrun.DeterministicURL("rt-"+runtimeID, number, "us-central1")),
						val("RUNTIME_ID", runtimeID), val("VSCODE_PORT", "60001"), val("WORKER_1", "12000"), val("WORKER_2", "12001"),
						secretEnv("GITHUB_TOKEN", "rt-acme-GITHUB_TOKEN", "latest"),
						secretEnv("OPENAI_API_KEY", "rt-acme-OPENAI_KEY", "3"),
					},
					Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "2", "memory": "4Gi"},
						CpuIdle: true, StartupCpuBoost: true},
					DependsOn: []string{"ingress"},
				},
			},
		},
	}
	if mode == deploy.ModeIAP {
		s.IapEnabled, s.LaunchStage = true, api.LaunchStage_BETA
	} else {
		s.InvokerIamDisabled = true
	}
	return s
}

// ignoreOutput drops the output-only fields of a stored service from a comparison.
var ignoreOutput = protocmp.IgnoreFields(&runpb.Service{}, "uid", "generation", "create_time", "update_time",
	"delete_time", "expire_time", "creator", "last_modifier", "observed_generation", "terminal_condition",
	"conditions", "latest_ready_revision", "latest_created_revision", "traffic_statuses", "uri", "urls",
	"reconciling", "etag")

func TestDeployShape(t *testing.T) {
	t.Parallel()
	withBucket := baseConfig()
	withBucket.WorkspaceBucket = "runyard-workspaces"
	bucketWant := wantService(deploy.ModeIAP)
	bucketWant.Template.Volumes = []*runpb.Volume{{Name: "workspace", VolumeType: &runpb.Volume_Gcs{Gcs: &runpb.GCSVolumeSource{
		Bucket: "runyard-workspaces", MountOptions: []string{"only-dir=acme/" + runtimeID}}}}}
	bucketWant.Template.Containers[1].VolumeMounts = []*runpb.VolumeMount{{Name: "workspace", MountPath: "/workspace"}}

	// Without the project's number the deterministic RUNTIME_URL is unknown and left out.
	noNumberWant := wantService(deploy.ModeToken)
	env := noNumberWant.Template.Containers[1].Env
	noNumberWant.Template.Containers[1].Env = slices.DeleteFunc(slices.Clone(env), func(e *runpb.EnvVar) bool { return e.GetName() == "RUNTIME_URL" })

	tests := []struct {
		name string
		cfg  cloudrun.Config
		mode deploy.Mode
		want *runpb.Service
	}{
		{name: "iap", cfg: baseConfig(), mode: deploy.ModeIAP, want: wantService(deploy.ModeIAP)},
		{name: "token", cfg: baseConfig(), mode: deploy.ModeToken, want: wantService(deploy.ModeToken)},
		{name: "token needs no project number", cfg: cloudrun.Config{}, mode: deploy.ModeToken, want: noNumberWant},
		{name: "workspace bucket", cfg: withBucket, mode: deploy.ModeIAP, want: bucketWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fr, _ := newDeployer(t, tt.cfg)
			built, err := d.BuildService(newSpec(tt.mode))
			if err != nil {
				t.Fatalf("BuildService: %v", err)
			}
			if diff := cmp.Diff(tt.want, built, protocmp.Transform()); diff != "" {
				t.Errorf("BuildService (-want +got):\n%s", diff)
			}
			st, err := d.Deploy(t.Context(), newSpec(tt.mode))
			if err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			if diff := cmp.Diff(deploy.Status{Phase: deploy.PhaseDeploying, URL: "https://" + service + "-fake-us-central1.a.run.app"}, st); diff != "" {
				t.Errorf("Deploy status (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, fr.Service(svcName), protocmp.Transform(), ignoreOutput); diff != "" {
				t.Errorf("stored service (-want +got):\n%s", diff)
			}
			if got := fr.ServiceNames(); !cmp.Equal(got, []string{svcName}) {
				t.Errorf("services = %v, want only %s", got, svcName)
			}
		})
	}
}

// TestShapeInvariants checks the rules Cloud Run enforces or that bite silently, on every size.
func TestShapeInvariants(t *testing.T) {
	t.Parallel()
	d, _, _ := newDeployer(t, baseConfig())
	for factor, size := range deploy.Sizes {
		s := newSpec(deploy.ModeIAP)
		s.Size = size
		svc, err := d.BuildService(s)
		if err != nil {
			t.Fatalf("factor %d: %v", factor, err)
		}
		withPorts := 0
		for _, c := range svc.GetTemplate().GetContainers() {
			if len(c.GetPorts()) > 0 {
				withPorts++
			}
			if c.GetResources() != nil && !c.GetResources().GetCpuIdle() {
				t.Errorf("factor %d: container %s has resources without CpuIdle", factor, c.GetName())
			}
		}
		if withPorts != 1 {
			t.Errorf("factor %d: %d containers declare ports, want 1", factor, withPorts)
		}
		if got := svc.GetTemplate().GetContainers()[1].GetResources().GetLimits(); got["cpu"] != size.CPU || got["memory"] != size.Memory {
			t.Errorf("factor %d: runtime limits %v", factor, got)
		}
	}
}

func TestDeployIAM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       deploy.Mode
		members    []string
		wantRun    []string
		wantIAP    []string
		wantWrites int
	}{
		{
			name:       "iap",
			mode:       deploy.ModeIAP,
			members:    []string{"user:bob@example.com", "user:alice@example.com", "user:bob@example.com"},
			wantRun:    []string{"roles/run.invoker " + iapAgent},
			wantIAP:    []string{"roles/iap.httpsResourceAccessor user:alice@example.com", "roles/iap.httpsResourceAccessor user:bob@example.com"},
			wantWrites: 3,
		},
		{
			name:       "iap without members",
			mode:       deploy.ModeIAP,
			wantRun:    []string{"roles/run.invoker " + iapAgent},
			wantWrites: 2,
		},
		{name: "token", mode: deploy.ModeToken, members: []string{"user:bob@example.com"}, wantWrites: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fr, fi := newDeployer(t, baseConfig())
			s := newSpec(tt.mode)
			s.Members = tt.members
			if _, err := d.Deploy(t.Context(), s); err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			if diff := cmp.Diff(tt.wantRun, deploytest.Bindings(fr.Policy(svcName))); diff != "" {
				t.Errorf("service policy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIAP, deploytest.Bindings(fi.Policy(iapRes))); diff != "" {
				t.Errorf("IAP policy (-want +got):\n%s", diff)
			}
			if n := fr.WriteCalls() + fi.WriteCalls(); n != tt.wantWrites {
				t.Errorf("%d admin write calls, want %d", n, tt.wantWrites)
			}
			t.Logf("admin write calls: create (%s): %d", tt.name, fr.WriteCalls()+fi.WriteCalls())
			if tt.mode == deploy.ModeToken && fi.Calls("GetIamPolicy")+fi.WriteCalls()+fr.Calls("SetIamPolicy") != 0 {
				t.Errorf("token mode made IAM calls")
			}
		})
	}
}

func TestDeployKeepsOtherBindings(t *testing.T) {
	t.Parallel()
	d, fr, fi := newDeployer(t, baseConfig())
	ctx := t.Context()
	if _, err := d.Deploy(ctx, newSpec(deploy.ModeIAP)); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	// Someone else binds roles on both resources.
	rc, ic := fr.Client(t), fi.Client(t)
	for _, set := range []func() error{
		func() error {
			p, _ := rc.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: svcName})
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/run.viewer", Members: []string{"user:ops@example.com"}})
			_, err := rc.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: svcName, Policy: p})
			return err
		},
		func() error {
			p, _ := ic.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: iapRes})
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/iap.admin", Members: []string{"user:ops@example.com"}})
			_, err := ic.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: iapRes, Policy: p})
			return err
		},
	} {
		if err := set(); err != nil {
			t.Fatalf("SetIamPolicy: %v", err)
		}
	}
	s := newSpec(deploy.ModeIAP)
	s.Members = []string{"user:carol@example.com"} // alice and bob left the tenant
	if _, err := d.Deploy(ctx, s); err != nil {
		t.Fatalf("Deploy again: %v", err)
	}
	if diff := cmp.Diff([]string{"roles/run.invoker " + iapAgent, "roles/run.viewer user:ops@example.com"},
		deploytest.Bindings(fr.Policy(svcName))); diff != "" {
		t.Errorf("service policy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"roles/iap.admin user:ops@example.com", "roles/iap.httpsResourceAccessor user:carol@example.com"},
		deploytest.Bindings(fi.Policy(iapRes))); diff != "" {
		t.Errorf("IAP policy (-want +got):\n%s", diff)
	}
}

func TestDeployRetry(t *testing.T) {
	t.Parallel()
	d, fr, fi := newDeployer(t, baseConfig())
	ctx := t.Context()
	if _, err := d.Deploy(ctx, newSpec(deploy.ModeIAP)); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	fr.SetReady(svcName)
	before := fr.WriteCalls() + fi.WriteCalls()
	s := newSpec(deploy.ModeIAP)
	s.Image = strings.Replace(image, "9f86", "0000", 1)
	st, err := d.Deploy(ctx, s)
	if err != nil {
		t.Fatalf("Deploy again: %v", err)
	}
	if st.Phase != deploy.PhaseDeploying {
		t.Errorf("phase = %s, want deploying", st.Phase)
	}
	if got := fr.ServiceNames(); !cmp.Equal(got, []string{svcName}) {
		t.Errorf("services = %v, want one", got)
	}
	got := fr.Service(svcName)
	if got.GetGeneration() != 2 || got.GetTemplate().GetContainers()[1].GetImage() != s.Image {
		t.Errorf("service generation %d image %s, want 2 and the new image", got.GetGeneration(), got.GetTemplate().GetContainers()[1].GetImage())
	}
	// CreateService (AlreadyExists) + UpdateService; the IAM bindings are there already.
	if n := fr.WriteCalls() + fi.WriteCalls() - before; n != 2 {
		t.Errorf("retry made %d write calls, want 2", n)
	}
	if stat, err := d.Status(ctx, cell, service); err != nil || stat.Phase != deploy.PhaseDeploying {
		t.Errorf("Status = %+v, %v; want deploying (new revision not ready)", stat, err)
	}
}

func TestDeployInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       *cloudrun.Config // nil: baseConfig()
		edit      func(*deploy.Spec)
		reject    string // an image the fake does not find
		want      error
		wantCalls int // CreateService calls the fake sees
	}{
		{name: "runtime id too long for a service id", edit: func(s *deploy.Spec) {
			s.RuntimeID = strings.Repeat("a", 47)
			s.Service = "rt-" + s.RuntimeID
		}, want: deploy.ErrInvalid},
		{name: "service not the runtime's", edit: func(s *deploy.Spec) { s.Service = "rt-other" }, want: deploy.ErrInvalid},
		{name: "no image", edit: func(s *deploy.Spec) { s.Image = "" }, want: deploy.ErrInvalidImage},
		{name: "no ingress image", edit: func(s *deploy.Spec) { s.IngressImage = "" }, want: deploy.ErrInvalidImage},
		{name: "bad mode", edit: func(s *deploy.Spec) { s.Mode = "open" }, want: deploy.ErrInvalid},
		{name: "reserved env", edit: func(s *deploy.Spec) { s.Env["PORT"] = "1" }, want: deploy.ErrInvalid},
		{name: "env twice", edit: func(s *deploy.Spec) { s.Env["GITHUB_TOKEN"] = "x" }, want: deploy.ErrInvalid},
		{name: "secret of another tenant", edit: func(s *deploy.Spec) { s.Secrets[0].Tenant = "other" }, want: deploy.ErrInvalid},
		{name: "bad secret version", edit: func(s *deploy.Spec) { s.Secrets[0].Version = "v1" }, want: deploy.ErrInvalid},
		{name: "bad member", edit: func(s *deploy.Spec) { s.Members = []string{"allUsers"} }, want: deploy.ErrInvalid},
		{name: "bad label", edit: func(s *deploy.Spec) { s.Labels["Team"] = "x" }, want: deploy.ErrInvalid},
		{name: "no size", edit: func(s *deploy.Spec) { s.Size = deploy.Size{} }, want: deploy.ErrInvalid},
		{name: "no project number for iap", cfg: &cloudrun.Config{}, want: deploy.ErrInvalid},
		{name: "invalid config", cfg: &cloudrun.Config{IngressCPU: "0.5"}, edit: func(s *deploy.Spec) { s.Mode = deploy.ModeToken }, want: deploy.ErrInvalid},
		{name: "image the registry lacks", reject: image, want: deploy.ErrInvalidImage, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig()
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			fr, fi, rc, ic := deploytest.NewFakes(t)
			d := cloudrun.NewFromClients(rc, ic, cfg)
			if tt.reject != "" {
				fr.RejectImage(tt.reject)
			}
			s := newSpec(deploy.ModeIAP)
			if tt.edit != nil {
				tt.edit(&s)
			}
			_, err := d.Deploy(t.Context(), s)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Deploy error = %v, want %v", err, tt.want)
			}
			if n := fr.Calls("CreateService"); n != tt.wantCalls {
				t.Errorf("CreateService calls = %d, want %d", n, tt.wantCalls)
			}
			if n := fr.WriteCalls() + fi.WriteCalls(); n != tt.wantCalls {
				t.Errorf("write calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestDeployErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		iap    bool // inject on the IAP fake
		method string
		code   codes.Code
		n      int
		want   error // nil: Deploy succeeds (a retried etag conflict)
	}{
		{name: "quota", method: "CreateService", code: codes.ResourceExhausted, n: 1, want: deploy.ErrQuota},
		{name: "permission", method: "CreateService", code: codes.PermissionDenied, n: 1, want: deploy.ErrPermission},
		{name: "unavailable", method: "CreateService", code: codes.Unavailable, n: 1, want: deploy.ErrUnavailable},
		{name: "deadline", method: "CreateService", code: codes.DeadlineExceeded, n: 1, want: deploy.ErrUnavailable},
		{name: "internal", method: "CreateService", code: codes.Internal, n: 1, want: deploy.ErrUnavailable},
		{name: "invalid argument", method: "CreateService", code: codes.InvalidArgument, n: 1, want: deploy.ErrInvalid},
		{name: "run policy permission", method: "SetIamPolicy", code: codes.PermissionDenied, n: 1, want: deploy.ErrPermission},
		{name: "iap policy permission", iap: true, method: "SetIamPolicy", code: codes.PermissionDenied, n: 1, want: deploy.ErrPermission},
		{name: "iap read quota", iap: true, method: "GetIamPolicy", code: codes.ResourceExhausted, n: 1, want: deploy.ErrQuota},
		{name: "run policy conflict retried", method: "SetIamPolicy", code: codes.Aborted, n: 2},
		{name: "iap policy conflict retried", iap: true, method: "SetIamPolicy", code: codes.Aborted, n: 1},
		{name: "iap policy conflicts exhaust", iap: true, method: "SetIamPolicy", code: codes.Aborted, n: 3, want: deploy.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fr, fi := newDeployer(t, baseConfig())
			if tt.iap {
				fi.FailNext(tt.method, tt.code, tt.n)
			} else {
				fr.FailNext(tt.method, tt.code, tt.n)
			}
			_, err := d.Deploy(t.Context(), newSpec(deploy.ModeIAP))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Deploy: %v", err)
				}
				if got := len(deploytest.Bindings(fr.Policy(svcName))) + len(deploytest.Bindings(fi.Policy(iapRes))); got != 3 {
					t.Errorf("%d bindings after retries, want 3", got)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Deploy error = %v, want %v", err, tt.want)
			}
			// A retry after the failure converges.
			if _, err := d.Deploy(t.Context(), newSpec(deploy.ModeIAP)); err != nil {
				t.Fatalf("Deploy retry: %v", err)
			}
			if got := fr.ServiceNames(); len(got) != 1 {
				t.Errorf("services after retry = %v", got)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	d, fr, fi := newDeployer(t, baseConfig())
	ctx := t.Context()
	url := "https://" + service + "-fake-us-central1.a.run.app"
	writes := func() int { return fr.WriteCalls() + fi.WriteCalls() }

	steps := []struct {
		name       string
		do         func() error
		want       deploy.Status
		wantWrites int
	}{
		{name: "missing", do: func() error { return nil }, want: deploy.Status{Phase: deploy.PhaseMissing}},
		{name: "create", do: func() error { _, err := d.Deploy(ctx, newSpec(deploy.ModeIAP)); return err },
			want: deploy.Status{Phase: deploy.PhaseDeploying, URL: url}, wantWrites: 3},
		{name: "rolled out", do: func() error { fr.SetReady(svcName); return nil },
			want: deploy.Status{Phase: deploy.PhaseReady, URL: url}},
		{name: "pause", do: func() error { return d.Pause(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhasePaused, URL: url}, wantWrites: 1},
		{name: "pause again", do: func() error { return d.Pause(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhasePaused, URL: url}},
		{name: "resume", do: func() error { return d.Resume(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhaseReady, URL: url}, wantWrites: 1},
		{name: "resume again", do: func() error { return d.Resume(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhaseReady, URL: url}},
		{name: "stop", do: func() error { return d.Delete(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhaseMissing}, wantWrites: 1},
		{name: "stop again", do: func() error { return d.Delete(ctx, cell, service) },
			want: deploy.Status{Phase: deploy.PhaseMissing}, wantWrites: 1},
		{name: "recreate (resume of an archived runtime)", do: func() error { _, err := d.Deploy(ctx, newSpec(deploy.ModeIAP)); return err },
			want: deploy.Status{Phase: deploy.PhaseDeploying, URL: url}, wantWrites: 2},
	}
	for _, st := range steps {
		before := writes()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		n := writes() - before
		got, err := d.Status(ctx, cell, service)
		if err != nil {
			t.Fatalf("%s: Status: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: Status (-want +got):\n%s", st.name, diff)
		}
		if n != st.wantWrites {
			t.Errorf("%s: %d admin write calls, want %d", st.name, n, st.wantWrites)
		}
		t.Logf("admin write calls: %-40s %d", st.name, n)
	}
	if got := fr.Service(svcName).GetScaling(); got.GetScalingMode() != runpb.ServiceScaling_AUTOMATIC {
		t.Errorf("recreated service scaling %v, want automatic", got)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*deploytest.FakeCloudRun)
		gets  int // extra Status calls before the one checked
		want  deploy.Status
	}{
		{name: "rollout under way", want: deploy.Status{Phase: deploy.PhaseDeploying}},
		{name: "failed rollout", setup: func(f *deploytest.FakeCloudRun) {
			f.SetFailed(svcName, "Revision 'rt-r4nd0m1d-00001-fak' is not ready: the user-provided container failed to start.")
		}, want: deploy.Status{Phase: deploy.PhaseFailed, Reason: "Revision 'rt-r4nd0m1d-00001-fak' is not ready: the user-provided container failed to start."}},
		{name: "slow rollout not done", setup: func(f *deploytest.FakeCloudRun) { f.ReadyAfterGets(3) }, gets: 1,
			want: deploy.Status{Phase: deploy.PhaseDeploying}},
		{name: "slow rollout done", setup: func(f *deploytest.FakeCloudRun) { f.ReadyAfterGets(3) }, gets: 2,
			want: deploy.Status{Phase: deploy.PhaseReady}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fr, _ := newDeployer(t, baseConfig())
			if _, err := d.Deploy(t.Context(), newSpec(deploy.ModeToken)); err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			if tt.setup != nil {
				tt.setup(fr)
			}
			for range tt.gets {
				if _, err := d.Status(t.Context(), cell, service); err != nil {
					t.Fatalf("Status: %v", err)
				}
			}
			got, err := d.Status(t.Context(), cell, service)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			tt.want.URL = "https://" + service + "-fake-us-central1.a.run.app"
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPauseResumeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		deploy bool
		inject func(*deploytest.FakeCloudRun)
		op     func(context.Context, *cloudrun.Deployer) error
		want   error
	}{
		{name: "pause missing", op: func(ctx context.Context, d *cloudrun.Deployer) error { return d.Pause(ctx, cell, service) }, want: deploy.ErrNotFound},
		{name: "resume missing", op: func(ctx context.Context, d *cloudrun.Deployer) error { return d.Resume(ctx, cell, service) }, want: deploy.ErrNotFound},
		{name: "delete missing", op: func(ctx context.Context, d *cloudrun.Deployer) error { return d.Delete(ctx, cell, service) }},
		{name: "pause bad service", op: func(ctx context.Context, d *cloudrun.Deployer) error { return d.Pause(ctx, cell, "Bad_Name") }, want: deploy.ErrInvalid},
		{name: "pause etag conflict retried", deploy: true,
			inject: func(f *deploytest.FakeCloudRun) { f.FailNext("UpdateService", codes.Aborted, 1) },
			op:     func(ctx context.Context, d *cloudrun.Deployer) error { return d.Pause(ctx, cell, service) }},
		{name: "pause permission", deploy: true,
			inject: func(f *deploytest.FakeCloudRun) { f.FailNext("UpdateService", codes.PermissionDenied, 1) },
			op:     func(ctx context.Context, d *cloudrun.Deployer) error { return d.Pause(ctx, cell, service) }, want: deploy.ErrPermission},
		{name: "delete unavailable", deploy: true,
			inject: func(f *deploytest.FakeCloudRun) { f.FailNext("DeleteService", codes.Unavailable, 1) },
			op:     func(ctx context.Context, d *cloudrun.Deployer) error { return d.Delete(ctx, cell, service) }, want: deploy.ErrUnavailable},
		{name: "status quota", deploy: true,
			inject: func(f *deploytest.FakeCloudRun) { f.FailNext("GetService", codes.ResourceExhausted, 1) },
			op: func(ctx context.Context, d *cloudrun.Deployer) error {
				_, err := d.Status(ctx, cell, service)
				return err
			}, want: deploy.ErrQuota},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, fr, _ := newDeployer(t, baseConfig())
			if tt.deploy {
				if _, err := d.Deploy(t.Context(), newSpec(deploy.ModeIAP)); err != nil {
					t.Fatalf("Deploy: %v", err)
				}
			}
			if tt.inject != nil {
				tt.inject(fr)
			}
			err := tt.op(t.Context(), d)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     cloudrun.Config
		wantErr string
	}{
		{name: "defaults", cfg: cloudrun.Config{}},
		{name: "full", cfg: cloudrun.Config{ProjectNumbers: map[string]string{"p": "1"}, WorkspaceBucket: "ws-bucket", WorkspacePath: "/home/ws", IngressCPU: "2", IngressMemory: "1Gi"}},
		{name: "everything wrong", cfg: cloudrun.Config{ProjectNumbers: map[string]string{"p": "x"}, WorkspaceBucket: "B", WorkspacePath: "rel", IngressCPU: "0.5", IngressMemory: "1G", CallTimeout: -1},
			wantErr: "project number|ingress cpu|ingress memory|workspace bucket|workspace path|call timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: nil error")
			}
			for _, part := range strings.Split(tt.wantErr, "|") {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q lacks %q", err, part)
				}
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	got := []string{
		cloudrun.ServiceResource(cell, service),
		cloudrun.IAPResource(number, region, service),
		cloudrun.IAPAudience(number, region, service),
		cloudrun.IAPServiceAgent(number),
	}
	want := []string{svcName, iapRes, "/projects/" + number + "/locations/" + region + "/services/" + service, iapAgent}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

// BenchmarkDeploy creates (a new runtime each time, in IAP mode), pauses, resumes and stops a
// runtime per iteration against the fakes, and reports the admin write calls of a create as
// writes/op and of the other operations as pause-, resume- and stop-writes/op.
func BenchmarkDeploy(b *testing.B) {
	d, fr, fi := newDeployer(b, baseConfig())
	ctx := context.Background()
	writes := func() int { return fr.WriteCalls() + fi.WriteCalls() }
	var create, pause, resume, stop, i int
	for b.Loop() {
		i++
		s := newSpec(deploy.ModeIAP)
		s.RuntimeID = fmt.Sprintf("b%07d", i)
		s.Service = "rt-" + s.RuntimeID
		n := writes()
		if _, err := d.Deploy(ctx, s); err != nil {
			b.Fatal(err)
		}
		create += writes() - n
		n = writes()
		if err := d.Pause(ctx, cell, s.Service); err != nil {
			b.Fatal(err)
		}
		pause += writes() - n
		n = writes()
		if err := d.Resume(ctx, cell, s.Service); err != nil {
			b.Fatal(err)
		}
		resume += writes() - n
		n = writes()
		if err := d.Delete(ctx, cell, s.Service); err != nil {
			b.Fatal(err)
		}
		stop += writes() - n
	}
	b.ReportMetric(float64(create)/float64(i), "writes/op")
	b.ReportMetric(float64(pause)/float64(i), "pause-writes/op")
	b.ReportMetric(float64(resume)/float64(i), "resume-writes/op")
	b.ReportMetric(float64(stop)/float64(i), "stop-writes/op")
}

// TestDeployGatewayMode: in domain mode a runtime service, whatever its own mode, has no IAP and
// no public access; its only invoker is the gateway's service account, and the sidecar runs in
// gateway mode.
func TestDeployGatewayMode(t *testing.T) {
	t.Parallel()
	const gatewaySA = "gateway@runyard-cell-1.iam.gserviceaccount.com"
	for _, mode := range []deploy.Mode{deploy.ModeIAP, deploy.ModeToken} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig()
			cfg.GatewayInvoker = gatewaySA
			d, fr, fi := newDeployer(t, cfg)
			if _, err := d.Deploy(t.Context(), newSpec(mode)); err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			got := fr.Service(svcName)
			if got.GetIapEnabled() || got.GetInvokerIamDisabled() {
				t.Errorf("IapEnabled=%v InvokerIamDisabled=%v, want neither", got.GetIapEnabled(), got.GetInvokerIamDisabled())
			}
			want := []string{"roles/run.invoker serviceAccount:" + gatewaySA}
			if diff := cmp.Diff(want, deploytest.Bindings(fr.Policy(svcName))); diff != "" {
				t.Errorf("service policy (-want +got):\n%s", diff)
			}
			if n := fi.Calls("GetIamPolicy") + fi.WriteCalls(); n != 0 {
				t.Errorf("%d IAP calls in domain mode", n)
			}
			var sidecarMode string
			for _, e := range got.GetTemplate().GetContainers()[0].GetEnv() {
				if e.GetName() == "RUNYARD_MODE" {
					sidecarMode = e.GetValue()
				}
				if e.GetName() == "IAP_AUDIENCE" {
					t.Errorf("sidecar has IAP_AUDIENCE in domain mode")
				}
			}
			if sidecarMode != cloudrun.GatewayMode {
				t.Errorf("sidecar RUNYARD_MODE = %q, want %q", sidecarMode, cloudrun.GatewayMode)
			}
			// A second deploy changes no policy.
			writes := fr.WriteCalls()
			if _, err := d.Deploy(t.Context(), newSpec(mode)); err != nil {
				t.Fatal(err)
			}
			if fr.Calls("SetIamPolicy") != 1 {
				t.Errorf("SetIamPolicy calls = %d after two deploys, want 1 (writes %d → %d)", fr.Calls("SetIamPolicy"), writes, fr.WriteCalls())
			}
		})
	}
	bad := baseConfig()
	bad.GatewayInvoker = "allUsers"
	if err := bad.Validate(); err == nil {
		t.Error("GatewayInvoker allUsers validated")
	}
}
