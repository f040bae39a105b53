package repos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Authorizer checks a caller's right to act on a tenant; *tenancy.Service implements it. A
// caller with no standing in the tenant gets tenancy.ErrTenantNotFound.
type Authorizer interface {
	Authorize(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target string) (tenancy.Role, error)
}

// Service manages a tenant's repository connections for tenant callers: every operation is
// authorized, and connect/disconnect write their audit event in the same transaction as the
// change.
type Service struct {
	store   store.Store
	secrets secrets.Manager
	authz   Authorizer
	cfg     Config
	now     func() time.Time
}

// NewService returns a Service; every dependency is required and cfg must be valid.
func NewService(st store.Store, sec secrets.Manager, authz Authorizer, cfg Config) (*Service, error) {
	if st == nil || sec == nil || authz == nil {
		return nil, errors.New("repos.NewService: store, secrets and authorizer are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("repos.NewService: %w", err)
	}
	return &Service{store: st, secrets: sec, authz: authz, cfg: cfg, now: now}, nil
}

// hookSecretBytes is the entropy of a webhook signing secret.
const hookSecretBytes = 32

// newHookSecret returns 32 random bytes in hex (GitHub takes the secret as text; the HMAC
// key is that text).
func newHookSecret() string {
	var b [hookSecretBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// Connect connects the repository at rawURL with default branch (DefaultBranch when empty)
// to tenant. It returns the connection (with its HookURL) and the webhook signing secret,
// which is stored only in the secrets backend and cannot be shown again.
func (s *Service) Connect(ctx context.Context, c tenancy.Caller, tenant, rawURL, branch string) (Repo, string, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActWrite, KindRepos); err != nil {
		return Repo{}, "", err
	}
	repoURL, err := NormalizeURL(rawURL, s.cfg.AllowedHosts)
	if err != nil {
		return Repo{}, "", err
	}
	if branch, err = CheckBranch(branch); err != nil {
		return Repo{}, "", err
	}
	idx := store.Key{Tenant: tenant, Kind: KindRepoURLs, ID: urlIndexID(repoURL)}
	// Checked first outside the transaction so a duplicate makes no secret; checked again inside.
	var ix repoURLIndex
	if _, err := s.store.Get(ctx, idx, &ix); err == nil {
		return Repo{}, "", ErrExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return Repo{}, "", fmt.Errorf("repos: connect: %w", err)
	}
	now := s.now()
	id := store.NewSortableID(now)
	r := Repo{ID: id, Provider: ProviderGitHub, RepoURL: repoURL, DefaultBranch: branch, CreatedAt: now,
		CreatedBy: c.Actor(), HookSecretRef: SecretName(id)}
	target := KindRepos + "/" + id
	secret := newHookSecret()
	// The secret is stored before the record, so a webhook never finds a connection without
	// one; if the record is not written the secret is deleted again.
	if _, err := s.secrets.Put(ctx, tenant, r.HookSecretRef, []byte(secret)); err != nil {
		err = backendError("connect", err)
		s.record(ctx, c, tenant, ActWrite, target, tenancy.OutcomeFailure, "connect: secrets backend failed", now)
		return Repo{}, "", err
	}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tenancy.TenantExistsTx(tx, tenant); err != nil {
			return err
		}
		var ix repoURLIndex
		if _, err := tx.Get(idx, &ix); err == nil {
			return ErrExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.Create(store.Key{Tenant: tenant, Kind: KindRepos, ID: id}, r); err != nil {
			return err
		}
		if err := tx.Create(idx, repoURLIndex{RepoID: id, RepoURL: repoURL}); err != nil {
			return err
		}
		return tenancy.AuditTx(tx, c, tenant, ActWrite, target, tenancy.OutcomeSuccess, "connect "+repoURL, now)
	})
	if err != nil {
		if derr := s.secrets.Delete(context.WithoutCancel(ctx), tenant, r.HookSecretRef); derr != nil && !errors.Is(derr, secrets.ErrNotFound) {
			logging.FromContext(ctx).ErrorContext(ctx, "repos: delete the secret of a failed connect", "tenant", tenant, "repo", id, "error", derr)
		}
		return Repo{}, "", s.finish(ctx, c, tenant, target, "connect", err, now)
	}
	r.HookURL = s.cfg.HookURL(tenant, id)
	return r, secret, nil
}

// Get returns connection id of tenant.
func (s *Service) Get(ctx context.Context, c tenancy.Caller, tenant, id string) (Repo, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActList, ""); err != nil {
		return Repo{}, err
	}
	r, err := getRepo(ctx, s.store, tenant, id)
	if err != nil {
		return Repo{}, err
	}
	r.HookURL = s.cfg.HookURL(tenant, id)
	return r, nil
}

