package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Dev tokens are for the local dev stack (`runyard dev`, `runyard dev token --email x`) only.
//
// SECURITY: a DevTokens value must only ever be constructed by the local binary. No cloud
// deployable (function, service, sidecar, gateway) may construct one or read a dev key, because
// whoever holds the key can mint any identity. Cloud authenticators also never route tokens with
// DevTokenPrefix anywhere but to a rejection.
const (
	// DevTokenPrefix starts every dev token: "rydev.<base64url payload>.<base64url mac>".
	DevTokenPrefix = "rydev."
	// DevKeyFile is the key's file name inside the directory given to LoadOrCreateDevKey.
	DevKeyFile = "dev-token.key"
	// DevKeySize is the HMAC-SHA256 key size in bytes.
	DevKeySize = 32

	maxDevTokenLen = 1 << 10
)

// DevTokenLooksLike reports whether raw has the dev-token prefix, so an authenticator can route
// a bearer token without trying every verifier. It does not verify anything.
func DevTokenLooksLike(raw string) bool { return strings.HasPrefix(raw, DevTokenPrefix) }

type devPayload struct {
	Email string `json:"email"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
}

// DevTokens mints and verifies dev tokens with one HMAC-SHA256 key. See the SECURITY note above:
// local binary only.
type DevTokens struct {
	key []byte
	err error
	now func() time.Time
}

// NewDevTokens returns a minter/verifier for key (DevKeySize bytes, from LoadOrCreateDevKey).
// The key is copied. With a key of the wrong size every Mint and Verify fails with
// ErrInvalidDevKey.
func NewDevTokens(key []byte) *DevTokens {
	d := &DevTokens{key: bytes.Clone(key), now: time.Now}
	if len(key) != DevKeySize {
		d.key, d.err = nil, fmt.Errorf("auth: dev tokens: %w: %d bytes, want %d", ErrInvalidDevKey, len(key), DevKeySize)
	}
	return d
}

// Mint returns a dev token for email, valid for ttl.
func (d *DevTokens) Mint(email string, ttl time.Duration) (string, error) {
	if d.err != nil {
		return "", d.err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if !plausibleEmail(email) {
		return "", fmt.Errorf("auth: mint dev token: email %.80q is not an address", email)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: mint dev token: ttl %v must be positive", ttl)
	}
	now := d.now()
	pb, err := json.Marshal(devPayload{Email: email, Iat: now.Unix(), Exp: now.Add(ttl).Unix()})
	if err != nil {
		return "", fmt.Errorf("auth: mint dev token: %w", err)
	}
	signed := DevTokenPrefix + base64.RawURLEncoding.EncodeToString(pb)
	return signed + "." + base64.RawURLEncoding.EncodeToString(d.mac(signed)), nil
}

// mac covers the prefix and the encoded payload.
func (d *DevTokens) mac(signed string) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Verify checks a dev token and returns a KindUser Principal with Dev set. Errors wrap
// ErrMalformedToken (structure), ErrInvalidToken (bad MAC or claims) or ErrTokenExpired; the MAC
// is checked before the payload is parsed, so expiry is only reported for genuine tokens.
func (d *DevTokens) Verify(raw string) (Principal, error) {
	if d.err != nil {
		return Principal{}, d.err
	}
	bad := func(sentinel error, why string) (Principal, error) {
		return Principal{}, fmt.Errorf("auth: verify dev token: %w: %s", sentinel, why)
	}
	if len(raw) > maxDevTokenLen {
		return bad(ErrMalformedToken, "too long")
	}
	rest, ok := strings.CutPrefix(raw, DevTokenPrefix)
	if !ok {
		return bad(ErrMalformedToken, "missing "+DevTokenPrefix+" prefix")
	}
	ps, ms, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(ms, ".") {
		return bad(ErrMalformedToken, "want rydev.<payload>.<mac>")
	}
	pb, err1 := base64.RawURLEncoding.Strict().DecodeString(ps)
	mb, err2 := base64.RawURLEncoding.Strict().DecodeString(ms)
	if err1 != nil || err2 != nil || len(mb) != sha256.Size {
		return bad(ErrMalformedToken, "bad encoding")
	}
	if !hmac.Equal(mb, d.mac(raw[:len(DevTokenPrefix)+len(ps)])) {
		return bad(ErrInvalidToken, "bad mac")
	}
	var p devPayload
	if err := json.Unmarshal(pb, &p); err != nil {
		return bad(ErrInvalidToken, "bad payload")
	}
	if !plausibleEmail(p.Email) || p.Email != strings.ToLower(p.Email) {
		return bad(ErrInvalidToken, "bad email")
	}
	if d.now().Unix() > p.Exp {
		return bad(ErrTokenExpired, "exp passed")
	}
	return Principal{Kind: KindUser, Email: p.Email, Issuer: IssuerDev, Dev: true}, nil
}

func plausibleEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 && len(s) <= 254 &&
		!strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// LoadOrCreateDevKey returns the dev key stored in dir/DevKeyFile, creating dir (0700) and the
// file (0600, hex) with a fresh random key on first use. Concurrent first runs agree on one key.
// An existing file that is group- or world-accessible is refused (on Unix).
func LoadOrCreateDevKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, DevKeyFile)
	key, err := readDevKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create dev key: %w", err)
	}
	key = make([]byte, DevKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("auth: create dev key: %w", err)
	}
	// Write a temp file and hard-link it into place: the link fails if another process won the
	// race, and readers never see a partly written key.
	tmp, err := os.CreateTemp(dir, ".dev-token.key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("auth: create dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(key) + "\n")
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("auth: create dev key: %w", err)
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links on this filesystem: fall back to an exclusive create.
		err = writeExclusive(path, hex.EncodeToString(key)+"\n")
	}
	if errors.Is(err, fs.ErrExist) {
		return readDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: create dev key: %w", err)
	}
	return key, nil
}

func writeExclusive(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(content)
	return errors.Join(werr, f.Sync(), f.Close())
}

func readDevKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read dev key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: read dev key: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: read dev key: %w: %s has mode %v, want 0600 (chmod 600 it)", ErrInvalidDevKey, path, st.Mode().Perm())
	}
	buf, err := io.ReadAll(io.LimitReader(f, 4*DevKeySize))
	if err != nil {
		return nil, fmt.Errorf("auth: read dev key: %w: %w", ErrInvalidDevKey, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(buf)))
	if err != nil || len(key) != DevKeySize {
		return nil, fmt.Errorf("auth: read dev key: %w: %s is not %d hex-encoded bytes", ErrInvalidDevKey, path, DevKeySize)
	}
	return key, nil
}
