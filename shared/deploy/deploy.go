// Package deploy is the port to where runtimes run: one service per runtime (Cloud Run in the
// cloud, local processes under runyard dev). A Deployer creates, inspects, pauses, resumes and
// deletes a runtime's service; it never waits for a rollout to finish — callers poll Status.
//
// It imports no cloud SDK: shared/deploy/cloudrun maps Spec to a Cloud Run service, and
// shared/deploy/local runs the start command of a locally built image.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Cell is a (project, region) capacity slot that hosts runtime services.
type Cell struct {
	Name    string `firestore:"name" json:"name"`
	Project string `firestore:"project" json:"project"`
	Region  string `firestore:"region" json:"region"`
	// Limit is how many runtime services the cell may hold.
	Limit int `firestore:"limit" json:"limit"`
}

// Mode says who may reach a runtime's URLs.
type Mode string

// Modes (ARCHITECTURE.md §6).
const (
	// ModeIAP: the service has IAP enabled; the tenant's members are IAP-authorized users.
	ModeIAP Mode = "iap"
	// ModeToken: the session key guards the agent port (OpenHands server-to-server calls).
	ModeToken Mode = "token"
)

// Well-known ports inside a runtime.
const (
	PortAgent   = 60000
	PortVSCode  = 60001
	PortWorker1 = 12000
	PortWorker2 = 12001
	// PortIngress is the only port a Cloud Run service exposes (the ingress sidecar).
	PortIngress = 8080
)

// Size is the CPU and memory of a resource factor.
type Size struct {
	CPU    string // Cloud Run CPU limit, e.g. "2"
	Memory string // Cloud Run memory limit, e.g. "4Gi"
	VCPU   int
	GiB    int
}

// Sizes maps OpenHands' resource_factor to a runtime's size. Cloud Run allows 8 vCPU per
// instance across its containers and the ingress sidecar takes 1, so factor 8 gets 6.
var Sizes = map[int]Size{
	1: {CPU: "1", Memory: "2Gi", VCPU: 1, GiB: 2},
	2: {CPU: "2", Memory: "4Gi", VCPU: 2, GiB: 4},
	4: {CPU: "4", Memory: "8Gi", VCPU: 4, GiB: 8},
	8: {CPU: "6", Memory: "16Gi", VCPU: 6, GiB: 16},
}

// SecretRef is an environment variable whose value comes from a secret version (Cloud Run
// resolves it at instance start; the local driver reads the value itself).
type SecretRef struct {
	Env     string
	Tenant  string
	Name    string // the tenant secret's name
	Version string // a number or "latest"
}

// Spec is everything a Deployer needs to run one runtime.
type Spec struct {
	Tenant    string
	RuntimeID string
	// Service is the service id (ServiceName(RuntimeID)).
	Service string
	Cell    Cell
	// Image is the runtime image (registry path with digest in the cloud; file://dir locally).
	Image string
	// IngressImage is the ingress sidecar image (cloud only).
	IngressImage string
	// StartCmd is the command that starts the app (local driver; images have their own
	// entrypoint in the cloud).
	StartCmd string
	// Ports the runtime serves besides the agent and VS Code ports (app previews).
	Ports []int
	// Env is the app's environment; every Deployer also sets RUNTIME_ID and RUNTIME_URL (and
	// PORT where the platform does not), so Env must not.
	Env map[string]string
	// PublicURL is the runtime's public agent URL in domain mode (https://{runtime}.{domain});
	// Deployers give it as RUNTIME_URL instead of their own service URL. Empty: direct mode.
	PublicURL string
	// WorkspaceBucket is the tenant's workspace bucket; the runtime mounts its own prefix of it
	// at /workspace (cloud). Empty: the deployer's configured bucket, if any.
	WorkspaceBucket string
	// IngressEnv is given to the ingress sidecar only (ACTIVITY_URL).
	IngressEnv map[string]string
	// Secrets are injected as environment variables by reference.
	Secrets []SecretRef
	Size    Size
	// ServiceAccount is the identity the runtime runs as (cloud).
	ServiceAccount string
	Mode           Mode
	// Members are the IAP-authorized principals in ModeIAP, e.g. "user:a@example.com".
	Members []string
	Labels  map[string]string
}

