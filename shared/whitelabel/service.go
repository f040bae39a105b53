package whitelabel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Authorizer checks a caller's right to act on a tenant; *tenancy.Service implements it. A
// caller with no standing in the tenant gets tenancy.ErrTenantNotFound.
type Authorizer interface {
	Authorize(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target string) (tenancy.Role, error)
}

// TXTResolver looks up TXT records; *net.Resolver implements it.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// NewResolver returns a resolver that asks the DNS server at addr ("host:port") over UDP (TCP
// for truncated answers), or the system's resolver when addr is empty.
func NewResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// Service manages a tenant's branding and domains for tenant callers: every operation is
// authorized; every change writes its audit event in the same transaction.
type Service struct {
	store    store.Store
	authz    Authorizer
	dns      TXTResolver
	platform string
	timeout  time.Duration
	now      func() time.Time
}

// Config configures a Service.
type Config struct {
	// Platform is the platform's runtime domain (RUNTIME_DOMAIN), which no tenant may bring.
	Platform string
	// DNSTimeout bounds one verification lookup (default 5s).
	DNSTimeout time.Duration
}

// NewService returns a Service; every dependency is required.
func NewService(st store.Store, authz Authorizer, dns TXTResolver, cfg Config) (*Service, error) {
	if st == nil || authz == nil || dns == nil {
		return nil, errors.New("whitelabel.NewService: store, authorizer and resolver are required")
	}
	if cfg.DNSTimeout <= 0 {
		cfg.DNSTimeout = 5 * time.Second
	}
	return &Service{store: st, authz: authz, dns: dns, platform: cfg.Platform, timeout: cfg.DNSTimeout,
		now: func() time.Time { return time.Now().UTC() }}, nil
}

func brandingKey(tenant string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindBranding, ID: BrandingID}
}

// GetBranding returns the tenant's branding; a tenant that has set none gets an empty one.
func (s *Service) GetBranding(ctx context.Context, c tenancy.Caller, tenant string) (TenantBranding, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActBrandingRead, ""); err != nil {
		return TenantBranding{}, err
	}
	var b TenantBranding
	if _, err := s.store.Get(ctx, brandingKey(tenant), &b); err != nil && !errors.Is(err, store.ErrNotFound) {
		return TenantBranding{}, fmt.Errorf("whitelabel: get branding: %w", err)
	}
	return b, nil
}

// PutBranding replaces the tenant's branding with b (validated).
func (s *Service) PutBranding(ctx context.Context, c tenancy.Caller, tenant string, b Branding) (TenantBranding, error) {
	const target = KindBranding
	if _, err := s.authz.Authorize(ctx, c, tenant, ActBrandingWrite, target); err != nil {
		return TenantBranding{}, err
	}
	b, err := b.Check()
	if err != nil {
		return TenantBranding{}, err
	}
	now := s.now()
	tb := TenantBranding{Branding: b, UpdatedAt: now, UpdatedBy: c.Actor()}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tenancy.TenantExistsTx(tx, tenant); err != nil {
			return err
		}
		if err := tx.Put(brandingKey(tenant), tb); err != nil {
			return err
		}
		return tenancy.AuditTx(tx, c, tenant, ActBrandingWrite, target, tenancy.OutcomeSuccess, "branding updated", now)
	})
	if err != nil {
		return TenantBranding{}, s.finish(ctx, c, tenant, ActBrandingWrite, target, "put branding", err, now)
	}
	return tb, nil
}

// newChallenge returns a fresh verification value.
func newChallenge() string {
	var b [20]byte
	rand.Read(b[:]) // never returns an error (crypto/rand panics instead)
	return challengeValuePrefix + hex.EncodeToString(b[:])
}

func domainKey(tenant, domain string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindDomains, ID: domain}
}

