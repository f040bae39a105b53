package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/store"
)

// CallerKind says how a caller authenticated.
type CallerKind string

// Caller kinds.
const (
	CallerUser   CallerKind = "user"
	CallerAPIKey CallerKind = "apikey"
)

// Caller is an authenticated request's principal plus what the audit log records about it.
type Caller struct {
	Kind CallerKind
	// Email of a user (lower-cased).
	Email string
	// Tenant and KeyID of an API key; Scopes are the key's scopes.
	Tenant string
	KeyID  string
	Scopes []string

	IP, UserAgent, RequestID string
}

// Actor is the caller as the audit log names it.
func (c Caller) Actor() string {
	if c.Kind == CallerAPIKey {
		return "apikey:" + c.KeyID
	}
	return c.Email
}

// NewKeyFunc mints an API key for a tenant: its id, the plaintext shown once, the stored hash
// and a displayable prefix. shared/auth.NewAPIKey provides it.
type NewKeyFunc func(tenant string) (id, plaintext, hash, prefix string, err error)

// Known API key scopes. A key with no scope may read its tenant; later features add scopes.
const ScopeRuntimes = "runtimes"

// KnownScopes lists the scopes a key may be given.
var KnownScopes = []string{ScopeRuntimes}

// Service performs tenancy operations: each authorizes the caller, runs in one store
// transaction together with its audit event, and maps store errors to this package's errors.
type Service struct {
	store   store.Store
	newKey  NewKeyFunc
	secrets secrets.Manager
	// identities deletes the tenant's runtime service accounts (identity.Service.DeleteTenant).
	identities func(ctx context.Context, tenant string) error
	now        func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithSecrets sets the backend holding secret values; without it secret operations answer
// ErrUnavailable.
func WithSecrets(m secrets.Manager) Option { return func(s *Service) { s.secrets = m } }

// WithIdentities makes DeleteTenant delete the tenant's runtime identities with del
// (identity.Service.DeleteTenant); it must be safe to repeat.
func WithIdentities(del func(ctx context.Context, tenant string) error) Option {
	return func(s *Service) { s.identities = del }
}

// NewService returns a Service; st and newKey must not be nil.
func NewService(st store.Store, newKey NewKeyFunc, opts ...Option) (*Service, error) {
	if st == nil || newKey == nil {
		return nil, errors.New("tenancy.NewService: store and newKey are required")
	}
	s := &Service{store: st, newKey: newKey, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// mutating actions are audited, including denials.
var mutating = map[Action]bool{ActTenantDelete: true, ActMemberAdd: true, ActMemberRemove: true, ActAPIKeyCreate: true,
	ActAPIKeyRevoke: true, ActSecretPut: true, ActSecretDelete: true, ActBuildCreate: true, ActBuildCancel: true, ActReposWrite: true,
	ActRuntimeCreate: true, ActRuntimeManage: true, ActBrandingWrite: true, ActDomainsWrite: true,
	ActBudgetWrite: true, ActBillingManage: true, ActLLMWrite: true, ActPreviewsManage: true}

// Authorize checks that c may perform a on tenant and returns c's member role ("" for an API
// key). A caller with no standing in the tenant gets ErrTenantNotFound, whether or not the
// tenant exists. A member without the role gets ErrForbidden (audited for mutating actions).
func (s *Service) Authorize(ctx context.Context, c Caller, tenant string, a Action, target string) (Role, error) {
	if !ValidTenantID(tenant) {
		return "", fmt.Errorf("%w: tenant id must be 3-27 characters of a-z, 0-9 and '-'", ErrInvalidID)
	}
	switch c.Kind {
	case CallerAPIKey:
		if c.Tenant != tenant {
			return "", ErrTenantNotFound
		}
		if !Permissions[a].APIKey {
			s.denied(ctx, c, tenant, a, target, "API keys may not "+string(a))
			return "", fmt.Errorf("%w: API keys may not %s", ErrForbidden, a)
		}
		return "", nil
	case CallerUser:
		var m Member
		if _, err := s.store.Get(ctx, store.Key{Tenant: tenant, Kind: KindMembers, ID: c.Email}, &m); err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
				return "", ErrTenantNotFound
			}
			return "", fmt.Errorf("tenancy: authorize: %w", err)
		}
		if !Allowed(m.Role, a) {
			s.denied(ctx, c, tenant, a, target, "role "+string(m.Role)+" may not "+string(a))
			return "", fmt.Errorf("%w: role %s may not %s", ErrForbidden, m.Role, a)
		}
		return m.Role, nil
	}
	return "", ErrTenantNotFound
}

// CreateTenant creates tenant id named name with c as its owner. Only users create tenants.
func (s *Service) CreateTenant(ctx context.Context, c Caller, id, name string) (Tenant, error) {
	if c.Kind != CallerUser {
		return Tenant{}, fmt.Errorf("%w: only signed-in users create tenants", ErrForbidden)
	}
	if !ValidTenantID(id) {
		return Tenant{}, fmt.Errorf("%w: id must be 3-27 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'", ErrInvalidID)
	}
	name, err := cleanName("name", name, MaxTenantName)
	if err != nil {
		return Tenant{}, err
	}
	now := s.now()
	t := Tenant{ID: id, Name: name, Plan: "free", Quotas: DefaultQuotas, Counts: Counts{Members: 1, Owners: 1},
		CreatedAt: now, CreatedBy: c.Email, UpdatedAt: now}
	owner := Member{Email: c.Email, Role: RoleOwner, AddedAt: now, AddedBy: c.Email}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Create(store.TenantKey(id), t); err != nil {
			return err
		}
		if err := tx.Create(store.Key{Tenant: id, Kind: KindMembers, ID: c.Email}, owner); err != nil {
			return err
		}
		return s.auditTx(tx, c, id, ActTenantCreate, "tenants/"+id, OutcomeSuccess, "", now)
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return Tenant{}, fmt.Errorf("%w: tenant %q", ErrExists, id)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: create tenant: %w", err)
	}
	return t, nil
}

