package cloudrun

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/secrets"
)

// Names and values of the service shape (README.md, "The service shape").
const (
	// IngressContainer is the ingress sidecar, the only container that declares a port.
	IngressContainer = "ingress"
	// RuntimeContainer runs the runtime image; it starts after the sidecar is up.
	RuntimeContainer = "runtime"
	// WorkspaceVolume is the name of the Cloud Storage volume (Config.WorkspaceBucket).
	WorkspaceVolume = "workspace"

	// ManagedBy is the value of the managed-by label on every service this package makes.
	ManagedBy = "runyard"
	// Label keys every service carries (they win over Spec.Labels).
	LabelTenant    = "tenant"
	LabelRuntime   = "runtime"
	LabelManagedBy = "managed-by"

	// RequestTimeout is the request timeout: WebSockets live as long as a request.
	RequestTimeout = time.Hour
	// MaxInstances: one instance per runtime (its state lives in that instance).
	MaxInstances = 1

	// GatewayMode is the ingress sidecar's RUNYARD_MODE in domain mode (Config.GatewayInvoker).
	GatewayMode = "gateway"

	// Roles this package grants.
	InvokerRole     = "roles/run.invoker"
	IAPAccessorRole = "roles/iap.httpsResourceAccessor"
)

var (
	serviceIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	regionRE    = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	projectRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[1-9][0-9]{0,19}$`)
	saRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*@[a-z0-9.-]+$`)
	memberRE    = regexp.MustCompile(`^(user|group|domain|serviceAccount|principal|principalSet):\S+$`)
	labelKRE    = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelVRE    = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	sizeCPURE   = regexp.MustCompile(`^[1-8]$`)
	sizeMemRE   = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi)$`)

	// reservedEnv are names Cloud Run sets itself or this package sets on the runtime container.
	reservedEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true,
		"RUNTIME_ID": true, "RUNTIME_URL": true, "VSCODE_PORT": true, "WORKER_1": true, "WORKER_2": true}
)

// Parent is the Cloud Run location of cell: projects/P/locations/R.
func Parent(cell deploy.Cell) string {
	return "projects/" + cell.Project + "/locations/" + cell.Region
}

// ServiceResource is the full name of a service: projects/P/locations/R/services/S.
func ServiceResource(cell deploy.Cell, service string) string {
	return Parent(cell) + "/services/" + service
}

// IAPResource is the IAP resource of a service with IAP enabled, on which
// roles/iap.httpsResourceAccessor is granted: projects/NUMBER/iap_web/cloud_run-R/services/S.
func IAPResource(projectNumber, region, service string) string {
	return "projects/" + projectNumber + "/iap_web/cloud_run-" + region + "/services/" + service
}

// IAPAudience is the aud of the IAP JWTs a service with IAP enabled receives:
// /projects/NUMBER/locations/R/services/S.
func IAPAudience(projectNumber, region, service string) string {
	return "/projects/" + projectNumber + "/locations/" + region + "/services/" + service
}

// IAPServiceAgent is the member IAP calls Cloud Run as; it needs roles/run.invoker.
func IAPServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@gcp-sa-iap.iam.gserviceaccount.com"
}

// invalid wraps deploy.ErrInvalid with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("cloudrun: %w: %s", deploy.ErrInvalid, fmt.Sprintf(format, args...))
}

// checkSpec validates what BuildService relies on.
func checkSpec(s deploy.Spec) error {
	want, err := deploy.ServiceName(s.RuntimeID)
	if err != nil {
		return fmt.Errorf("cloudrun: %w", err)
	}
	switch {
	case s.Service != want:
		return invalid("service %q is not %q, the service name of runtime %q", s.Service, want, s.RuntimeID)
	case !ids.ValidTenant(s.Tenant):
		return invalid("tenant %q is not a tenant id", s.Tenant)
	case !projectRE.MatchString(s.Cell.Project):
		return invalid("cell %q: project %q is not a project id", s.Cell.Name, s.Cell.Project)
	case !regionRE.MatchString(s.Cell.Region):
		return invalid("cell %q: region %q is not a region", s.Cell.Name, s.Cell.Region)
	case s.Image == "" || strings.ContainsAny(s.Image, " \t\n"):
		return fmt.Errorf("cloudrun: %w: runtime image %q", deploy.ErrInvalidImage, s.Image)
	case s.IngressImage == "" || strings.ContainsAny(s.IngressImage, " \t\n"):
		return fmt.Errorf("cloudrun: %w: ingress image %q", deploy.ErrInvalidImage, s.IngressImage)
	case !sizeCPURE.MatchString(s.Size.CPU) || !sizeMemRE.MatchString(s.Size.Memory):
		return invalid("size %q/%q is not a whole number of CPUs and a memory like 4Gi", s.Size.CPU, s.Size.Memory)
	case !saRE.MatchString(s.ServiceAccount):
		return invalid("service account %q is not an email", s.ServiceAccount)
	case s.Mode != deploy.ModeIAP && s.Mode != deploy.ModeToken:
		return invalid("mode %q is neither %q nor %q", s.Mode, deploy.ModeIAP, deploy.ModeToken)
	}
	for _, p := range s.Ports {
		if p <= 0 || p > 65535 || p == deploy.PortIngress {
			return invalid("port %d is not an app port", p)
		}
	}
	for _, m := range s.Members {
		if !memberRE.MatchString(m) {
			return invalid("member %q is not kind:id (user:, group:, domain:, serviceAccount:…)", m)
		}
	}
	for k, v := range s.Labels {
		if !labelKRE.MatchString(k) || !labelVRE.MatchString(v) {
			return invalid("label %q=%q breaks Cloud Run's label rules", k, v)
		}
	}
	envs := map[string]bool{}
	for name := range s.Env {
		if !envNameRE.MatchString(name) || reservedEnv[name] {
			return invalid("env %q is not a valid or free variable name", name)
		}
		envs[name] = true
	}
	for _, r := range s.Secrets {
		env := cmp.Or(r.Env, r.Name)
		if !envNameRE.MatchString(env) || reservedEnv[env] || envs[env] {
			return invalid("secret env %q is not a valid, free or unique variable name", env)
		}
		envs[env] = true
		if r.Tenant != "" && r.Tenant != s.Tenant {
			return invalid("secret %s belongs to tenant %q, not %q", r.Name, r.Tenant, s.Tenant)
		}
		if _, err := secrets.Check(s.Tenant, r.Name); err != nil {
			return invalid("secret %q: %v", r.Name, err)
		}
		if _, err := secrets.CheckVersion(r.Version); err != nil {
			return invalid("secret %q: %v", r.Name, err)
		}
	}
	return nil
}

// BuildService returns the Cloud Run service that runs spec (README.md, "The service shape"),
// or ErrInvalid / ErrInvalidImage for a spec it cannot run. It makes no call.
func (d *Deployer) BuildService(spec deploy.Spec) (*runpb.Service, error) {
	if d.cfgErr != nil {
		return nil, fmt.Errorf("cloudrun: %w: %w", deploy.ErrInvalid, d.cfgErr)
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	cfg := d.cfg
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelTenant], labels[LabelRuntime], labels[LabelManagedBy] = spec.Tenant, spec.RuntimeID, ManagedBy

	sidecarEnv := []*runpb.EnvVar{
		envValue("RUNYARD_MODE", string(spec.Mode)),
		envValue("RUNTIME_ID", spec.RuntimeID),
		envValue("AGENT_PORT", strconv.Itoa(deploy.PortAgent)),
		envValue("VSCODE_PORT", strconv.Itoa(deploy.PortVSCode)),
		envValue("WORKER_1", strconv.Itoa(deploy.PortWorker1)),
		envValue("WORKER_2", strconv.Itoa(deploy.PortWorker2)),
	}
	if len(spec.Ports) > 0 {
		ports := make([]string, len(spec.Ports))
		for i, p := range slices.Sorted(slices.Values(spec.Ports)) {
			ports[i] = strconv.Itoa(p)
		}
		sidecarEnv = append(sidecarEnv, envValue("APP_PORTS", strings.Join(ports, ",")))
	}

	svc := &runpb.Service{
		Name:    ServiceResource(spec.Cell, spec.Service),
		Labels:  labels,
		Ingress: runpb.IngressTraffic_INGRESS_TRAFFIC_ALL,
		Scaling: autoScaling(),
	}
	if cfg.GatewayInvoker != "" {
		// Domain mode: the gateway authorizes by the runtime's mode and is the only invoker
		// (Deploy grants it run.invoker); no IAP, no public access.
		sidecarEnv[0] = envValue("RUNYARD_MODE", GatewayMode)
	} else if spec.Mode == deploy.ModeIAP {
		n, err := cfg.projectNumber(spec.Cell.Project)
		if err != nil {
			return nil, fmt.Errorf("cloudrun: %w", err)
		}
		svc.IapEnabled = true
		svc.LaunchStage = api.LaunchStage_BETA
		sidecarEnv = append(sidecarEnv, envValue("IAP_AUDIENCE", IAPAudience(n, spec.Cell.Region, spec.Service)))
	} else {
		// Token mode: the OpenHands app server calls with only the session key, which cannot
		// pass Cloud Run's IAM check; the sidecar guards the ports instead.
		svc.InvokerIamDisabled = true
	}

	runtimeEnv := make([]*runpb.EnvVar, 0, len(spec.Env)+len(spec.Secrets)+4)
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		runtimeEnv = append(runtimeEnv, envValue(k, spec.Env[k]))
	}
	if spec.PublicURL != "" {
		// Domain mode: the gateway's host, what OpenHands derives vscode-/work-N- hosts from.
		runtimeEnv = append(runtimeEnv, envValue("RUNTIME_URL", spec.PublicURL))
	} else if n, err := cfg.projectNumber(spec.Cell.Project); err == nil {
		// Cloud Run's deterministic URL, known before the service exists.
		runtimeEnv = append(runtimeEnv, envValue("RUNTIME_URL", DeterministicURL(spec.Service, n, spec.Cell.Region)))
	}
	runtimeEnv = append(runtimeEnv,
		envValue("RUNTIME_ID", spec.RuntimeID),
		envValue("VSCODE_PORT", strconv.Itoa(deploy.PortVSCode)),
		envValue("WORKER_1", strconv.Itoa(deploy.PortWorker1)),
		envValue("WORKER_2", strconv.Itoa(deploy.PortWorker2)),
	)
	refs := slices.Clone(spec.Secrets)
	slices.SortFunc(refs, func(a, b deploy.SecretRef) int { return strings.Compare(cmp.Or(a.Env, a.Name), cmp.Or(b.Env, b.Name)) })
	for _, r := range refs {
		id, _ := secrets.Check(spec.Tenant, r.Name)
		v, _ := secrets.CheckVersion(r.Version)
		runtimeEnv = append(runtimeEnv, &runpb.EnvVar{Name: cmp.Or(r.Env, r.Name), Values: &runpb.EnvVar_ValueSource{
			ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{
				Secret: "projects/" + spec.Cell.Project + "/secrets/" + id, Version: v}},
		}})
	}
	// The sidecar checks the session key in token mode: give it the same value or reference.
	for _, e := range runtimeEnv {
		if e.GetName() == "SESSION_API_KEY" {
			sidecarEnv = append(sidecarEnv, e)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.IngressEnv)) {
		sidecarEnv = append(sidecarEnv, &runpb.EnvVar{Name: k, Values: &runpb.EnvVar_Value{Value: spec.IngressEnv[k]}})
	}

	sidecar := &runpb.Container{
		Name:  IngressContainer,
		Image: spec.IngressImage,
		Env:   sidecarEnv,
		Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: deploy.PortIngress}},
		Resources: &runpb.ResourceRequirements{
			Limits:  map[string]string{"cpu": cfg.IngressCPU, "memory": cfg.IngressMemory},
			CpuIdle: true,
		},
		StartupProbe: &runpb.Probe{
			PeriodSeconds:    1,
			TimeoutSeconds:   1,
			FailureThreshold: 30,
			ProbeType:        &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: deploy.PortIngress}},
		},
	}
	runtime := &runpb.Container{
		Name:  RuntimeContainer,
		Image: spec.Image,
		Env:   runtimeEnv,
		Resources: &runpb.ResourceRequirements{
			Limits: map[string]string{"cpu": spec.Size.CPU, "memory": spec.Size.Memory},
			// Explicit: setting Resources flips Cloud Run's default to always-allocated CPU.
			CpuIdle:         true,
			StartupCpuBoost: true,
		},
		DependsOn: []string{IngressContainer},
	}
	tmpl := &runpb.RevisionTemplate{
		Labels:               maps.Clone(labels),
		Scaling:              &runpb.RevisionScaling{MinInstanceCount: 0, MaxInstanceCount: MaxInstances},
		Timeout:              durationpb.New(RequestTimeout),
		ServiceAccount:       spec.ServiceAccount,
		ExecutionEnvironment: runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2,
		SessionAffinity:      true,
		Containers:           []*runpb.Container{sidecar, runtime},
	}
	// A tenant's own bucket holds one prefix per runtime; the shared configured bucket one per
	// tenant and runtime.
	bucket, dir := spec.WorkspaceBucket, spec.RuntimeID
	if bucket == "" {
		bucket, dir = cfg.WorkspaceBucket, spec.Tenant+"/"+spec.RuntimeID
	}
	if bucket != "" {
		tmpl.Volumes = []*runpb.Volume{{Name: WorkspaceVolume, VolumeType: &runpb.Volume_Gcs{Gcs: &runpb.GCSVolumeSource{
			Bucket:       bucket,
			MountOptions: []string{"only-dir=" + dir},
		}}}}
		runtime.VolumeMounts = []*runpb.VolumeMount{{Name: WorkspaceVolume, MountPath: cfg.WorkspacePath}}
	}
	svc.Template = tmpl
	return svc, nil
}

// autoScaling is the service-level scaling of a running runtime: automatic, at most one
// instance. Resume restores it.
func autoScaling() *runpb.ServiceScaling {
	return &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_AUTOMATIC, MinInstanceCount: 0, MaxInstanceCount: MaxInstances}
}

// pausedScaling is the service-level scaling of a paused runtime: manual, zero instances. It
// needs no new revision (service-level settings do not create one).
func pausedScaling() *runpb.ServiceScaling {
	zero := int32(0)
	return &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL, ManualInstanceCount: &zero}
}

// isPaused reports whether s has the paused scaling.
func isPaused(s *runpb.Service) bool {
	sc := s.GetScaling()
	return sc.GetScalingMode() == runpb.ServiceScaling_MANUAL && sc.GetManualInstanceCount() == 0
}

func envValue(name, value string) *runpb.EnvVar {
	return &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: value}}
}

// DeterministicURL is a Cloud Run service's deterministic URL:
// https://SERVICE-PROJECT_NUMBER.REGION.run.app.
func DeterministicURL(service, projectNumber, region string) string {
	return "https://" + service + "-" + projectNumber + "." + region + ".run.app"
}