// AddDomain adds raw (validated by CheckDomain) to the tenant's domains as pending, with the
// TXT record that verifies it. A domain another tenant has verified is ErrTaken.
func (s *Service) AddDomain(ctx context.Context, c tenancy.Caller, tenant, raw string) (Domain, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActDomainsWrite, KindDomains); err != nil {
		return Domain{}, err
	}
	domain, err := CheckDomain(raw, s.platform)
	if err != nil {
		return Domain{}, err
	}
	target := KindDomains + "/" + domain
	now := s.now()
	// The count is checked outside the transaction (it cannot list): two concurrent adds may
	// pass MaxDomains by one. Nothing depends on the exact cap.
	existing, _, err := s.store.List(ctx, tenant, KindDomains, store.Query{Limit: MaxDomains})
	if err != nil {
		return Domain{}, fmt.Errorf("whitelabel: add domain: %w", err)
	}
	if len(existing) >= MaxDomains {
		s.record(ctx, c, tenant, ActDomainsWrite, target, tenancy.OutcomeFailure, "add: too many domains", now)
		return Domain{}, fmt.Errorf("%w: at most %d", ErrTooMany, MaxDomains)
	}
	d := Domain{Domain: domain, Status: StatusPending, ChallengeName: ChallengePrefix + domain,
		ChallengeValue: newChallenge(), CreatedAt: now, CreatedBy: c.Actor()}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tenancy.TenantExistsTx(tx, tenant); err != nil {
			return err
		}
		var cl Claim
		if _, err := tx.Get(store.Key{Kind: KindClaims, ID: domain}, &cl); err == nil && cl.Tenant != tenant {
			return ErrTaken
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.Create(domainKey(tenant, domain), d); err != nil {
			return err
		}
		return tenancy.AuditTx(tx, c, tenant, ActDomainsWrite, target, tenancy.OutcomeSuccess, "add "+domain, now)
	})
	if err != nil {
		return Domain{}, s.finish(ctx, c, tenant, ActDomainsWrite, target, "add", err, now)
	}
	return d, nil
}

// ListDomains lists the tenant's domains by name.
func (s *Service) ListDomains(ctx context.Context, c tenancy.Caller, tenant string, q store.Query) (tenancy.Page[Domain], error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActDomainsList, ""); err != nil {
		return tenancy.Page[Domain]{}, err
	}
	items, next, err := store.ListOf[Domain](ctx, s.store, tenant, KindDomains, store.Query{Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		if errors.Is(err, store.ErrInvalidCursor) {
			return tenancy.Page[Domain]{}, err
		}
		return tenancy.Page[Domain]{}, fmt.Errorf("whitelabel: list domains: %w", err)
	}
	if items == nil {
		items = []Domain{}
	}
	return tenancy.Page[Domain]{Items: items, NextCursor: next}, nil
}

// GetDomain returns one of the tenant's domains.
func (s *Service) GetDomain(ctx context.Context, c tenancy.Caller, tenant, raw string) (Domain, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActDomainsList, ""); err != nil {
		return Domain{}, err
	}
	return s.getDomain(ctx, tenant, raw)
}

func (s *Service) getDomain(ctx context.Context, tenant, raw string) (Domain, error) {
	domain, err := CheckDomain(raw, "")
	if err != nil {
		return Domain{}, ErrNotFound
	}
	var d Domain
	if _, err := s.store.Get(ctx, domainKey(tenant, domain), &d); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return Domain{}, ErrNotFound
		}
		return Domain{}, fmt.Errorf("whitelabel: get domain: %w", err)
	}
	return d, nil
}

// VerifyDomain looks up the domain's TXT record and, when it holds the challenge value, marks
// the domain verified and claims it for the tenant, in one transaction: if another tenant's
// claim is there first, ErrTaken and nothing changes. Verifying a verified domain answers it.
func (s *Service) VerifyDomain(ctx context.Context, c tenancy.Caller, tenant, raw string) (Domain, error) {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActDomainsWrite, KindDomains); err != nil {
		return Domain{}, err
	}
	d, err := s.getDomain(ctx, tenant, raw)
	if err != nil {
		return Domain{}, err
	}
	if d.Status == StatusVerified {
		return d, nil
	}
	target := KindDomains + "/" + d.Domain
	now := s.now()
	if err := s.checkTXT(ctx, d); err != nil {
		reason := "verify: record not found"
		if errors.Is(err, ErrUnavailable) {
			reason = "verify: DNS unavailable"
		}
		s.record(ctx, c, tenant, ActDomainsWrite, target, tenancy.OutcomeFailure, reason, now)
		return Domain{}, err
	}
	var out Domain
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tenancy.TenantExistsTx(tx, tenant); err != nil {
			return err
		}
		var cur Domain
		if _, err := tx.Get(domainKey(tenant, d.Domain), &cur); err != nil {
			return err
		}
		if cur.ChallengeValue != d.ChallengeValue {
			return store.ErrConflict // deleted and added again meanwhile: verify the new one
		}
		ck := store.Key{Kind: KindClaims, ID: d.Domain}
		var cl Claim
		if _, err := tx.Get(ck, &cl); err == nil && cl.Tenant != tenant {
			return ErrTaken
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.Put(ck, Claim{Domain: d.Domain, Tenant: tenant, VerifiedAt: now}); err != nil {
			return err
		}
		cur.Status, cur.VerifiedAt = StatusVerified, &now
		if err := tx.Put(domainKey(tenant, d.Domain), cur); err != nil {
			return err
		}
		out = cur
		return tenancy.AuditTx(tx, c, tenant, ActDomainsWrite, target, tenancy.OutcomeSuccess, "verify "+d.Domain, now)
	})
	if err != nil {
		return Domain{}, s.finish(ctx, c, tenant, ActDomainsWrite, target, "verify", err, now)
	}
	return out, nil
}