// Phase is what a Deployer reports about a service.
type Phase string

// Phases.
const (
	PhaseDeploying Phase = "deploying"
	PhaseReady     Phase = "ready"
	PhasePaused    Phase = "paused"
	PhaseFailed    Phase = "failed"
	PhaseMissing   Phase = "missing"
)

// Status is a service's observed state.
type Status struct {
	Phase Phase
	// URL is the service's base URL (https://…run.app in the cloud, http://127.0.0.1:PORT locally).
	URL string
	// Reason explains PhaseFailed.
	Reason string
}

// Deployer runs runtime services. Implementations: shared/deploy/cloudrun, shared/deploy/local.
// Every method is idempotent: deploying a service that exists updates it; deleting a missing
// one succeeds.
type Deployer interface {
	Deploy(ctx context.Context, s Spec) (Status, error)
	Status(ctx context.Context, cell Cell, service string) (Status, error)
	// Pause scales the service to zero and keeps it.
	Pause(ctx context.Context, cell Cell, service string) error
	// Resume lets the paused service scale up again.
	Resume(ctx context.Context, cell Cell, service string) error
	// Delete removes the service (stop/archive); the runtime's workspace and image stay.
	Delete(ctx context.Context, cell Cell, service string) error
}

// Listed is a runtime service found in a cell.
type Listed struct {
	Service   string
	Tenant    string // from the service's labels
	RuntimeID string // from the service's labels
}

// Lister is implemented by Deployers that can list the runtime services Runyard made in a cell
// (the sweeper removes the ones no runtime record owns).
type Lister interface {
	List(ctx context.Context, cell Cell) ([]Listed, error)
}

// LogReader is implemented by Deployers that keep a runtime's output (the local driver).
type LogReader interface {
	Logs(service string) ([]byte, error)
}

// Errors Deployers return; the api maps them to stable codes.
var (
	ErrQuota        = errors.New("deploy: quota exceeded")
	ErrPermission   = errors.New("deploy: permission denied")
	ErrInvalidImage = errors.New("deploy: invalid or missing image")
	ErrInvalid      = errors.New("deploy: invalid request")
	ErrUnavailable  = errors.New("deploy: unavailable")
	ErrNotFound     = errors.New("deploy: service not found")
)

var serviceRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

// ServiceName is the service id of a runtime: "rt-" + runtime id, which must keep it under
// Cloud Run's 50-character limit of lowercase letters, digits and '-'.
func ServiceName(runtimeID string) (string, error) {
	s := "rt-" + runtimeID
	if len(s) >= 50 || !serviceRE.MatchString(s) {
		return "", fmt.Errorf("%w: runtime id %q does not make a valid service id", ErrInvalid, runtimeID)
	}
	return s, nil
}

// ParseCells reads cell entries "name:project:region:limit" (the RUNYARD_CELLS setting).
func ParseCells(entries []string) ([]Cell, error) {
	var cells []Cell
	var errs []error
	seen := map[string]bool{}
	for _, e := range entries {
		parts := strings.Split(strings.TrimSpace(e), ":")
		if len(parts) != 4 {
			errs = append(errs, fmt.Errorf("cell %q is not name:project:region:limit", e))
			continue
		}
		limit, err := strconv.Atoi(parts[3])
		if err != nil || limit < 1 || parts[0] == "" || parts[1] == "" || parts[2] == "" || seen[parts[0]] {
			errs = append(errs, fmt.Errorf("cell %q needs a unique name, a project, a region and a positive limit", e))
			continue
		}
		seen[parts[0]] = true
		cells = append(cells, Cell{Name: parts[0], Project: parts[1], Region: parts[2], Limit: limit})
	}
	return cells, errors.Join(errs...)
}

// ParseProjectNumbers reads "project=number" entries.
func ParseProjectNumbers(entries []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, e := range entries {
		p, n, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok || p == "" || n == "" || strings.Trim(n, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("project number %q is not project=number", e))
			continue
		}
		out[p] = n
	}
	return out, errors.Join(errs...)
}