// GetTenant returns the tenant.
func (s *Service) GetTenant(ctx context.Context, c Caller, id string) (Tenant, error) {
	if _, err := s.Authorize(ctx, c, id, ActTenantRead, ""); err != nil {
		return Tenant{}, err
	}
	var t Tenant
	if _, err := s.store.Get(ctx, store.TenantKey(id), &t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Tenant{}, ErrTenantNotFound
		}
		return Tenant{}, fmt.Errorf("tenancy: get tenant: %w", err)
	}
	return t, nil
}

// Page is one page of a listing.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func list[T any](ctx context.Context, s *Service, tenant, kind string, q store.Query) (Page[T], error) {
	items, next, err := store.ListOf[T](ctx, s.store, tenant, kind, q)
	if err != nil {
		if errors.Is(err, store.ErrInvalidCursor) {
			return Page[T]{}, err
		}
		return Page[T]{}, fmt.Errorf("tenancy: list %s: %w", kind, err)
	}
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, NextCursor: next}, nil
}

// ListMembers lists the tenant's members by email.
func (s *Service) ListMembers(ctx context.Context, c Caller, tenant string, q store.Query) (Page[Member], error) {
	if _, err := s.Authorize(ctx, c, tenant, ActMembersList, ""); err != nil {
		return Page[Member]{}, err
	}
	return list[Member](ctx, s, tenant, KindMembers, store.Query{Limit: q.Limit, Cursor: q.Cursor})
}

// AddMember adds email with role. Only an owner adds an owner.
func (s *Service) AddMember(ctx context.Context, c Caller, tenant, email string, role Role) (Member, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	target := "members/" + email
	callerRole, err := s.Authorize(ctx, c, tenant, ActMemberAdd, target)
	if err != nil {
		return Member{}, err
	}
	if !ValidEmail(email) {
		return Member{}, fmt.Errorf("%w: email is not a valid address", ErrInvalid)
	}
	if role == "" {
		role = RoleMember
	}
	if !role.Valid() {
		return Member{}, fmt.Errorf("%w: role must be owner, admin or member", ErrInvalid)
	}
	if role == RoleOwner && callerRole != RoleOwner {
		s.denied(ctx, c, tenant, ActMemberAdd, target, "only owners add owners")
		return Member{}, fmt.Errorf("%w: only owners add owners", ErrForbidden)
	}
	now := s.now()
	m := Member{Email: email, Role: role, AddedAt: now, AddedBy: c.Actor()}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		if t.Counts.Members >= t.Quotas.MaxMembers {
			return fmt.Errorf("%w: at most %d members", ErrQuota, t.Quotas.MaxMembers)
		}
		if err := tx.Create(store.Key{Tenant: tenant, Kind: KindMembers, ID: email}, m); err != nil {
			return err
		}
		t.Counts.Members++
		if role == RoleOwner {
			t.Counts.Owners++
		}
		t.UpdatedAt = now
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActMemberAdd, target, OutcomeSuccess, "role "+string(role), now)
	})
	return m, s.finish(ctx, c, tenant, ActMemberAdd, target, "member", err)
}

