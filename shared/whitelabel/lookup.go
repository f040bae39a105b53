package whitelabel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/runyard/runyard/shared/store"
)

// Lookup answers the public side's questions from the global claims of verified domains: which
// tenant a domain or host belongs to, whose branding a host shows, and which domain a tenant's
// runtime URLs use. It needs no caller: it reveals only what DNS already shows (a verified
// domain serves some tenant) and the branding meant to be public.
//
// Answers are cached per instance for the TTL given to NewLookup (negative answers too), so a
// domain deleted or verified takes up to that long to be seen by other instances.
type Lookup struct {
	store    store.Store
	platform string // the platform's runtime domain without a port, for matching hosts
	urlBase  string // the same as configured (the local stack's carries :port), for URLs
	fallback Branding
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	v   any
	exp time.Time
}

// maxCache bounds the cache; when full it is emptied (simple and safe for a hot set this small).
const maxCache = 10000

// LookupConfig configures a Lookup.
type LookupConfig struct {
	// Platform is the platform's runtime domain (RUNTIME_DOMAIN); "" when not in domain mode.
	Platform string
	// Default is the platform's branding (DefaultBranding when its product name is empty).
	Default Branding
	// TTL is how long answers are cached; 0 caches nothing.
	TTL time.Duration
}

// NewLookup returns a Lookup over st.
func NewLookup(st store.Store, cfg LookupConfig) (*Lookup, error) {
	if st == nil {
		return nil, errors.New("whitelabel.NewLookup: store is required")
	}
	def := cfg.Default
	if def.ProductName == "" {
		def.ProductName = DefaultBranding.ProductName
	}
	return &Lookup{store: st, platform: platformHost(cfg.Platform), urlBase: strings.ToLower(strings.TrimSuffix(cfg.Platform, ".")), fallback: def, ttl: cfg.TTL,
		now: time.Now, cache: map[string]cached{}}, nil
}

// Platform is the platform's runtime domain without a port ("" when not in domain mode).
func (l *Lookup) Platform() string { return l.platform }

// DefaultBranding is the platform's branding.
func (l *Lookup) DefaultBranding() Branding { return l.fallback }

func (l *Lookup) get(key string) (any, bool) {
	if l.ttl <= 0 {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[key]
	if !ok || l.now().After(c.exp) {
		return nil, false
	}
	return c.v, true
}

func (l *Lookup) put(key string, v any) {
	if l.ttl <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= maxCache {
		clear(l.cache)
	}
	l.cache[key] = cached{v: v, exp: l.now().Add(l.ttl)}
}

// TenantForDomain returns the tenant that verified domain (canonical form, as CheckDomain
// returns it); ok is false when no tenant has. Pending domains never count.
func (l *Lookup) TenantForDomain(ctx context.Context, domain string) (tenant string, ok bool, err error) {
	if v, hit := l.get("d:" + domain); hit {
		t := v.(string)
		return t, t != "", nil
	}
	var c Claim
	if _, err := l.store.Get(ctx, store.Key{Kind: KindClaims, ID: domain}, &c); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			l.put("d:"+domain, "")
			return "", false, nil
		}
		return "", false, fmt.Errorf("whitelabel: tenant for domain: %w", err)
	}
	l.put("d:"+domain, c.Tenant)
	return c.Tenant, c.Tenant != "", nil
}

// HostMatch is what a host resolves to.
type HostMatch struct {
	// Domain is the domain the host is under (the platform's or a tenant's verified one).
	Domain string
	// Label is the part of the host before the domain ("" for the domain itself), e.g.
	// "vscode-abc" for vscode-abc.dev.acme.com under dev.acme.com.
	Label string
	// Platform: Domain is the platform's runtime domain, which serves every tenant.
	Platform bool
	// Tenant owns Domain (empty for the platform's).
	Tenant string
}

// Serves reports whether a runtime of runtimeTenant may be served on this host: on the
// platform's domain any tenant's (the gateway still authorizes the caller); on a tenant's
// domain only that tenant's own. A gateway must refuse every other case.
func (m HostMatch) Serves(runtimeTenant string) bool {
	if m.Platform {
		return runtimeTenant != ""
	}
	return m.Tenant != "" && m.Tenant == runtimeTenant
}

// maxSuffixes bounds how many parent domains a host lookup tries (each is one store read).
const maxSuffixes = 5

