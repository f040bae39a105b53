// Package runtime is the domain of runtimes (sandboxes): their states and the legal moves
// between them, the runtime record, per-tenant quotas, and placement of runtime services in
// cells. Every state change is a store transaction that checks the current state, so an
// illegal move is an error, never a silent overwrite, and capacity (the tenant's quota, the
// cell's slots) is taken and given back in the same transaction as the move.
package runtime

import (
	"errors"
	"time"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
)

// State is a runtime's lifecycle state (ARCHITECTURE.md §5).
type State string

// States.
const (
	StatePending   State = "pending"
	StateBuilding  State = "building"
	StateDeploying State = "deploying"
	StateRunning   State = "running"
	StatePaused    State = "paused"
	StateStopped   State = "stopped" // archived: service deleted, workspace and image kept
	StateDeleted   State = "deleted"
	StateFailed    State = "failed"
)

// transitions lists the legal moves.
var transitions = map[State][]State{
	StatePending:   {StateBuilding, StateDeploying, StateFailed, StateStopped, StateDeleted},
	StateBuilding:  {StateDeploying, StateFailed, StateStopped, StateDeleted},
	StateDeploying: {StateRunning, StateFailed, StateStopped, StateDeleted},
	StateRunning:   {StatePaused, StateStopped, StateFailed, StateDeleted},
	StatePaused:    {StateDeploying, StateRunning, StateStopped, StateDeleted},
	StateStopped:   {StateDeploying, StateDeleted},
	StateFailed:    {StateDeploying, StateStopped, StateDeleted},
	StateDeleted:   nil,
}

// CanTransition reports whether a runtime may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { _, ok := transitions[s]; return ok }

// HasService reports whether a runtime in state s may have a service (and holds a cell slot
// and the tenant's quota): from deploying until it stops, is deleted or fails.
func (s State) HasService() bool {
	return s == StateDeploying || s == StateRunning || s == StatePaused
}

// Active reports whether a runtime in state s counts against the tenant's concurrent quota.
func (s State) Active() bool {
	return s == StatePending || s == StateBuilding || s.HasService()
}

// Errors.
var (
	ErrIllegalTransition = errors.New("runtime: illegal state transition")
	ErrNotFound          = errors.New("runtime: not found")
	ErrQuota             = errors.New("runtime: quota exceeded")
	ErrCapacity          = errors.New("runtime: capacity exhausted")
	ErrInvalid           = errors.New("runtime: invalid argument")
)

// Runtime is the record tenants/{t}/runtimes/{id}.
type Runtime struct {
	ID        string `firestore:"id" json:"id"`
	Tenant    string `firestore:"tenant" json:"tenant"`
	SessionID string `firestore:"session_id,omitempty" json:"session_id,omitempty"`
	State     State  `firestore:"state" json:"state"`
	// Reason explains StateFailed.
	Reason string       `firestore:"reason,omitempty" json:"reason,omitempty"`
	Source build.Source `firestore:"source" json:"source"`
	// BuildID is the build producing the image, while building.
	BuildID        string      `firestore:"build_id,omitempty" json:"build_id,omitempty"`
	Image          string      `firestore:"image,omitempty" json:"image,omitempty"`
	StartCmd       string      `firestore:"start_cmd,omitempty" json:"start_cmd,omitempty"`
	Ports          []int       `firestore:"ports" json:"ports"`
	Cell           string      `firestore:"cell,omitempty" json:"cell,omitempty"`
	Service        string      `firestore:"service" json:"service"`
	ResourceFactor int         `firestore:"resource_factor" json:"resource_factor"`
	VCPU           int         `firestore:"vcpu" json:"vcpu"`
	Mode           deploy.Mode `firestore:"mode" json:"mode"`
	// Env, Secrets (by reference, never values) and Members are what the service gets.
	Env     map[string]string  `firestore:"env" json:"env,omitempty"`
	Secrets []deploy.SecretRef `firestore:"secrets" json:"secrets,omitempty"`
	Members []string           `firestore:"members" json:"-"`
	// IngressEnv is extra settings for the runtime's ingress sidecar (PREVIEW_POLICY, …).
	IngressEnv map[string]string `firestore:"ingress_env" json:"-"`
	// SessionAPIKey authenticates the runtime's own callers: OpenHands on the agent port and the
	// ingress reporting activity. Never listed as a field.
	SessionAPIKey string `firestore:"session_api_key" json:"-"`
	// VSCodeToken is VS Code's connection token; it appears only in the VS Code URL.
	VSCodeToken string `firestore:"vscode_token" json:"-"`
	URL         string `firestore:"url,omitempty" json:"url,omitempty"`
	// LastActivityAt is the last request through the ingress or API call about the runtime
	// (recorded at most once a minute); the sweeper pauses runtimes idle for too long.
	LastActivityAt time.Time `firestore:"last_activity_at" json:"last_activity_at"`
	CreatedBy      string    `firestore:"created_by" json:"created_by"`
	CreatedAt      time.Time `firestore:"created_at" json:"created_at"`
	UpdatedAt      time.Time `firestore:"updated_at" json:"updated_at"`
	// Generation counts state changes; it grows by one with each.
	Generation int64 `firestore:"generation" json:"generation"`
}

// Quotas are a tenant's runtime limits.
type Quotas struct {
	MaxRuntimes      int `firestore:"max_runtimes" json:"max_runtimes"`
	MaxVCPU          int `firestore:"max_vcpu" json:"max_vcpu"`
	CreatesPerMinute int `firestore:"creates_per_minute" json:"creates_per_minute"`
}

// Lifecycle is a tenant's idle and retention policy for its runtimes.
type Lifecycle struct {
	// IdleTimeout pauses a running runtime without activity for this long.
	IdleTimeout time.Duration `firestore:"idle_timeout" json:"idle_timeout"`
	// ArchiveAfter stops (archives) a runtime paused for this long.
	ArchiveAfter time.Duration `firestore:"archive_after" json:"archive_after"`
	// Retention deletes a runtime archived for this long; 0 keeps archived runtimes.
	Retention time.Duration `firestore:"retention" json:"retention"`
}

// DefaultLifecycle applies to tenants that set none.
var DefaultLifecycle = Lifecycle{IdleTimeout: 20 * time.Minute, ArchiveAfter: 7 * 24 * time.Hour}

// DefaultQuotas apply to tenants that set none.
var DefaultQuotas = Quotas{MaxRuntimes: 10, MaxVCPU: 32, CreatesPerMinute: 30}

// Usage is the tenant's runtime capacity in use: tenants/{t}/runtimequota/usage.
type Usage struct {
	Quotas       Quotas    `firestore:"quotas" json:"quotas"`
	Lifecycle    Lifecycle `firestore:"lifecycle" json:"lifecycle"`
	Active       int       `firestore:"active" json:"active"`
	VCPU         int       `firestore:"vcpu" json:"vcpu"`
	WindowStart  time.Time `firestore:"window_start" json:"window_start"`
	WindowCreate int       `firestore:"window_creates" json:"window_creates"`
}

// QuotaError says which quota a create would exceed, its limit and the current use.
type QuotaError struct {
	Quota string // "runtimes", "vcpu", "creates_per_minute"
	Limit int
	Used  int
}

func (e *QuotaError) Error() string {
	return "runtime: quota exceeded: " + e.Quota
}

// Unwrap makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Unwrap() error { return ErrQuota }

// CellUsage is the document cells/{name}: how many services the cell holds.
type CellUsage struct {
	Name  string `firestore:"name" json:"name"`
	InUse int    `firestore:"in_use" json:"in_use"`
}
