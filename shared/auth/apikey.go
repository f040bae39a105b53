package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/runyard/runyard/shared/ids"
	"log/slog"
	"strings"
)

// API key format: ryk_<tenant>_<keyid>_<secret>
//
//	tenant  a tenant id (ValidTenantID): 3-27 chars of [a-z0-9-], no '_'
//	keyid   12 chars of lowercase base32 ([a-z2-7]), 60 random bits
//	secret  32 random bytes, base64url without padding (43 chars; may contain '_' and '-')
//
// The first two underscores after the prefix therefore split the key unambiguously.
const (
	// APIKeyPrefix starts every Runyard API key (and lets scanners find leaked ones).
	APIKeyPrefix = "ryk_"

	apiKeyIDLen     = 12
	apiKeySecretLen = 43 // base64url(32 bytes), no padding

	// MaxAPIKeyLen is the length of the longest valid key.
	MaxAPIKeyLen = len(APIKeyPrefix) + ids.MaxTenantLen + 1 + apiKeyIDLen + 1 + apiKeySecretLen
)

var keyIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// APIKey is a freshly generated key. Plaintext is shown to the user once and never stored; the
// store keeps Hash (and Prefix for display). String, GoString and LogValue redact Plaintext and
// it is excluded from JSON.
type APIKey struct {
	Tenant    string `json:"tenant"`
	ID        string `json:"id"`
	Plaintext string `json:"-"`
	// Hash is HashAPIKey(Plaintext): hex SHA-256.
	Hash string `json:"hash"`
	// Prefix is "ryk_<tenant>_<keyid>", safe to display and to log.
	Prefix string `json:"prefix"`
}

// String returns the displayable prefix followed by a redaction marker.
func (k APIKey) String() string { return k.Prefix + "_…" }

// GoString keeps %#v from printing the plaintext.
func (k APIKey) GoString() string {
	return fmt.Sprintf("auth.APIKey{Tenant:%q, ID:%q, Plaintext:REDACTED, Hash:%q, Prefix:%q}", k.Tenant, k.ID, k.Hash, k.Prefix)
}

// LogValue implements slog.LogValuer without the plaintext.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", k.Tenant), slog.String("key_id", k.ID))
}

// ValidTenantID reports whether id is a well-formed tenant id (ids.ValidTenant).
func ValidTenantID(id string) bool { return ids.ValidTenant(id) }

// NewAPIKey generates a key for tenant from crypto/rand.
func NewAPIKey(tenant string) (APIKey, error) {
	if !ValidTenantID(tenant) {
		return APIKey{}, fmt.Errorf("auth: new api key: %w: %.40q", ErrInvalidTenant, tenant)
	}
	var buf [8 + 32]byte
	if _, err := rand.Read(buf[:]); err != nil { // never fails on supported platforms
		return APIKey{}, fmt.Errorf("auth: new api key: %w", err)
	}
	id := keyIDEncoding.EncodeToString(buf[:8])[:apiKeyIDLen]
	prefix := APIKeyPrefix + tenant + "_" + id
	plain := prefix + "_" + base64.RawURLEncoding.EncodeToString(buf[8:])
	return APIKey{Tenant: tenant, ID: id, Plaintext: plain, Hash: HashAPIKey(plain), Prefix: prefix}, nil
}

// ParseAPIKey splits a presented key into its tenant and key id, so the caller can look up the
// stored hash, and checks that every part is well formed. It does not authenticate: follow it
// with MatchAPIKey. Errors wrap ErrMalformedAPIKey and never echo the input.
func ParseAPIKey(s string) (tenant, keyID string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("auth: parse api key: %w: %s", ErrMalformedAPIKey, why)
	}
	if len(s) > MaxAPIKeyLen {
		return bad("too long")
	}
	rest, ok := strings.CutPrefix(s, APIKeyPrefix)
	if !ok {
		return bad("missing " + APIKeyPrefix + " prefix")
	}
	tenant, rest, ok1 := strings.Cut(rest, "_")
	keyID, secret, ok2 := strings.Cut(rest, "_")
	if !ok1 || !ok2 {
		return bad("want ryk_<tenant>_<keyid>_<secret>")
	}
	if !ValidTenantID(tenant) {
		return bad("bad tenant id")
	}
	if len(keyID) != apiKeyIDLen || !isBase32Lower(keyID) {
		return bad("bad key id")
	}
	if len(secret) != apiKeySecretLen {
		return bad("bad secret length")
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return bad("bad secret encoding")
	}
	return tenant, keyID, nil
}

func isBase32Lower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z') && !(c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// HashAPIKey returns the hex SHA-256 of the whole plaintext key. A fast hash is enough: the
// secret carries 256 random bits, so there is nothing to brute-force.
func HashAPIKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// MatchAPIKey reports whether plaintext hashes to storedHash, comparing in constant time. A
// storedHash that is not 64 hex characters never matches.
func MatchAPIKey(plaintext, storedHash string) bool {
	want, err := hex.DecodeString(storedHash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(plaintext))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}