// ResolveHost finds the domain host is under: the platform's runtime domain, or the longest
// verified tenant domain that is host itself or a parent of it. ok is false for a host under
// neither (or not a host name).
func (l *Lookup) ResolveHost(ctx context.Context, host string) (HostMatch, bool, error) {
	h, ok := CanonicalHost(host)
	if !ok {
		return HostMatch{}, false, nil
	}
	if l.platform != "" && (h == l.platform || strings.HasSuffix(h, "."+l.platform)) {
		return HostMatch{Domain: l.platform, Label: strings.TrimSuffix(strings.TrimSuffix(h, l.platform), "."), Platform: true}, true, nil
	}
	labels := strings.Split(h, ".")
	// Longest first (a delegated subdomain verified by another tenant wins over its parent):
	// host itself, then its parents, down to two labels, at most maxSuffixes of them.
	for i := 0; i < maxSuffixes && len(labels)-i >= 2; i++ {
		d := strings.Join(labels[i:], ".")
		t, ok, err := l.TenantForDomain(ctx, d)
		if err != nil {
			return HostMatch{}, false, err
		}
		if ok {
			return HostMatch{Domain: d, Label: strings.Join(labels[:i], "."), Tenant: t}, true, nil
		}
	}
	return HostMatch{}, false, nil
}

// BrandingForHost returns the branding a frontend served on host shows: the branding of the
// tenant whose verified domain host is under, else the platform's. It returns nothing about
// the tenant but its branding.
func (l *Lookup) BrandingForHost(ctx context.Context, host string) (Branding, error) {
	m, ok, err := l.ResolveHost(ctx, host)
	if err != nil {
		return Branding{}, err
	}
	if !ok || m.Platform {
		return l.fallback, nil
	}
	b, found, err := l.TenantBranding(ctx, m.Tenant)
	if err != nil {
		return Branding{}, err
	}
	if !found {
		return l.fallback, nil
	}
	return b, nil
}

// TenantBranding returns tenant's branding with the platform's defaults filled in; found is
// false when the tenant has set none.
func (l *Lookup) TenantBranding(ctx context.Context, tenant string) (b Branding, found bool, err error) {
	if v, hit := l.get("b:" + tenant); hit {
		tb := v.(*TenantBranding)
		if tb == nil {
			return l.fallback, false, nil
		}
		return l.withDefaults(tb.Branding), true, nil
	}
	var tb TenantBranding
	if _, err := l.store.Get(ctx, store.Key{Tenant: tenant, Kind: KindBranding, ID: BrandingID}, &tb); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			l.put("b:"+tenant, (*TenantBranding)(nil))
			return l.fallback, false, nil
		}
		return Branding{}, false, fmt.Errorf("whitelabel: tenant branding: %w", err)
	}
	l.put("b:"+tenant, &tb)
	return l.withDefaults(tb.Branding), true, nil
}

func (l *Lookup) withDefaults(b Branding) Branding {
	if b.ProductName == "" {
		b.ProductName = l.fallback.ProductName
	}
	if b.LogoURL == "" {
		b.LogoURL = l.fallback.LogoURL
	}
	if b.SupportURL == "" {
		b.SupportURL = l.fallback.SupportURL
	}
	return b
}

// RuntimeDomain is the domain tenant's runtime URLs use in domain mode: the tenant's verified
// domain verified first (ties by name), else the platform's runtime domain. It is "" when the
// platform is not in domain mode (custom domains need the gateway, which only domain mode has).
func (l *Lookup) RuntimeDomain(ctx context.Context, tenant string) (string, error) {
	if l.platform == "" {
		return "", nil
	}
	if v, hit := l.get("r:" + tenant); hit {
		return v.(string), nil
	}
	ds, _, err := store.ListOf[Domain](ctx, l.store, tenant, KindDomains,
		store.Query{Where: []store.Filter{{Field: "status", Value: StatusVerified}}, Limit: MaxDomains})
	if err != nil {
		if errors.Is(err, store.ErrInvalidKey) {
			return l.urlBase, nil
		}
		return "", fmt.Errorf("whitelabel: runtime domain: %w", err)
	}
	best := l.urlBase
	var at time.Time
	for _, d := range ds {
		if d.VerifiedAt == nil {
			continue
		}
		if best == l.urlBase || d.VerifiedAt.Before(at) || (d.VerifiedAt.Equal(at) && d.Domain < best) {
			best, at = d.Domain, *d.VerifiedAt
		}
	}
	l.put("r:"+tenant, best)
	return best, nil
}
