// Package tenancy is the domain of tenants, their members and roles, API keys and the audit
// log: the records stored under tenants/{tenant}, the permission table, and a Service that
// authorizes each operation, applies it in a store transaction and writes its audit event.
//
// A caller who is not a member of a tenant is told the tenant does not exist (ErrTenantNotFound),
// never that access is denied, so no request can confirm another tenant's existence through its
// resources.
package tenancy

import (
	"errors"
	"github.com/runyard/runyard/shared/ids"
	"regexp"
	"time"
)

// Collection names under tenants/{tenant}.
const (
	KindMembers = "members"
	KindAPIKeys = "apikeys"
	KindAudit   = "audit"
)

// Errors the edge maps to answers.
var (
	ErrTenantNotFound = errors.New("tenancy: tenant not found")
	ErrForbidden      = errors.New("tenancy: forbidden")
	ErrInvalid        = errors.New("tenancy: invalid argument")
	ErrInvalidID      = errors.New("tenancy: invalid id")
	ErrExists         = errors.New("tenancy: already exists")
	ErrNotFound       = errors.New("tenancy: not found")
	ErrLastOwner      = errors.New("tenancy: cannot remove the last owner")
	ErrQuota          = errors.New("tenancy: quota exceeded")
	// Authentication failures of API keys (token failures come from shared/auth).
	ErrKeyUnknown = errors.New("tenancy: unknown API key")
	ErrKeyRevoked = errors.New("tenancy: API key revoked")
)

// Role is a member's role in a tenant.
type Role string

// Roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// rank orders roles; an unknown role ranks below every real one.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is as strong as min.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.Valid() }

// Tenant is the document tenants/{id}.
type Tenant struct {
	ID        string    `firestore:"id" json:"id"`
	Name      string    `firestore:"name" json:"name"`
	Plan      string    `firestore:"plan" json:"plan"`
	Quotas    Quotas    `firestore:"quotas" json:"quotas"`
	Counts    Counts    `firestore:"counts" json:"counts"`
	CreatedAt time.Time `firestore:"created_at" json:"created_at"`
	CreatedBy string    `firestore:"created_by" json:"created_by"`
	UpdatedAt time.Time `firestore:"updated_at" json:"updated_at"`
	// DeletingAt is set when deletion of the tenant starts; a deleting tenant answers only to
	// the owner repeating the deletion.
	DeletingAt *time.Time `firestore:"deleting_at" json:"deleting_at,omitempty"`
}

// Quotas are a tenant's limits.
type Quotas struct {
	MaxMembers int `firestore:"max_members" json:"max_members"`
	MaxAPIKeys int `firestore:"max_api_keys" json:"max_api_keys"`
	MaxSecrets int `firestore:"max_secrets" json:"max_secrets"`
}

// DefaultQuotas apply to new tenants.
var DefaultQuotas = Quotas{MaxMembers: 50, MaxAPIKeys: 20, MaxSecrets: 100}

// Counts are maintained in the same transactions that add and remove what they count.
type Counts struct {
	Members int `firestore:"members" json:"members"`
	Owners  int `firestore:"owners" json:"owners"`
	APIKeys int `firestore:"api_keys" json:"api_keys"`
	Secrets int `firestore:"secrets" json:"secrets"`
}

// Member is the document tenants/{t}/members/{email}.
type Member struct {
	Email   string    `firestore:"email" json:"email"`
	Role    Role      `firestore:"role" json:"role"`
	AddedAt time.Time `firestore:"added_at" json:"added_at"`
	AddedBy string    `firestore:"added_by" json:"added_by"`
}

// APIKey is the document tenants/{t}/apikeys/{id}. The secret is stored only as its SHA-256.
type APIKey struct {
	ID         string     `firestore:"id" json:"id"`
	Name       string     `firestore:"name" json:"name"`
	Prefix     string     `firestore:"prefix" json:"prefix"`
	Hash       string     `firestore:"hash" json:"-"`
	Scopes     []string   `firestore:"scopes" json:"scopes"`
	CreatedAt  time.Time  `firestore:"created_at" json:"created_at"`
	CreatedBy  string     `firestore:"created_by" json:"created_by"`
	LastUsedAt *time.Time `firestore:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `firestore:"revoked_at" json:"revoked_at"`
	RevokedBy  string     `firestore:"revoked_by,omitempty" json:"revoked_by,omitempty"`
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return k.RevokedAt != nil }

// AuditEvent is the document tenants/{t}/audit/{id}; ids sort by time.
type AuditEvent struct {
	ID        string    `firestore:"id" json:"id"`
	Actor     string    `firestore:"actor" json:"actor"`
	ActorKind string    `firestore:"actor_kind" json:"actor_kind"`
	Action    string    `firestore:"action" json:"action"`
	Target    string    `firestore:"target" json:"target"`
	Outcome   string    `firestore:"outcome" json:"outcome"`
	Reason    string    `firestore:"reason,omitempty" json:"reason,omitempty"`
	IP        string    `firestore:"ip" json:"ip"`
	UserAgent string    `firestore:"user_agent" json:"user_agent"`
	RequestID string    `firestore:"request_id,omitempty" json:"request_id,omitempty"`
	Time      time.Time `firestore:"time" json:"time"`
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeFailure = "failure"
)

var (
	keyIDRE = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	// emailRE is deliberately narrow: the member id is the lower-cased email.
	emailRE = regexp.MustCompile(`^[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$`)
)

// Limits on names.
const (
	MaxTenantName = 100
	MaxKeyName    = 100
	MaxEmail      = 254
)

// ValidTenantID: 3–27 characters of [a-z0-9-], starting with a letter and not ending with '-'
// (ids.ValidTenant).
func ValidTenantID(id string) bool { return ids.ValidTenant(id) }

// ValidKeyID reports whether id can be an API key id.
func ValidKeyID(id string) bool { return keyIDRE.MatchString(id) }

// ValidEmail reports whether e is an acceptable, already lower-cased member email.
func ValidEmail(e string) bool { return len(e) <= MaxEmail && emailRE.MatchString(e) }