// checkTXT reports nil when one TXT record at d.ChallengeName is d.ChallengeValue.
func (s *Service) checkTXT(ctx context.Context, d Domain) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	txts, err := s.dns.LookupTXT(ctx, d.ChallengeName)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return fmt.Errorf("%w: no TXT record at %s", ErrNotVerified, d.ChallengeName)
		}
		return fmt.Errorf("%w: DNS lookup of %s failed", ErrUnavailable, d.ChallengeName)
	}
	for _, t := range txts {
		if t == d.ChallengeValue {
			return nil
		}
	}
	return fmt.Errorf("%w: no TXT record at %s holds the challenge value", ErrNotVerified, d.ChallengeName)
}

// DeleteDomain removes the tenant's domain and, when the tenant holds it, its global claim, in
// one transaction: its hosts stop serving the tenant at once (other instances' caches within
// their TTL).
func (s *Service) DeleteDomain(ctx context.Context, c tenancy.Caller, tenant, raw string) error {
	if _, err := s.authz.Authorize(ctx, c, tenant, ActDomainsWrite, KindDomains); err != nil {
		return err
	}
	d, err := s.getDomain(ctx, tenant, raw)
	if err != nil {
		return err
	}
	target := KindDomains + "/" + d.Domain
	now := s.now()
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var cur Domain
		if _, err := tx.Get(domainKey(tenant, d.Domain), &cur); err != nil {
			return err
		}
		ck := store.Key{Kind: KindClaims, ID: d.Domain}
		var cl Claim
		_, cerr := tx.Get(ck, &cl)
		if cerr != nil && !errors.Is(cerr, store.ErrNotFound) {
			return cerr
		}
		if err := tx.Delete(domainKey(tenant, d.Domain)); err != nil {
			return err
		}
		if cerr == nil && cl.Tenant == tenant {
			if err := tx.Delete(ck); err != nil {
				return err
			}
		}
		return tenancy.AuditTx(tx, c, tenant, ActDomainsWrite, target, tenancy.OutcomeSuccess, "delete "+d.Domain, now)
	})
	return s.finish(ctx, c, tenant, ActDomainsWrite, target, "delete", err, now)
}

// record writes an audit event on its own (for failures, which wrote nothing else), even when
// the request's context has ended.
func (s *Service) record(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target, outcome, reason string, now time.Time) {
	tenancy.RecordAudit(context.WithoutCancel(ctx), s.store, c, tenant, a, target, outcome, reason, now)
}

// finish maps a mutation's transaction error and audits the failure.
func (s *Service) finish(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target, op string, err error, now time.Time) error {
	if err == nil {
		return nil
	}
	reason := op + ": internal error"
	switch {
	case errors.Is(err, tenancy.ErrTenantNotFound):
		return err // nothing to audit in a tenant that is not there
	case errors.Is(err, ErrTaken):
		reason = op + ": verified by another tenant"
	case errors.Is(err, store.ErrAlreadyExists):
		err, reason = ErrExists, op+": already added"
	case errors.Is(err, store.ErrNotFound):
		err, reason = ErrNotFound, op+": not found"
	default:
		err = fmt.Errorf("whitelabel: %s: %w", op, err)
	}
	s.record(ctx, c, tenant, a, target, tenancy.OutcomeFailure, reason, now)
	return err
}
