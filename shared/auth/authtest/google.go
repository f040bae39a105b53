// Package authtest is a hermetic stand-in for Google's token infrastructure, for tests of code
// that uses shared/auth. Google generates an RSA key (Google OIDC, RS256) and a P-256 key (IAP,
// ES256), serves them as JWKS at Google's real certificate URLs through HTTPClient, and mints
// tokens signed with them. Pass ClientOption (or option.WithHTTPClient(g.HTTPClient())) to
// auth.NewIDTokenVerifier / auth.NewIAPVerifier: the real idtoken.Validator then runs end to end
// with no network.
package authtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"
)

// Google's certificate URLs, as hard-coded in idtoken.
const (
	OIDCCertsURL = "https://www.googleapis.com/oauth2/v3/certs"
	IAPCertsURL  = "https://www.gstatic.com/iap/verify/public_key-jwk"
)

// Defaults used by IDToken and IAPToken for claims left zero.
const (
	DefaultAudience    = "https://api.runyard.test"
	DefaultIAPAudience = "/projects/123456789012/locations/us-central1/services/rt-test"
	DefaultEmail       = "alice@example.com"
	DefaultSubject     = "104500000000000000001"
	DefaultIAPSubject  = "accounts.google.com:" + DefaultSubject
	GoogleIssuer       = "https://accounts.google.com"
	IAPIssuer          = "https://cloud.google.com/iap"
)

// Claims selects the claims and signing of a minted token. Zero fields take the defaults.
type Claims struct {
	Issuer   string // default GoogleIssuer (IDToken) or IAPIssuer (IAPToken)
	Audience string // default DefaultAudience or DefaultIAPAudience
	Subject  string // default DefaultSubject or DefaultIAPSubject
	Email    string // default DefaultEmail
	// EmailVerified defaults to true for IDToken and is absent from IAP tokens unless set.
	EmailVerified *bool
	IssuedAt      time.Time // default now
	Expires       time.Time // default IssuedAt + 1h; set it in the past for an expired token
	// Extra claims are added last and override the above (any JSON value).
	Extra map[string]any
	// Omit removes claims after defaults and Extra are applied, e.g. "email", "exp".
	Omit []string

	// Header and signature overrides.
	Alg        string // header alg; default RS256 / ES256. The signature is still made natively.
	KeyID      string // header kid; default the served key's kid (use an unknown one for "wrong kid")
	UnknownKey bool   // sign with a key the JWKS does not serve, keeping the served kid
	// Signature, if non-nil, replaces the signature bytes verbatim. A short one on an ES256
	// token (IAPToken with Signature: make([]byte, 8)) makes idtoken.Validate panic (v0.311.0).
	Signature []byte
}

// Bool returns &b, for Claims.EmailVerified.
func Bool(b bool) *bool { return &b }

// Google is a fake of Google's JWKS endpoints plus a token minter. Safe for concurrent use.
type Google struct {
	rsaKey, rsaOther *rsa.PrivateKey
	ecKey, ecOther   *ecdsa.PrivateKey
	rsaKID, ecKID    string
	jwks             map[string][]byte

	mu      sync.Mutex
	fetches map[string]int
	status  int
}

// NewGoogle generates fresh keys. Keys differ between calls, so tokens from one Google do not
// verify against another's client.
func NewGoogle(tb testing.TB) *Google {
	tb.Helper()
	g := &Google{fetches: map[string]int{}, status: http.StatusOK}
	var err error
	for _, k := range []**rsa.PrivateKey{&g.rsaKey, &g.rsaOther} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			tb.Fatalf("authtest: generate rsa key: %v", err)
		}
	}
	for _, k := range []**ecdsa.PrivateKey{&g.ecKey, &g.ecOther} {
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			tb.Fatalf("authtest: generate ec key: %v", err)
		}
	}
	g.rsaKID = randKID(tb)
	g.ecKID = randKID(tb)

	b64 := base64.RawURLEncoding.EncodeToString
	oidc := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": g.rsaKID,
		"n": b64(g.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(g.rsaKey.E)).Bytes()),
	}}}
	ecPub, err := g.ecKey.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		tb.Fatalf("authtest: ec public key: %v", err)
	}
	iap := map[string]any{"keys": []map[string]string{{
		"kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256", "kid": g.ecKID,
		"x": b64(ecPub[1:33]), "y": b64(ecPub[33:]),
	}}}
	g.jwks = map[string][]byte{OIDCCertsURL: mustJSON(tb, oidc), IAPCertsURL: mustJSON(tb, iap)}
	return g
}

