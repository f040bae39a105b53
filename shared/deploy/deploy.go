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

// Sizes maps OpenHands' resource_factor to a runtime's size.
var Sizes = map[int]Size{
	1: {CPU: "1", Memory: "2Gi", VCPU: 1, GiB: 2},
	2: {CPU: "2", Memory: "4Gi", VCPU: 2, GiB: 4},
	4: {CPU: "4", Memory: "8Gi", VCPU: 4, GiB: 8},
	8: {CPU: "8", Memory: "16Gi", VCPU: 8, GiB: 16},
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
	Env   map[string]string
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