// RemoveMember removes email. Any member may remove themselves; otherwise admins remove
// members and admins, owners remove anyone; the last owner stays.
func (s *Service) RemoveMember(ctx context.Context, c Caller, tenant, email string) error {
	email = strings.ToLower(email)
	action := ActMemberRemove
	self := c.Kind == CallerUser && c.Email == email
	if self {
		action = ActTenantRead // leaving needs only membership
	}
	target := "members/" + email
	callerRole, err := s.Authorize(ctx, c, tenant, action, target)
	if err != nil {
		return err
	}
	if !ValidEmail(email) {
		return fmt.Errorf("%w: member", ErrNotFound)
	}
	now := s.now()
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		var m Member
		k := store.Key{Tenant: tenant, Kind: KindMembers, ID: email}
		if _, err := tx.Get(k, &m); err != nil {
			return err
		}
		if m.Role == RoleOwner {
			if !self && callerRole != RoleOwner {
				return fmt.Errorf("%w: only owners remove owners", ErrForbidden)
			}
			if t.Counts.Owners <= 1 {
				return ErrLastOwner
			}
			t.Counts.Owners--
		}
		t.Counts.Members--
		t.UpdatedAt = now
		if err := tx.Delete(k); err != nil {
			return err
		}
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActMemberRemove, target, OutcomeSuccess, "", now)
	})
	return s.finish(ctx, c, tenant, ActMemberRemove, target, "member", err)
}

// CreateAPIKey makes a key named name with scopes and returns it with its plaintext, which is
// never stored and cannot be shown again.
func (s *Service) CreateAPIKey(ctx context.Context, c Caller, tenant, name string, scopes []string) (APIKey, string, error) {
	if _, err := s.Authorize(ctx, c, tenant, ActAPIKeyCreate, "apikeys"); err != nil {
		return APIKey{}, "", err
	}
	name, err := cleanName("name", name, MaxKeyName)
	if err != nil {
		return APIKey{}, "", err
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	for _, sc := range scopes {
		if !slices.Contains(KnownScopes, sc) {
			return APIKey{}, "", fmt.Errorf("%w: unknown scope %q (known: %s)", ErrInvalid, sc, strings.Join(KnownScopes, ", "))
		}
	}
	if scopes == nil {
		scopes = []string{}
	}
	id, plaintext, hash, prefix, err := s.newKey(tenant)
	if err != nil {
		return APIKey{}, "", fmt.Errorf("tenancy: mint key: %w", err)
	}
	now := s.now()
	k := APIKey{ID: id, Name: name, Prefix: prefix, Hash: hash, Scopes: scopes, CreatedAt: now, CreatedBy: c.Actor()}
	target := "apikeys/" + id
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		if t.Counts.APIKeys >= t.Quotas.MaxAPIKeys {
			return fmt.Errorf("%w: at most %d active API keys", ErrQuota, t.Quotas.MaxAPIKeys)
		}
		if err := tx.Create(store.Key{Tenant: tenant, Kind: KindAPIKeys, ID: id}, k); err != nil {
			return err
		}
		t.Counts.APIKeys++
		t.UpdatedAt = now
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActAPIKeyCreate, target, OutcomeSuccess, "name "+name, now)
	})
	if err := s.finish(ctx, c, tenant, ActAPIKeyCreate, target, "API key", err); err != nil {
		return APIKey{}, "", err
	}
	return k, plaintext, nil
}

// RevokeAPIKey revokes key id. Revoking a revoked key succeeds and changes nothing.
func (s *Service) RevokeAPIKey(ctx context.Context, c Caller, tenant, id string) error {
	target := "apikeys/" + id
	if _, err := s.Authorize(ctx, c, tenant, ActAPIKeyRevoke, target); err != nil {
		return err
	}
	if !ValidKeyID(id) {
		return fmt.Errorf("%w: API key", ErrNotFound)
	}
	now := s.now()
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		var k APIKey
		key := store.Key{Tenant: tenant, Kind: KindAPIKeys, ID: id}
		if _, err := tx.Get(key, &k); err != nil {
			return err
		}
		if k.Revoked() {
			return nil
		}
		k.RevokedAt, k.RevokedBy = &now, c.Actor()
		t.Counts.APIKeys--
		t.UpdatedAt = now
		if err := tx.Put(key, k); err != nil {
			return err
		}
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActAPIKeyRevoke, target, OutcomeSuccess, "", now)
	})
	return s.finish(ctx, c, tenant, ActAPIKeyRevoke, target, "API key", err)
}

