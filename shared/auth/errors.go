package auth

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of them (a context
// error may be wrapped alongside ErrKeysUnavailable). The edge maps them to stable client codes;
// the wrapped detail is for logs only.
var (
	// ErrNoCredentials: the request carries neither an Authorization header nor an X-API-Key.
	ErrNoCredentials = errors.New("no credentials")

	// ErrMalformedToken: the credential is not structurally a token of the expected kind (not a
	// JWT, bad base64 or JSON, oversized, a non-Bearer Authorization scheme, conflicting headers).
	ErrMalformedToken = errors.New("malformed token")

	// ErrTokenExpired: the token is well formed, was meant for us, and its exp has passed. The
	// client should obtain a fresh token. For Google and IAP JWTs the signature of an expired
	// token is not checked (idtoken checks exp first), so this error proves nothing about who
	// made the token; it must only ever lead to a 401.
	ErrTokenExpired = errors.New("token expired")

	// ErrInvalidToken: the token is well formed but not acceptable: bad signature, unknown key
	// id, unaccepted algorithm, wrong audience or issuer, missing or unverified email.
	ErrInvalidToken = errors.New("invalid token")

	// ErrKeysUnavailable: Google's public keys could not be fetched, so the token could not be
	// checked. This is a server-side, retryable condition (503), not the caller's fault.
	ErrKeysUnavailable = errors.New("token signing keys unavailable")

	// ErrMalformedAPIKey: the string is not a Runyard API key (ryk_<tenant>_<keyid>_<secret>).
	ErrMalformedAPIKey = errors.New("malformed api key")

	// ErrInvalidTenant: a tenant id does not satisfy ValidTenantID.
	ErrInvalidTenant = errors.New("invalid tenant id")

	// ErrInvalidDevKey: a dev-token key is not 32 bytes, or its file is unreadable or too open.
	ErrInvalidDevKey = errors.New("invalid dev token key")
)
