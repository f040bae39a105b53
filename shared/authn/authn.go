// Package authn turns a request's credentials into a tenancy.Caller: Google ID tokens (and, in
// the local dev stack only, dev tokens) for users, tenant API keys (Authorization: Bearer ryk_…
// or X-API-Key) checked against their stored hash.
//
// It is glue between shared/auth (credential formats and verification) and shared/tenancy (the
// stored keys), shared by every function that takes tenant callers.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// TokenVerifier verifies a bearer token into a principal (auth.IDTokenVerifier).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (auth.Principal, error)
}

// DevVerifier verifies local dev tokens (auth.DevTokens). Only the local binary sets one.
type DevVerifier interface {
	Verify(raw string) (auth.Principal, error)
}

// Authenticator authenticates requests.
type Authenticator struct {
	tenancy  *tenancy.Service
	idTokens TokenVerifier
	dev      DevVerifier
}

// New returns an Authenticator. dev may be nil and must be nil outside the local dev stack.
func New(t *tenancy.Service, idTokens TokenVerifier, dev DevVerifier) (*Authenticator, error) {
	if t == nil || idTokens == nil {
		return nil, errors.New("authn.New: tenancy service and ID token verifier are required")
	}
	return &Authenticator{tenancy: t, idTokens: idTokens, dev: dev}, nil
}

// Authenticate returns the request's caller, or an error from shared/auth
// (ErrNoCredentials, ErrMalformedToken, ErrTokenExpired, ErrInvalidToken, ErrMalformedAPIKey,
// ErrKeysUnavailable) or shared/tenancy (ErrKeyUnknown, ErrKeyRevoked).
func (a *Authenticator) Authenticate(r *http.Request) (tenancy.Caller, error) {
	ctx := r.Context()
	cred, err := auth.FromRequest(r)
	if err != nil {
		return tenancy.Caller{}, err
	}
	c := tenancy.Caller{IP: httpx.ClientIP(r), UserAgent: r.UserAgent(), RequestID: httpx.RequestIDFrom(ctx)}
	switch cred.Kind {
	case auth.CredentialAPIKey:
		tenant, keyID, err := auth.ParseAPIKey(cred.Value)
		if err != nil {
			return tenancy.Caller{}, err
		}
		k, err := a.tenancy.AuthenticateAPIKey(ctx, tenant, keyID, cred.Value, auth.MatchAPIKey)
		if err != nil {
			return tenancy.Caller{}, err
		}
		c.Kind, c.Tenant, c.KeyID, c.Scopes = tenancy.CallerAPIKey, tenant, k.ID, k.Scopes
		return c, nil
	case auth.CredentialBearer:
		var p auth.Principal
		if auth.DevTokenLooksLike(cred.Value) {
			if a.dev == nil {
				return tenancy.Caller{}, fmt.Errorf("%w: dev tokens are accepted only by the local dev stack", auth.ErrInvalidToken)
			}
			p, err = a.dev.Verify(cred.Value)
		} else {
			p, err = a.idTokens.Verify(ctx, cred.Value)
		}
		if err != nil {
			return tenancy.Caller{}, err
		}
		c.Kind, c.Email = tenancy.CallerUser, p.Email
		return c, nil
	}
	return tenancy.Caller{}, auth.ErrNoCredentials
}

// Error codes for authentication failures (401).
const (
	CodeMalformedToken  = "malformed_token"
	CodeTokenExpired    = "token_expired"
	CodeInvalidToken    = "invalid_token"
	CodeInvalidAPIKey   = "invalid_api_key"
	CodeAPIKeyRevoked   = "api_key_revoked"
	CodeKeysUnavailable = "auth_unavailable"
)

// AsAPIError maps an Authenticate error to its answer.
func AsAPIError(err error) *httpx.APIError {
	u := func(code, msg string) *httpx.APIError {
		return httpx.Unauthenticated(code, "%s", msg).WithCause(err)
	}
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		return u(httpx.CodeUnauthenticated, "sign in: send Authorization: Bearer <Google ID token> or a tenant API key")
	case errors.Is(err, auth.ErrMalformedToken):
		return u(CodeMalformedToken, "the bearer token is malformed")
	case errors.Is(err, auth.ErrTokenExpired):
		return u(CodeTokenExpired, "the token has expired")
	case errors.Is(err, auth.ErrInvalidToken):
		return u(CodeInvalidToken, "the token is not valid for this service")
	case errors.Is(err, auth.ErrMalformedAPIKey), errors.Is(err, auth.ErrInvalidTenant), errors.Is(err, tenancy.ErrKeyUnknown):
		return u(CodeInvalidAPIKey, "the API key is not valid")
	case errors.Is(err, tenancy.ErrKeyRevoked):
		return u(CodeAPIKeyRevoked, "the API key has been revoked")
	case errors.Is(err, auth.ErrKeysUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, CodeKeysUnavailable, "token verification is unavailable, retry").WithCause(err)
	}
	return &httpx.APIError{Status: http.StatusInternalServerError, Code: httpx.CodeInternal, Message: "internal error", Cause: err}
}

// NewAPIKey mints tenant API keys for tenancy.NewService (auth.NewAPIKey in the shape
// tenancy.NewKeyFunc wants).
func NewAPIKey(tenant string) (id, plaintext, hash, prefix string, err error) {
	k, err := auth.NewAPIKey(tenant)
	if err != nil {
		return "", "", "", "", err
	}
	return k.ID, k.Plaintext, k.Hash, k.Prefix, nil
}