func randKID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("authtest: kid: %v", err)
	}
	return fmt.Sprintf("%x", b)
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("authtest: marshal: %v", err)
	}
	return b
}

// HTTPClient returns a client that answers GETs of OIDCCertsURL and IAPCertsURL with the JWKS
// (Cache-Control: public, max-age=3600) and fails every other request without touching the
// network.
func (g *Google) HTTPClient() *http.Client { return &http.Client{Transport: (*transport)(g)} }

// ClientOption is option.WithHTTPClient(g.HTTPClient()).
func (g *Google) ClientOption() option.ClientOption { return option.WithHTTPClient(g.HTTPClient()) }

// Fetches reports how many times url was requested through HTTPClient.
func (g *Google) Fetches(url string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fetches[url]
}

// SetCertsStatus makes the cert URLs answer with status code (and no body) until set back to
// http.StatusOK, to simulate Google being unavailable.
func (g *Google) SetCertsStatus(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status = code
}

// KeyIDs returns the kids of the served RSA (OIDC) and EC (IAP) keys.
func (g *Google) KeyIDs() (oidc, iap string) { return g.rsaKID, g.ecKID }

type transport Google

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := (*Google)(t)
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil { // as a real transport would
		return nil, err
	}
	u := req.URL.String()
	body, known := g.jwks[u]
	if !known || req.Method != http.MethodGet {
		return nil, fmt.Errorf("authtest: hermetic transport refuses %s %s", req.Method, u)
	}
	g.mu.Lock()
	g.fetches[u]++
	status := g.status
	g.mu.Unlock()
	if status != http.StatusOK {
		body = nil
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// IDToken mints a Google OIDC ID token (RS256) as accounts.google.com would.
func (g *Google) IDToken(tb testing.TB, c Claims) string {
	tb.Helper()
	claims := g.claims(c, GoogleIssuer, DefaultAudience, DefaultSubject, true)
	key := g.rsaKey
	if c.UnknownKey {
		key = g.rsaOther
	}
	return g.sign(tb, c, "RS256", g.rsaKID, claims, func(digest []byte) ([]byte, error) {
		return rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest)
	})
}

// IAPToken mints an IAP JWT (ES256) as Identity-Aware Proxy would.
func (g *Google) IAPToken(tb testing.TB, c Claims) string {
	tb.Helper()
	claims := g.claims(c, IAPIssuer, DefaultIAPAudience, DefaultIAPSubject, false)
	key := g.ecKey
	if c.UnknownKey {
		key = g.ecOther
	}
	return g.sign(tb, c, "ES256", g.ecKID, claims, func(digest []byte) ([]byte, error) {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	})
}

func (g *Google) claims(c Claims, iss, aud, sub string, verified bool) map[string]any {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	exp := c.Expires
	if exp.IsZero() {
		exp = iat.Add(time.Hour)
	}
	m := map[string]any{
		"iss":   or(c.Issuer, iss),
		"aud":   or(c.Audience, aud),
		"sub":   or(c.Subject, sub),
		"email": or(c.Email, DefaultEmail),
		"iat":   iat.Unix(),
		"exp":   exp.Unix(),
	}
	if c.EmailVerified != nil {
		m["email_verified"] = *c.EmailVerified
	} else if verified {
		m["email_verified"] = true
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	for _, k := range c.Omit {
		delete(m, k)
	}
	return m
}

func (g *Google) sign(tb testing.TB, c Claims, alg, kid string, claims map[string]any, signer func([]byte) ([]byte, error)) string {
	tb.Helper()
	hdr := map[string]string{"alg": alg, "kid": kid, "typ": "JWT"}
	if c.Alg != "" {
		hdr["alg"] = c.Alg
	}
	if c.KeyID != "" {
		hdr["kid"] = c.KeyID
	}
	b64 := base64.RawURLEncoding.EncodeToString
	signed := b64(mustJSON(tb, hdr)) + "." + b64(mustJSON(tb, claims))
	sig := c.Signature
	if sig == nil {
		digest := sha256.Sum256([]byte(signed))
		var err error
		if sig, err = signer(digest[:]); err != nil {
			tb.Fatalf("authtest: sign: %v", err)
		}
	}
	return signed + "." + b64(sig)
}

// Segments splits a token into its three base64url segments, for tests that tamper with one.
func Segments(token string) (header, payload, signature string) {
	parts := strings.SplitN(token, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}
