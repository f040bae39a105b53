// Package previews is who may open a runtime's app ports (previews) in domain mode: a
// visibility per runtime port (private, tenant or public) and signed, expiring, revocable
// preview links that open exactly one port of one runtime. The api sets visibility and mints
// and revokes links; the gateway enforces them (functions/gateway).
//
// Settings live in tenants/{tenant}/previews/{runtime}. A link is an HMAC-SHA256 token over
// (tenant, runtime, port, expiry, link id) with the deployment's preview key; its id is recorded
// in the settings so it can be listed and revoked. The token is carried once in the
// ?runyard_token= query parameter and exchanged by the gateway for a host-only cookie.
package previews

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/store"
)

// Visibility says who may open a preview port.
type Visibility string

// Visibilities.
const (
	// Private: only the runtime's own credential (its session key) or a preview link for the port.
	Private Visibility = "private"
	// Tenant: the tenant's members too (signed in through IAP).
	Tenant Visibility = "tenant"
	// Public: anyone with the URL.
	Public Visibility = "public"
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Private || v == Tenant || v == Public }

// Names of the query parameter that carries a link once and of the cookie it becomes.
const (
	TokenParam = "runyard_token"
	Cookie     = "runyard_preview"
)

// Kind is the collection of preview settings under a tenant.
const Kind = "previews"

// Limits.
const (
	// MaxLinks is how many unexpired links a runtime may have at once.
	MaxLinks = 100
	// MinTTL and MaxTTL bound a link's lifetime; DefaultTTL is used when none is asked for.
	MinTTL     = time.Minute
	MaxTTL     = 7 * 24 * time.Hour
	DefaultTTL = time.Hour
	// MinKeyLen is the least length of the signing key.
	MinKeyLen = 32
)

// Errors.
var (
	ErrInvalid   = errors.New("previews: invalid argument")
	ErrNotFound  = errors.New("previews: not found")
	ErrTooMany   = errors.New("previews: too many links")
	ErrBadToken  = errors.New("previews: invalid link")
	ErrExpired   = errors.New("previews: link expired")
	ErrRevoked   = errors.New("previews: link revoked")
	ErrWrongPort = errors.New("previews: link is for another port")
)

// Settings is the document tenants/{tenant}/previews/{runtime}.
type Settings struct {
	Runtime string `firestore:"runtime" json:"runtime"`
	// Ports maps a port (decimal) to its visibility; ports not listed have the default.
	Ports     map[string]Visibility `firestore:"ports" json:"ports"`
	Links     []Link                `firestore:"links" json:"links"`
	UpdatedAt time.Time             `firestore:"updated_at" json:"updated_at"`
}

// Link is one issued preview link (its token is never stored).
type Link struct {
	ID        string     `firestore:"id" json:"id"`
	Port      int        `firestore:"port" json:"port"`
	ExpiresAt time.Time  `firestore:"expires_at" json:"expires_at"`
	CreatedBy string     `firestore:"created_by" json:"created_by"`
	CreatedAt time.Time  `firestore:"created_at" json:"created_at"`
	RevokedAt *time.Time `firestore:"revoked_at" json:"revoked_at,omitempty"`
}

// Visibility is port's visibility, def when the settings name none.
func (s Settings) Visibility(port int, def Visibility) Visibility {
	if v, ok := s.Ports[strconv.Itoa(port)]; ok && v.Valid() {
		return v
	}
	return def
}

// Revoked reports whether link id was revoked (or is unknown to these settings).
func (s Settings) Revoked(id string) bool {
	i := slices.IndexFunc(s.Links, func(l Link) bool { return l.ID == id })
	return i < 0 || s.Links[i].RevokedAt != nil
}

// IsPreviewPort reports whether port can carry a visibility: any port but the agent's and VS
// Code's, which follow the runtime's mode.
func IsPreviewPort(port int) bool {
	return port >= 1 && port <= 65535 && port != deploy.PortAgent && port != deploy.PortVSCode
}

// Key is the settings' document key.
func Key(tenant, runtime string) store.Key { return store.Key{Tenant: tenant, Kind: Kind, ID: runtime} }

// Get reads a runtime's settings; none stored yet is the zero Settings (every port default).
func Get(ctx context.Context, st store.Store, tenant, runtime string) (Settings, error) {
	var s Settings
	_, err := st.Get(ctx, Key(tenant, runtime), &s)
	if errors.Is(err, store.ErrNotFound) {
		return Settings{Runtime: runtime}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("previews: get: %w", err)
	}
	return s, nil
}

