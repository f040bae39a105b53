package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/store"
)

// ReservedSecretPrefix starts the names of secrets Runyard keeps for itself in a tenant's
// namespace (repository webhook keys); tenants cannot read, write or inject them.
const ReservedSecretPrefix = "RUNYARD_"

// KindSecrets holds secret metadata: tenants/{t}/secrets/{name}. Values live only in the
// secrets backend (Secret Manager); no record, log line, audit event or answer holds one.
const KindSecrets = "secrets"

// Secret is the metadata of one tenant secret.
type Secret struct {
	Name      string    `firestore:"name" json:"name"`
	Version   string    `firestore:"version" json:"version"`
	Resource  string    `firestore:"resource" json:"resource"`
	CreatedAt time.Time `firestore:"created_at" json:"created_at"`
	CreatedBy string    `firestore:"created_by" json:"created_by"`
	UpdatedAt time.Time `firestore:"updated_at" json:"updated_at"`
	UpdatedBy string    `firestore:"updated_by" json:"updated_by"`
}

// Errors of secret operations.
var (
	ErrSecretName     = errors.New("tenancy: invalid secret name")
	ErrSecretTooLarge = errors.New("tenancy: secret value too large")
	ErrUnavailable    = errors.New("tenancy: backend unavailable")
)

func (s *Service) secretsBackend() (secrets.Manager, error) {
	if s.secrets == nil {
		return nil, fmt.Errorf("%w: no secrets backend configured", ErrUnavailable)
	}
	return s.secrets, nil
}

// checkSecret validates a secret's name and (when value is not nil) its value.
func checkSecret(name string, value []byte) error {
	if !secrets.ValidName(name) {
		return fmt.Errorf("%w: names are 1-64 characters of A-Z, 0-9 and _, not starting with a digit", ErrSecretName)
	}
	if strings.HasPrefix(name, ReservedSecretPrefix) {
		return fmt.Errorf("%w: names starting with %s are reserved for Runyard", ErrSecretName, ReservedSecretPrefix)
	}
	if value == nil {
		return nil
	}
	if len(value) == 0 {
		return fmt.Errorf("%w: value must not be empty", ErrInvalid)
	}
	if len(value) > secrets.MaxValueBytes {
		return fmt.Errorf("%w: at most %d bytes", ErrSecretTooLarge, secrets.MaxValueBytes)
	}
	return nil
}

// backendError maps a secrets backend error.
func backendError(err error) error {
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return fmt.Errorf("%w: secret", ErrNotFound)
	case errors.Is(err, secrets.ErrInvalidName):
		return fmt.Errorf("%w: %v", ErrSecretName, err)
	case errors.Is(err, secrets.ErrValueTooLarge):
		return fmt.Errorf("%w: at most %d bytes", ErrSecretTooLarge, secrets.MaxValueBytes)
	case errors.Is(err, secrets.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("tenancy: secrets backend: %w", err)
}

// PutSecret stores value as a new version of the tenant's secret name (creating it), then
// records the metadata and the audit event in one transaction.
func (s *Service) PutSecret(ctx context.Context, c Caller, tenant, name string, value []byte) (Secret, error) {
	target := "secrets/" + name
	if _, err := s.Authorize(ctx, c, tenant, ActSecretPut, target); err != nil {
		return Secret{}, err
	}
	if err := checkSecret(name, value); err != nil {
		return Secret{}, err
	}
	backend, err := s.secretsBackend()
	if err != nil {
		return Secret{}, err
	}
	now := s.now()
	var meta Secret
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		k := store.Key{Tenant: tenant, Kind: KindSecrets, ID: name}
		_, err := tx.Get(k, &meta)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if t.Counts.Secrets >= t.Quotas.MaxSecrets {
				return fmt.Errorf("%w: at most %d secrets", ErrQuota, t.Quotas.MaxSecrets)
			}
			meta = Secret{Name: name, CreatedAt: now, CreatedBy: c.Actor()}
			t.Counts.Secrets++
		case err != nil:
			return err
		}
		// The value goes to the backend inside the transaction function so a quota refusal
		// stores nothing; a retried transaction adds another version, which is harmless.
		v, err := backend.Put(ctx, tenant, name, value)
		if err != nil {
			return backendError(err)
		}
		meta.Version, meta.Resource = v.Version, v.Resource
		meta.UpdatedAt, meta.UpdatedBy = now, c.Actor()
		t.UpdatedAt = now
		if err := tx.Put(k, meta); err != nil {
			return err
		}
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActSecretPut, target, OutcomeSuccess, "version "+v.Version, now)
	})
	if err := s.finish(ctx, c, tenant, ActSecretPut, target, "secret", err); err != nil {
		return Secret{}, err
	}
	return meta, nil
}

// GetSecret returns one secret's metadata.
func (s *Service) GetSecret(ctx context.Context, c Caller, tenant, name string) (Secret, error) {
	if _, err := s.Authorize(ctx, c, tenant, ActSecretsList, ""); err != nil {
		return Secret{}, err
	}
	if err := checkSecret(name, nil); err != nil {
		return Secret{}, err
	}
	var m Secret
	return m, getDoc(ctx, s, store.Key{Tenant: tenant, Kind: KindSecrets, ID: name}, &m, "secret")
}

// ListSecrets lists the tenant's secrets' metadata by name.
func (s *Service) ListSecrets(ctx context.Context, c Caller, tenant string, q store.Query) (Page[Secret], error) {
	if _, err := s.Authorize(ctx, c, tenant, ActSecretsList, ""); err != nil {
		return Page[Secret]{}, err
	}
	return list[Secret](ctx, s, tenant, KindSecrets, store.Query{Limit: q.Limit, Cursor: q.Cursor})
}

// DeleteSecret destroys every version of the secret and removes its metadata.
func (s *Service) DeleteSecret(ctx context.Context, c Caller, tenant, name string) error {
	target := "secrets/" + name
	if _, err := s.Authorize(ctx, c, tenant, ActSecretDelete, target); err != nil {
		return err
	}
	if err := checkSecret(name, nil); err != nil {
		return err
	}
	backend, err := s.secretsBackend()
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var t Tenant
		if _, err := tx.Get(store.TenantKey(tenant), &t); err != nil {
			return err
		}
		k := store.Key{Tenant: tenant, Kind: KindSecrets, ID: name}
		var meta Secret
		if _, err := tx.Get(k, &meta); err != nil {
			return err
		}
		// A value already gone from the backend (an earlier attempt) still lets the
		// metadata go.
		if err := backend.Delete(ctx, tenant, name); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return backendError(err)
		}
		t.Counts.Secrets--
		t.UpdatedAt = now
		if err := tx.Delete(k); err != nil {
			return err
		}
		if err := tx.Put(store.TenantKey(tenant), t); err != nil {
			return err
		}
		return s.auditTx(tx, c, tenant, ActSecretDelete, target, OutcomeSuccess, "", now)
	})
	return s.finish(ctx, c, tenant, ActSecretDelete, target, "secret", err)
}