// List lists the tenant's connections, oldest first.
func (s *Service) List(ctx context.Context, c tenancy.Caller, tenant string, q store.Query) (tenancy.Page[Repo], error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActList, ""); err != nil {
		return tenancy.Page[Repo]{}, err
	}
	items, next, err := store.ListOf[Repo](ctx, s.store, tenant, KindRepos, store.Query{Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		if errors.Is(err, store.ErrInvalidCursor) {
			return tenancy.Page[Repo]{}, err
		}
		return tenancy.Page[Repo]{}, fmt.Errorf("repos: list: %w", err)
	}
	if items == nil {
		items = []Repo{}
	}
	for i := range items {
		items[i].HookURL = s.cfg.HookURL(tenant, items[i].ID)
	}
	return tenancy.Page[Repo]{Items: items, NextCursor: next}, nil
}

// Disconnect deletes connection id and its signing secret; later deliveries to its hook URL
// answer 404. The secret goes first: a disconnect that fails half way leaves a connection
// whose hook answers 404, and repeating the disconnect finishes it.
func (s *Service) Disconnect(ctx context.Context, c tenancy.Caller, tenant, id string) error {
	target := KindRepos + "/" + id
	if _, err := s.authz.Authorize(ctx, c, tenant, ActWrite, target); err != nil {
		return err
	}
	r, err := getRepo(ctx, s.store, tenant, id)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.secrets.Delete(ctx, tenant, r.HookSecretRef); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		err = backendError("disconnect", err)
		s.record(ctx, c, tenant, ActWrite, target, tenancy.OutcomeFailure, "disconnect: secrets backend failed", now)
		return err
	}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		k := store.Key{Tenant: tenant, Kind: KindRepos, ID: id}
		var cur Repo
		if _, err := tx.Get(k, &cur); err != nil {
			return err
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
		if err := tx.Delete(store.Key{Tenant: tenant, Kind: KindRepoURLs, ID: urlIndexID(cur.RepoURL)}); err != nil {
			return err
		}
		return tenancy.AuditTx(tx, c, tenant, ActWrite, target, tenancy.OutcomeSuccess, "disconnect "+cur.RepoURL, now)
	})
	return s.finish(ctx, c, tenant, target, "disconnect", err, now)
}

// getRepo reads a connection; malformed ids are simply not found.
func getRepo(ctx context.Context, st store.Store, tenant, id string) (Repo, error) {
	if !tenancy.ValidTenantID(tenant) || !ValidID(id) {
		return Repo{}, ErrNotFound
	}
	var r Repo
	if _, err := st.Get(ctx, store.Key{Tenant: tenant, Kind: KindRepos, ID: id}, &r); err != nil {
		if errorIs(err, store.ErrNotFound, store.ErrInvalidKey) {
			return Repo{}, ErrNotFound
		}
		return Repo{}, fmt.Errorf("repos: get: %w", err)
	}
	return r, nil
}

// backendError maps a secrets backend error.
func backendError(op string, err error) error {
	if errors.Is(err, secrets.ErrUnavailable) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("repos: %s: secrets: %w", op, err)
}

// record writes an audit event on its own (for failures, which wrote nothing else), even when
// the request's context has ended.
func (s *Service) record(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target, outcome, reason string, now time.Time) {
	tenancy.RecordAudit(context.WithoutCancel(ctx), s.store, c, tenant, a, target, outcome, reason, now)
}

// finish maps a mutation's transaction error and audits the failure.
func (s *Service) finish(ctx context.Context, c tenancy.Caller, tenant, target, op string, err error, now time.Time) error {
	if err == nil {
		return nil
	}
	reason := op + ": internal error"
	switch {
	case errors.Is(err, tenancy.ErrTenantNotFound):
		return err // nothing to audit in a tenant that is not there
	case errorIs(err, ErrExists, store.ErrAlreadyExists):
		err, reason = ErrExists, op+": already connected"
	case errorIs(err, ErrNotFound, store.ErrNotFound):
		err, reason = ErrNotFound, op+": not found"
	default:
		err = fmt.Errorf("repos: %s: %w", op, err)
	}
	s.record(ctx, c, tenant, ActWrite, target, tenancy.OutcomeFailure, reason, now)
	return err
}
