// Package whitelabel is the domain of a tenant's white label: its branding (product name,
// logo, colors, support URL, analytics key) and its custom domains, proven by a DNS TXT record.
//
// A verified custom domain is claimed globally (domains/{domain}, claimed in the same store
// transaction that marks the tenant's record verified), so two tenants can never both verify
// the same domain. Lookup answers the questions of the public side — which tenant a domain or
// host belongs to (the gateway), whose branding a host shows (GET /v1/branding) and which
// domain a tenant's runtime URLs use — from the claims alone; Service is the tenant side
// (authorized and audited through shared/tenancy).
//
// It imports no cloud SDK: the store is a port, DNS is a TXTResolver (a net.Resolver).
package whitelabel

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Collections.
const (
	// KindBranding holds tenants/{t}/branding/{BrandingID}.
	KindBranding = "branding"
	// BrandingID is the id of a tenant's one branding document.
	BrandingID = "current"
	// KindDomains holds a tenant's domains, tenants/{t}/domains/{domain}.
	KindDomains = "domains"
	// KindClaims is the global collection of verified domains' claims,
	// domainclaims/{domain} (store.KindDomainClaims).
	KindClaims = store.KindDomainClaims
)

// Kinds lists every collection this package writes under a tenant (tenant deletion removes
// them; it also removes the tenant's global claims, see Claim).
var Kinds = []string{KindBranding, KindDomains}

// Actions of this package, checked through tenancy's permission table.
const (
	ActBrandingRead  = tenancy.ActBrandingRead
	ActBrandingWrite = tenancy.ActBrandingWrite
	ActDomainsList   = tenancy.ActDomainsList
	ActDomainsWrite  = tenancy.ActDomainsWrite
)

// Errors callers branch on. Those that mean the same as a tenancy error wrap it, so the api
// function's error mapping answers them without knowing this package.
var (
	// ErrInvalidDomain: not a domain a tenant may bring (see CheckDomain).
	ErrInvalidDomain = fmt.Errorf("whitelabel: invalid domain: %w", tenancy.ErrInvalid)
	// ErrInvalidBranding: a branding field is malformed.
	ErrInvalidBranding = fmt.Errorf("whitelabel: invalid branding: %w", tenancy.ErrInvalid)
	// ErrNotFound: no such domain of the tenant.
	ErrNotFound = fmt.Errorf("whitelabel: domain not found: %w", tenancy.ErrNotFound)
	// ErrExists: the tenant already has the domain.
	ErrExists = fmt.Errorf("whitelabel: domain already added: %w", tenancy.ErrExists)
	// ErrTaken: another tenant has verified the domain.
	ErrTaken = errors.New("whitelabel: domain verified by another tenant")
	// ErrNotVerified: the TXT record was not found (or holds another value).
	ErrNotVerified = errors.New("whitelabel: verification record not found")
	// ErrTooMany: the tenant has MaxDomains domains.
	ErrTooMany = fmt.Errorf("whitelabel: too many domains: %w", tenancy.ErrQuota)
	// ErrUnavailable: DNS (or the store) failed transiently; retry.
	ErrUnavailable = fmt.Errorf("whitelabel: backend unavailable: %w", tenancy.ErrUnavailable)
)

// Limits.
const (
	// MaxDomains is how many domains (pending or verified) a tenant may have.
	MaxDomains = 20
	// MaxDomainLen leaves room under DNS's 253 for the runtime label in front
	// ("vscode-<runtime>." or "<port>-<runtime>.").
	MaxDomainLen = 190
	// ChallengePrefix is the label in front of a domain where its TXT record goes.
	ChallengePrefix = "_runyard-challenge."
	// challengeValuePrefix starts every verification value.
	challengeValuePrefix = "runyard-verify="
)

// Domain statuses.
const (
	StatusPending  = "pending"
	StatusVerified = "verified"
)

