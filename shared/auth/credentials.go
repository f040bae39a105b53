package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// CredentialKind says which verifier a Credential goes to.
type CredentialKind string

const (
	// CredentialBearer is a bearer token: a Google ID token, or a dev token
	// (DevTokenLooksLike) on the local stack.
	CredentialBearer CredentialKind = "bearer"
	// CredentialAPIKey is a tenant API key (ParseAPIKey, then MatchAPIKey).
	CredentialAPIKey CredentialKind = "api_key"
)

// APIKeyHeader is the header OpenHands (and other API-key clients) send the key in.
const APIKeyHeader = "X-API-Key"

// maxCredentialLen bounds a credential value.
const maxCredentialLen = MaxTokenLen

// Credential is what a request presented. Value is a secret: String and GoString redact it.
type Credential struct {
	Kind  CredentialKind
	Value string
}

// String returns the kind only.
func (c Credential) String() string { return string(c.Kind) + ":REDACTED" }

// GoString keeps %#v from printing the value.
func (c Credential) GoString() string {
	return fmt.Sprintf("auth.Credential{Kind:%q, Value:REDACTED}", c.Kind)
}

// FromRequest extracts the caller's credential from "Authorization: Bearer <v>" or
// "X-API-Key: <v>". A bearer value starting with APIKeyPrefix is an API key (clients may send
// keys either way).
//
// Rules, so that no request is ever read two ways:
//   - neither header: ErrNoCredentials (an empty header counts as absent);
//   - Authorization present but not exactly "Bearer <token>" (scheme case-insensitive), repeated,
//     or too long: ErrMalformedToken;
//   - X-API-Key repeated or too long: ErrMalformedToken;
//   - both headers present: accepted only if they carry the same value (some clients send the key
//     twice), otherwise ErrMalformedToken rather than guessing which identity the caller meant.
//
// FromRequest checks only framing; the value is verified by the caller.
func FromRequest(r *http.Request) (Credential, error) {
	bad := func(why string) (Credential, error) {
		return Credential{}, fmt.Errorf("auth: credentials from request: %w: %s", ErrMalformedToken, why)
	}
	authz, hasAuthz, ok := single(r.Header, "Authorization")
	if !ok {
		return bad("more than one Authorization header")
	}
	apiKey, hasKey, ok := single(r.Header, APIKeyHeader)
	if !ok {
		return bad("more than one " + APIKeyHeader + " header")
	}
	if !hasAuthz && !hasKey {
		return Credential{}, fmt.Errorf("auth: credentials from request: %w", ErrNoCredentials)
	}

	var bearer string
	if hasAuthz {
		scheme, tok, found := strings.Cut(authz, " ")
		switch {
		case !found || !strings.EqualFold(scheme, "Bearer"):
			return bad("Authorization scheme is not Bearer")
		case tok == "" || strings.ContainsAny(tok, " \t"):
			return bad("Authorization: Bearer needs exactly one token")
		case len(tok) > maxCredentialLen:
			return bad("token too long")
		}
		bearer = tok
	}
	if hasKey {
		switch {
		case len(apiKey) > maxCredentialLen:
			return bad(APIKeyHeader + " too long")
		case hasAuthz && apiKey != bearer:
			return bad("both Authorization and " + APIKeyHeader + " present with different values")
		}
		return Credential{Kind: CredentialAPIKey, Value: apiKey}, nil
	}
	if strings.HasPrefix(bearer, APIKeyPrefix) {
		return Credential{Kind: CredentialAPIKey, Value: bearer}, nil
	}
	return Credential{Kind: CredentialBearer, Value: bearer}, nil
}

// single returns the only value of header name, trimmed; present is false if it is absent or
// empty, ok is false if it is repeated.
func single(h http.Header, name string) (v string, present, ok bool) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", false, true
	case 1:
		v = strings.TrimSpace(vs[0])
		return v, v != "", true
	default:
		return "", true, false
	}
}