// ListAPIKeys lists the tenant's keys (revoked ones included), never their hashes.
func (s *Service) ListAPIKeys(ctx context.Context, c Caller, tenant string, q store.Query) (Page[APIKey], error) {
	if _, err := s.Authorize(ctx, c, tenant, ActAPIKeysList, ""); err != nil {
		return Page[APIKey]{}, err
	}
	return list[APIKey](ctx, s, tenant, KindAPIKeys, store.Query{Limit: q.Limit, Cursor: q.Cursor})
}

// ListAudit lists the tenant's audit events, newest first.
func (s *Service) ListAudit(ctx context.Context, c Caller, tenant string, q store.Query) (Page[AuditEvent], error) {
	if _, err := s.Authorize(ctx, c, tenant, ActAuditRead, ""); err != nil {
		return Page[AuditEvent]{}, err
	}
	return list[AuditEvent](ctx, s, tenant, KindAudit, store.Query{Limit: q.Limit, Cursor: q.Cursor})
}

// lastUsedEvery bounds how often a key's last-used time is written.
const lastUsedEvery = time.Minute

// AuthenticateAPIKey checks a presented key against tenants/{tenant}/apikeys/{keyID} with
// match (a constant-time hash comparison) and returns the key. Unknown and wrong keys are
// ErrKeyUnknown; a revoked key is ErrKeyRevoked, told only to a caller holding the real secret.
// The last-used time is updated at most once a minute, best effort.
func (s *Service) AuthenticateAPIKey(ctx context.Context, tenant, keyID, plaintext string, match func(plaintext, hash string) bool) (APIKey, error) {
	if !ValidTenantID(tenant) || !ValidKeyID(keyID) {
		return APIKey{}, ErrKeyUnknown
	}
	key := store.Key{Tenant: tenant, Kind: KindAPIKeys, ID: keyID}
	var k APIKey
	if _, err := s.store.Get(ctx, key, &k); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return APIKey{}, ErrKeyUnknown
		}
		return APIKey{}, fmt.Errorf("tenancy: read API key: %w", err)
	}
	if !match(plaintext, k.Hash) {
		return APIKey{}, ErrKeyUnknown
	}
	if k.Revoked() {
		return APIKey{}, ErrKeyRevoked
	}
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUsedEvery {
		_, err := store.Update(ctx, s.store, key, func(k *APIKey) error {
			k.LastUsedAt = &now
			return nil
		})
		if err != nil {
			logging.FromContext(ctx).WarnContext(ctx, "update API key last use", "tenant", tenant, "key_id", keyID, "error", err)
		} else {
			k.LastUsedAt = &now
		}
	}
	return k, nil
}

// auditTx writes an audit event inside a transaction.
func (s *Service) auditTx(tx store.Tx, c Caller, tenant string, a Action, target, outcome, reason string, now time.Time) error {
	return AuditTx(tx, c, tenant, a, target, outcome, reason, now)
}

// Audit records an operation of another domain (builds, repositories) in the tenant's audit
// log. A failure to record is logged.
func (s *Service) Audit(ctx context.Context, c Caller, tenant string, a Action, target, outcome, reason string) {
	s.record(ctx, c, tenant, a, target, outcome, reason)
}

// record writes an audit event on its own, for outcomes that wrote nothing else. A failure to
// record is logged: the caller's answer does not change.
func (s *Service) record(ctx context.Context, c Caller, tenant string, a Action, target, outcome, reason string) {
	RecordAudit(ctx, s.store, c, tenant, a, target, outcome, reason, s.now())
}

// NewAuditEvent is the audit event of caller c doing a on target, with its outcome.
func NewAuditEvent(c Caller, a Action, target, outcome, reason string, now time.Time) AuditEvent {
	return AuditEvent{ID: store.NewReverseSortableID(now), Actor: c.Actor(), ActorKind: string(c.Kind), Action: string(a),
		Target: target, Outcome: outcome, Reason: reason, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID, Time: now}
}

// AuditTx writes an audit event inside tx, so it commits with the change it records. Other
// domains that keep documents under a tenant (repositories) use it too.
func AuditTx(tx store.Tx, c Caller, tenant string, a Action, target, outcome, reason string, now time.Time) error {
	e := NewAuditEvent(c, a, target, outcome, reason, now)
	return tx.Create(store.Key{Tenant: tenant, Kind: KindAudit, ID: e.ID}, e)
}

