// Package identity is the port to runtime identities: one Google service account per tenant in
// each project the tenant's runtimes run in, holding no project-level role by default. Runtime
// services run as it; it is granted access to exactly its tenant's secrets and workspace bucket
// (by those backends) and, if the tenant opts in, to Vertex AI models (SetProjectRole).
package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Errors adapters return; callers branch on them with errors.Is.
var (
	// ErrNotFound: the tenant has no service account in that project.
	ErrNotFound = errors.New("identity: not found")
	// ErrForeign: the account id is taken by a service account that is not this tenant's.
	ErrForeign = errors.New("identity: service account belongs to someone else")
	// ErrQuota: the project cannot hold another service account (100 by default).
	ErrQuota = errors.New("identity: service account quota exhausted")
	// ErrPermission: the control plane may not manage service accounts or IAM there.
	ErrPermission = errors.New("identity: permission denied")
	// ErrUnavailable: the IAM backend failed; retry.
	ErrUnavailable = errors.New("identity: unavailable")
	// ErrInvalid: a bad tenant, project, role or member.
	ErrInvalid = errors.New("identity: invalid")
)

// Condition is an IAM condition (CEL) on a binding.
type Condition struct {
	Title       string
	Description string
	Expression  string
}

// Manager manages tenants' service accounts and the project-level roles they hold.
type Manager interface {
	// Ensure creates the tenant's service account in project unless it exists and returns its
	// email. Idempotent, also under concurrent calls.
	Ensure(ctx context.Context, tenant, project string) (email string, err error)
	// Lookup returns the email of the tenant's service account in project, or ErrNotFound.
	Lookup(ctx context.Context, tenant, project string) (email string, err error)
	// Delete deletes the tenant's service account in project; an absent one is no error.
	Delete(ctx context.Context, tenant, project string) error
	// SetProjectRole binds member to role on project under cond (nil: unconditionally),
	// replacing any other binding of member to role. Idempotent.
	SetProjectRole(ctx context.Context, project, role, member string, cond *Condition) error
	// RemoveProjectRole removes every binding of member to role on project. Idempotent.
	RemoveProjectRole(ctx context.Context, project, role, member string) error
}

// AccountPrefix starts every tenant service account id.
const AccountPrefix = "rt-"

// maxAccountID is the longest service account id IAM accepts (6-30 characters).
const maxAccountID = 30

// AccountID is the tenant's service account id: "rt-" + tenant when that fits IAM's 30
// characters (always, for today's tenant ids of at most 27); otherwise the tenant id cut short
// and ended with 8 hex digits of its SHA-256, so the id stays deterministic and distinct. The
// tenant id itself is always in the account's display name and description.
func AccountID(tenant string) string {
	id := AccountPrefix + tenant
	if len(id) <= maxAccountID {
		return id
	}
	sum := sha256.Sum256([]byte(tenant))
	head := strings.TrimRight(id[:maxAccountID-9], "-")
	return head + "-" + hex.EncodeToString(sum[:4])
}

// Email is the tenant's service account email in project.
func Email(tenant, project string) string {
	return AccountID(tenant) + "@" + project + ".iam.gserviceaccount.com"
}

// Member is the IAM member naming a service account email.
func Member(email string) string { return "serviceAccount:" + email }

// DisplayName is the display name of the tenant's service account (IAM allows 100 characters;
// tenant ids have at most 27).
func DisplayName(tenant string) string { return "Runyard tenant " + tenant }

// Description describes the tenant's service account.
func Description(tenant string) string {
	return "Runtimes of Runyard tenant " + tenant + " run as this account (managed by Runyard; tenant=" + tenant + ")"
}
