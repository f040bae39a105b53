package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
)

// deleteBatch is how many documents one deletion transaction removes.
const deleteBatch = 200

// DeleteTenant deletes the tenant and everything it owns. Only an owner may. The order makes
// a deletion that stops half way safe to repeat by the same owner: the tenant is marked
// deleting; the global claims of its custom domains are released (its domains stop serving
// it); every other member and every API key goes (so no one else can act on it); then the
// secret values and their metadata, the tenant's runtime service accounts (and their grants),
// the other domains' records, the audit log, and last the
// owner's membership and the tenant document. Its id can be taken again afterwards.
func (s *Service) DeleteTenant(ctx context.Context, c Caller, tenant string) error {
	if _, err := s.Authorize(ctx, c, tenant, ActTenantDelete, "tenants/"+tenant); err != nil {
		return err
	}
	log := logging.FromContext(ctx)
	now := s.now()
	if _, err := store.Update(ctx, s.store, store.TenantKey(tenant), func(t *Tenant) error {
		if t.DeletingAt == nil {
			t.DeletingAt = &now
		}
		return nil
	}); err != nil {
		return fmt.Errorf("tenancy: mark tenant deleting: %w", err)
	}
	log.InfoContext(ctx, "tenant deletion started", "tenant", tenant, "actor", c.Actor(), "ip", c.IP)
	// The global claims of the tenant's verified custom domains (shared/whitelabel).
	if err := s.deleteWhere(ctx, "", store.KindDomainClaims, []store.Filter{{Field: "tenant", Value: tenant}}, nil); err != nil {
		return err
	}
	self := store.Key{Tenant: tenant, Kind: KindMembers, ID: c.Email}
	keep := func(k store.Key) bool { return k == self }
	if err := s.deleteAll(ctx, tenant, KindMembers, keep); err != nil {
		return err
	}
	if err := s.deleteAll(ctx, tenant, KindAPIKeys, nil); err != nil {
		return err
	}
	if s.secrets != nil {
		n, err := s.secrets.DeleteTenant(ctx, tenant)
		if err != nil {
			return backendError(err)
		}
		log.InfoContext(ctx, "tenant secrets deleted", "tenant", tenant, "count", n)
	}
	if s.identities != nil {
		if err := s.identities(ctx, tenant); err != nil {
			return fmt.Errorf("%w: delete runtime identities: %w", ErrUnavailable, err)
		}
	}
	// Kinds other domains keep under the tenant (builds, repository connections and their
	// push records, branding, custom domains, the billing account) go with it; their secrets went with the
	// secrets backend above.
	for _, kind := range []string{KindSecrets, "builds", "repos", "repourls", "pushes", "branding", "domains", "billing", "settings", KindAudit} {
		if err := s.deleteAll(ctx, tenant, kind, nil); err != nil {
			return err
		}
	}
	// The tenant's prebuilt images (a global collection, keyed with the tenant).
	if err := s.deleteWhere(ctx, "", store.KindImages, []store.Filter{{Field: "tenant", Value: tenant}}, nil); err != nil {
		return err
	}
	// The links from its Stripe customer back to it (billing), so later webhooks of that
	// customer find no tenant.
	if err := s.deleteWhere(ctx, "", store.KindCustomers, []store.Filter{{Field: "tenant", Value: tenant}}, nil); err != nil {
		return err
	}
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Delete(self); err != nil {
			return err
		}
		return tx.Delete(store.TenantKey(tenant))
	})
	if err != nil {
		return fmt.Errorf("tenancy: delete tenant document: %w", err)
	}
	log.InfoContext(ctx, "tenant deleted", "tenant", tenant, "actor", c.Actor())
	return nil
}

// deleteAll deletes every document of kind under tenant except those keep reports, a batch per
// transaction.
func (s *Service) deleteAll(ctx context.Context, tenant, kind string, keep func(store.Key) bool) error {
	return s.deleteWhere(ctx, tenant, kind, nil, keep)
}

// deleteWhere is deleteAll for the documents matching where.
func (s *Service) deleteWhere(ctx context.Context, tenant, kind string, where []store.Filter, keep func(store.Key) bool) error {
	cursor := ""
	for {
		docs, next, err := s.store.List(ctx, tenant, kind, store.Query{Where: where, Limit: deleteBatch, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("tenancy: list %s to delete: %w", kind, err)
		}
		var keys []store.Key
		for _, d := range docs {
			if keep == nil || !keep(d.Key()) {
				keys = append(keys, d.Key())
			}
		}
		if len(keys) > 0 {
			err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
				for _, k := range keys {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenancy: delete %s: %w", kind, err)
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