// Domain is the document tenants/{t}/domains/{domain}: a domain the tenant brings, with the
// TXT record that proves it controls the domain's DNS.
type Domain struct {
	Domain string `firestore:"domain" json:"domain"`
	Status string `firestore:"status" json:"status"`
	// ChallengeName and ChallengeValue are the TXT record to create: name ChallengeName
	// (ChallengePrefix + domain), value ChallengeValue.
	ChallengeName  string     `firestore:"challenge_name" json:"challenge_name"`
	ChallengeValue string     `firestore:"challenge_value" json:"challenge_value"`
	CreatedAt      time.Time  `firestore:"created_at" json:"created_at"`
	CreatedBy      string     `firestore:"created_by" json:"created_by"`
	VerifiedAt     *time.Time `firestore:"verified_at" json:"verified_at,omitempty"`
}

// Claim is the global document domainclaims/{domain}: the one tenant that verified the domain.
type Claim struct {
	Domain     string    `firestore:"domain"`
	Tenant     string    `firestore:"tenant"`
	VerifiedAt time.Time `firestore:"verified_at"`
}

// Colors are a branding's colors, each "#rrggbb" or empty (the frontend's default).
type Colors struct {
	Primary    string `firestore:"primary" json:"primary,omitempty"`
	Accent     string `firestore:"accent" json:"accent,omitempty"`
	Background string `firestore:"background" json:"background,omitempty"`
	Text       string `firestore:"text" json:"text,omitempty"`
}

// Branding is what a frontend themes itself with. It is public (GET /v1/branding): it holds
// nothing secret — the analytics key is a public site key by nature.
type Branding struct {
	ProductName string `firestore:"product_name" json:"product_name"`
	LogoURL     string `firestore:"logo_url" json:"logo_url,omitempty"`
	Colors      Colors `firestore:"colors" json:"colors"`
	SupportURL  string `firestore:"support_url" json:"support_url,omitempty"`
	// AnalyticsKey is the frontend's analytics site key; empty means no analytics.
	AnalyticsKey string `firestore:"analytics_key" json:"analytics_key,omitempty"`
}

// TenantBranding is the document tenants/{t}/branding/current.
type TenantBranding struct {
	Branding
	UpdatedAt time.Time `firestore:"updated_at" json:"updated_at"`
	UpdatedBy string    `firestore:"updated_by" json:"updated_by"`
}

// DefaultBranding is the platform's branding when nothing else is configured.
var DefaultBranding = Branding{ProductName: "Runyard"}

// Branding limits.
const (
	MaxProductName  = 80
	MaxURL          = 2048
	MaxAnalyticsKey = 128
)

var (
	colorRE        = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	analyticsKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	labelRE        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Check validates b and returns it cleaned (trimmed, colors lower-cased). An empty product
// name is allowed: the frontend shows the platform's.
func (b Branding) Check() (Branding, error) {
	bad := func(f string, a ...any) (Branding, error) {
		return Branding{}, fmt.Errorf("%w: %s", ErrInvalidBranding, fmt.Sprintf(f, a...))
	}
	b.ProductName = strings.TrimSpace(b.ProductName)
	if utf8.RuneCountInString(b.ProductName) > MaxProductName || !utf8.ValidString(b.ProductName) {
		return bad("product_name must be at most %d characters", MaxProductName)
	}
	for _, r := range b.ProductName {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return bad("product_name has control or invalid characters")
		}
	}
	var err error
	if b.LogoURL, err = checkHTTPS("logo_url", b.LogoURL); err != nil {
		return Branding{}, err
	}
	if b.SupportURL, err = checkHTTPS("support_url", b.SupportURL); err != nil {
		return Branding{}, err
	}
	for _, c := range []struct {
		name string
		v    *string
	}{{"primary", &b.Colors.Primary}, {"accent", &b.Colors.Accent}, {"background", &b.Colors.Background}, {"text", &b.Colors.Text}} {
		if *c.v == "" {
			continue
		}
		if !colorRE.MatchString(*c.v) {
			return bad("colors.%s must be #rrggbb", c.name)
		}
		*c.v = strings.ToLower(*c.v)
	}
	if b.AnalyticsKey != "" && !analyticsKeyRE.MatchString(b.AnalyticsKey) {
		return bad("analytics_key must be 1-%d characters of A-Z, a-z, 0-9 and _ . : -", MaxAnalyticsKey)
	}
	return b, nil
}