// Modify reads the settings in tx (zero when absent), applies fn and writes them back. Callers
// write their audit event in the same tx.
func Modify(tx store.Tx, tenant, runtime string, now time.Time, fn func(*Settings) error) (Settings, error) {
	var s Settings
	if _, err := tx.Get(Key(tenant, runtime), &s); err != nil && !errors.Is(err, store.ErrNotFound) {
		return Settings{}, err
	}
	s.Runtime = runtime
	if s.Ports == nil {
		s.Ports = map[string]Visibility{}
	}
	if err := fn(&s); err != nil {
		return Settings{}, err
	}
	// Expired links are forgotten on every write.
	s.Links = slices.DeleteFunc(s.Links, func(l Link) bool { return !l.ExpiresAt.After(now) })
	if s.Links == nil {
		s.Links = []Link{}
	}
	s.UpdatedAt = now
	if err := tx.Put(Key(tenant, runtime), s); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// SetVisibility is a Modify function that sets port's visibility.
func SetVisibility(port int, v Visibility) func(*Settings) error {
	return func(s *Settings) error {
		if !IsPreviewPort(port) {
			return fmt.Errorf("%w: port %d is not a preview port (not the agent's %d or VS Code's %d)", ErrInvalid, port, deploy.PortAgent, deploy.PortVSCode)
		}
		if !v.Valid() {
			return fmt.Errorf("%w: visibility must be private, tenant or public", ErrInvalid)
		}
		s.Ports[strconv.Itoa(port)] = v
		return nil
	}
}

// AddLink is a Modify function that records l (at most MaxLinks unexpired).
func AddLink(l Link, now time.Time) func(*Settings) error {
	return func(s *Settings) error {
		live := 0
		for _, x := range s.Links {
			if x.ExpiresAt.After(now) {
				live++
			}
		}
		if live >= MaxLinks {
			return fmt.Errorf("%w: a runtime may have %d unexpired links; revoke some or wait", ErrTooMany, MaxLinks)
		}
		s.Links = append(s.Links, l)
		return nil
	}
}

// RevokeLink is a Modify function that revokes link id of port (ErrNotFound if there is none).
func RevokeLink(port int, id string, now time.Time) func(*Settings) error {
	return func(s *Settings) error {
		i := slices.IndexFunc(s.Links, func(l Link) bool { return l.ID == id && l.Port == port })
		if i < 0 {
			return fmt.Errorf("%w: no link %s for port %d", ErrNotFound, id, port)
		}
		if s.Links[i].RevokedAt == nil {
			t := now
			s.Links[i].RevokedAt = &t
		}
		return nil
	}
}

// Claims are what a link token carries.
type Claims struct {
	Tenant  string
	Runtime string
	Port    int
	Expires time.Time
	ID      string
}

// Signer makes and checks link tokens with one key.
type Signer struct{ key []byte }

// NewSigner returns a signer for key (at least MinKeyLen bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("previews: the signing key must have at least %d bytes", MinKeyLen)
	}
	return &Signer{key: slices.Clone(key)}, nil
}

const tokenVersion = "v1"

var (
	b64       = base64.RawURLEncoding
	idEncoder = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
)

// NewLinkID returns a random link id (16 characters of [a-z2-7]).
func NewLinkID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoder.EncodeToString(b[:])
}

// Sign returns the token for c: base64url(payload) "." base64url(HMAC-SHA256(payload)).
func (s *Signer) Sign(c Claims) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	payload := strings.Join([]string{tokenVersion, c.Tenant, c.Runtime, strconv.Itoa(c.Port), strconv.FormatInt(c.Expires.Unix(), 10), c.ID}, "|")
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(s.mac([]byte(payload))), nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

// maxToken bounds what Verify reads.
const maxToken = 512

// Verify checks token's signature and shape and returns its claims, without checking expiry,
// revocation or what it opens (see Check). Errors wrap ErrBadToken.
func (s *Signer) Verify(token string) (Claims, error) {
	bad := func(why string) (Claims, error) { return Claims{}, fmt.Errorf("%w: %s", ErrBadToken, why) }
	if token == "" || len(token) > maxToken {
		return bad("empty or too long")
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return bad("not payload.signature")
	}
	payload, err1 := b64.DecodeString(p64)
	sig, err2 := b64.DecodeString(m64)
	// Re-encoding must give the input back: the decoder skips newlines and loose trailing bits.
	if err1 != nil || err2 != nil || b64.EncodeToString(payload) != p64 || b64.EncodeToString(sig) != m64 {
		return bad("not canonical base64url")
	}
	if !hmac.Equal(sig, s.mac(payload)) {
		return bad("signature does not match")
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 6 || f[0] != tokenVersion {
		return bad("unknown layout")
	}
	port, err := strconv.Atoi(f[3])
	if err != nil || strconv.Itoa(port) != f[3] {
		return bad("port")
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != f[4] {
		return bad("expiry")
	}
	c := Claims{Tenant: f[1], Runtime: f[2], Port: port, Expires: time.Unix(exp, 0).UTC(), ID: f[5]}
	if err := c.check(); err != nil {
		return bad(err.Error())
	}
	return c, nil
}

func (c Claims) check() error {
	switch {
	case !ids.ValidTenant(c.Tenant):
		return fmt.Errorf("%w: tenant", ErrInvalid)
	case !hosts.ValidRuntimeID(c.Runtime):
		return fmt.Errorf("%w: runtime", ErrInvalid)
	case !IsPreviewPort(c.Port):
		return fmt.Errorf("%w: port", ErrInvalid)
	case c.Expires.Unix() <= 0:
		return fmt.Errorf("%w: expiry", ErrInvalid)
	case c.ID == "" || len(c.ID) > 32 || strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz234567") != "":
		return fmt.Errorf("%w: link id", ErrInvalid)
	}
	return nil
}

// Check verifies token and that it opens exactly (tenant, runtime, port) now and is not revoked
// in s. Errors: ErrBadToken (also for another tenant or runtime), ErrWrongPort, ErrExpired,
// ErrRevoked.
func (sg *Signer) Check(token, tenant, runtime string, port int, now time.Time, s Settings) (Claims, error) {
	c, err := sg.Verify(token)
	switch {
	case err != nil:
		return Claims{}, err
	case c.Tenant != tenant || c.Runtime != runtime:
		return Claims{}, fmt.Errorf("%w: for another runtime", ErrBadToken)
	case c.Port != port:
		return Claims{}, fmt.Errorf("%w: opens port %d, not %d", ErrWrongPort, c.Port, port)
	case !now.Before(c.Expires):
		return Claims{}, ErrExpired
	case s.Revoked(c.ID):
		return Claims{}, ErrRevoked
	}
	return c, nil
}