// RecordAudit writes an audit event on its own (for an outcome that changed nothing else);
// a failure to write it is logged.
func RecordAudit(ctx context.Context, st store.Store, c Caller, tenant string, a Action, target, outcome, reason string, now time.Time) {
	e := NewAuditEvent(c, a, target, outcome, reason, now)
	if _, err := st.Create(ctx, store.Key{Tenant: tenant, Kind: KindAudit, ID: e.ID}, e); err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "write audit event", "tenant", tenant, "action", a, "error", err)
	}
}

func (s *Service) denied(ctx context.Context, c Caller, tenant string, a Action, target, reason string) {
	if mutating[a] {
		s.record(ctx, c, tenant, a, target, OutcomeDenied, reason)
	}
}

// finish maps a mutation's transaction error to this package's errors and audits failures.
func (s *Service) finish(ctx context.Context, c Caller, tenant string, a Action, target, what string, err error) error {
	if err == nil {
		return nil
	}
	outcome := OutcomeFailure
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		err = fmt.Errorf("%w: %s", ErrExists, what)
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("%w: %s", ErrNotFound, what)
	case errors.Is(err, ErrForbidden):
		outcome = OutcomeDenied
	case errors.Is(err, ErrLastOwner), errors.Is(err, ErrQuota), errors.Is(err, ErrSecretName),
		errors.Is(err, ErrSecretTooLarge), errors.Is(err, ErrUnavailable), errors.Is(err, ErrInvalid):
	default:
		err = fmt.Errorf("tenancy: %s: %w", a, err)
	}
	s.record(ctx, c, tenant, a, target, outcome, reasonOf(err))
	return err
}

// reasonOf keeps an audit reason short and free of internal detail.
func reasonOf(err error) string {
	for _, e := range []error{ErrExists, ErrNotFound, ErrForbidden, ErrLastOwner, ErrQuota, ErrSecretName, ErrSecretTooLarge} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(err.Error(), "tenancy: ")
		}
	}
	return "internal error"
}

// cleanName trims a display name and checks its length and characters.
func cleanName(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > max {
		return "", fmt.Errorf("%w: %s must be 1-%d characters", ErrInvalid, field, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", fmt.Errorf("%w: %s has control or invalid characters", ErrInvalid, field)
		}
	}
	return v, nil
}

// GetMember returns one member.
func (s *Service) GetMember(ctx context.Context, c Caller, tenant, email string) (Member, error) {
	if _, err := s.Authorize(ctx, c, tenant, ActMembersList, ""); err != nil {
		return Member{}, err
	}
	var m Member
	return m, getDoc(ctx, s, store.Key{Tenant: tenant, Kind: KindMembers, ID: email}, &m, "member")
}

// GetAPIKey returns one key (never its hash).
func (s *Service) GetAPIKey(ctx context.Context, c Caller, tenant, id string) (APIKey, error) {
	if _, err := s.Authorize(ctx, c, tenant, ActAPIKeysList, ""); err != nil {
		return APIKey{}, err
	}
	var k APIKey
	return k, getDoc(ctx, s, store.Key{Tenant: tenant, Kind: KindAPIKeys, ID: id}, &k, "API key")
}

func getDoc(ctx context.Context, s *Service, k store.Key, dst any, what string) error {
	if _, err := s.store.Get(ctx, k, dst); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return fmt.Errorf("%w: %s", ErrNotFound, what)
		}
		return fmt.Errorf("tenancy: get %s: %w", what, err)
	}
	return nil
}

// MemberEmails lists every member's email, for grants made on the tenant's behalf (IAP access
// to its runtimes). It checks nothing: callers have authorized the request that needs it.
func (s *Service) MemberEmails(ctx context.Context, tenant string) ([]string, error) {
	var out []string
	cursor := ""
	for {
		page, next, err := store.ListOf[Member](ctx, s.store, tenant, KindMembers, store.Query{Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("tenancy: member emails: %w", err)
		}
		for _, m := range page {
			out = append(out, m.Email)
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// TenantExistsTx reads the tenant in tx: a missing or deleting tenant is ErrTenantNotFound.
// Services that keep per-tenant documents outside tenancy (repos, identity, whitelabel) check
// it in the transaction that writes them, so nothing is written under a deleted tenant.
func TenantExistsTx(tx store.Tx, tenant string) error {
	var t Tenant
	if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrTenantNotFound
		}
		return err
	}
	if t.DeletingAt != nil {
		return ErrTenantNotFound
	}
	return nil
}
