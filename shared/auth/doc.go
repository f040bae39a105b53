// Package auth holds Runyard's authentication primitives: it turns a credential presented by a
// caller into a Principal, and nothing more. It has no store dependency and serves no HTTP; the
// authenticators in the deployables (api, runtimeapi, gateway, the runtime sidecar) combine these
// pieces with the store (to look up API-key hashes and scopes) and map the sentinel errors to
// stable client error codes at the edge.
//
// The pieces:
//
//   - IDTokenVerifier checks Google ID tokens (RS256, from accounts.google.com) with a reused
//     idtoken.Validator, adding the checks idtoken leaves out: issuer, a configured set of
//     audiences, a verified email, and a guard against idtoken's panic on short ES256 signatures.
//   - IAPVerifier checks Identity-Aware Proxy JWTs (ES256, iss https://cloud.google.com/iap).
//   - NewAPIKey, ParseAPIKey, HashAPIKey and MatchAPIKey implement tenant API keys of the form
//     ryk_<tenant>_<keyid>_<secret>; only the SHA-256 of a key is ever stored.
//   - DevTokens mints and verifies HMAC-signed bearer tokens for the local dev stack only.
//   - FromRequest extracts the credential (bearer token or API key) from a request.
//
// Errors: every failure wraps one of the exported sentinels (ErrMalformedToken, ErrTokenExpired,
// ErrInvalidToken, ErrKeysUnavailable, ErrMalformedAPIKey, ErrNoCredentials, ...), so callers
// branch with errors.Is. No error message, String method or log value produced by this package
// contains a token, an API-key secret or a signing key.
package auth