// checkHTTPS accepts "" or an absolute https URL with a host and no credentials.
func checkHTTPS(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	bad := fmt.Errorf("%w: %s must be an https URL of at most %d characters", ErrInvalidBranding, field, MaxURL)
	if len(v) > MaxURL || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", bad
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || u.Hostname() == "" {
		return "", bad
	}
	return u.String(), nil
}

// profile converts internationalized names to their ASCII (punycode) form, strictly: the
// lookup mapping (case folding, width), label validation, the bidi rule, DNS lengths, and
// only letters, digits and hyphens.
var profile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true),
	idna.VerifyDNSLength(true), idna.StrictDomainName(true), idna.Transitional(false))

// reservedTLDs can never be a tenant's domain (RFC 2606, RFC 6761, RFC 6762, and internal).
var reservedTLDs = map[string]bool{"localhost": true, "local": true, "internal": true, "test": true,
	"invalid": true, "example": true, "arpa": true, "onion": true, "home": true, "lan": true, "corp": true}

// CheckDomain validates a domain a tenant brings and returns its canonical form (lower-case
// ASCII, punycode for internationalized names, no trailing dot). It refuses wildcards, IP
// addresses, ports, names with fewer than two labels, public suffixes (com, co.uk, run.app…),
// reserved names, names too long to prefix with a runtime label, and the platform's own
// runtime domain, its subdomains and its parents (platform may be empty).
func CheckDomain(raw, platform string) (string, error) {
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %s", ErrInvalidDomain, why) }
	d := strings.TrimSpace(raw)
	if d == "" {
		return bad("domain is required")
	}
	if len(d) > 4*MaxDomainLen {
		return bad("domain is too long")
	}
	if strings.Contains(d, "*") {
		return bad("wildcards are not allowed; give the domain itself (its hosts are *.domain)")
	}
	if strings.ContainsAny(d, ":/\\@?#[] \t") {
		return bad("give a bare domain name, without scheme, port or path")
	}
	if ip := net.ParseIP(strings.TrimSuffix(d, ".")); ip != nil {
		return bad("IP addresses are not domains")
	}
	d = strings.TrimSuffix(d, ".")
	a, err := profile.ToASCII(d)
	if err != nil {
		return bad("not a valid domain name")
	}
	a = strings.ToLower(a)
	if len(a) > MaxDomainLen {
		return bad(fmt.Sprintf("domain must be at most %d characters", MaxDomainLen))
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return bad("domain needs at least two labels (example.com)")
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return bad("each label must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")
		}
	}
	tld := labels[len(labels)-1]
	if reservedTLDs[tld] {
		return bad("reserved top-level domain ." + tld)
	}
	if strings.Trim(tld, "0123456789") == "" {
		return bad("the top-level domain cannot be numeric")
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(a); err != nil {
		return bad("a public suffix cannot be a tenant's domain")
	}
	if p := platformHost(platform); p != "" {
		if a == p || strings.HasSuffix(a, "."+p) || strings.HasSuffix(p, "."+a) {
			return bad("the platform's runtime domain, its subdomains and parents are not available")
		}
	}
	// The round trip must be stable, or two spellings could name one claim.
	if u, err := profile.ToUnicode(a); err != nil {
		return bad("not a valid domain name")
	} else if b, err := profile.ToASCII(u); err != nil || b != a {
		return bad("not a valid domain name")
	}
	return a, nil
}

// platformHost is the platform's runtime domain without a port (the local stack's carries one)
// or a trailing dot, lower-cased.
func platformHost(p string) string {
	if h, _, err := net.SplitHostPort(p); err == nil {
		p = h
	}
	return strings.ToLower(strings.TrimSuffix(p, "."))
}

// CanonicalHost lower-cases host, drops a port and a trailing dot, and converts an
// internationalized name to ASCII; ok is false for anything that is not a host name.
func CanonicalHost(host string) (string, bool) {
	if len(host) > 300 {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSpace(host), ".")
	if host == "" || net.ParseIP(host) != nil {
		return "", false
	}
	a, err := profile.ToASCII(host)
	if err != nil || len(a) > 253 {
		return "", false
	}
	a = strings.ToLower(a)
	for _, l := range strings.Split(a, ".") {
		if !labelRE.MatchString(l) {
			return "", false
		}
	}
	return a, true
}
