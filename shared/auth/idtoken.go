package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// googleIssuers are the iss values of Google ID tokens (unexported: a mutable slice).
var googleIssuers = []string{"https://accounts.google.com", "accounts.google.com"}

// IDTokenVerifier verifies Google-signed OIDC ID tokens (RS256) for a fixed set of audiences.
// It is safe for concurrent use; build one at startup and reuse it, because its idtoken.Validator
// caches Google's keys for as long as Google's Cache-Control max-age says.
type IDTokenVerifier struct {
	v      *idtoken.Validator
	policy jwtPolicy
}

// NewIDTokenVerifier returns a verifier accepting ID tokens whose aud is one of audiences (the
// OAuth client ids or URLs the deployable is known by). opts go to idtoken.NewValidator; tests
// pass option.WithHTTPClient with authtest.Google's client.
func NewIDTokenVerifier(ctx context.Context, audiences []string, opts ...option.ClientOption) (*IDTokenVerifier, error) {
	if len(audiences) == 0 || slices.Contains(audiences, "") {
		return nil, errors.New("auth: new id token verifier: at least one audience required, none empty")
	}
	v, err := idtoken.NewValidator(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("auth: new id token verifier: %w", err)
	}
	return &IDTokenVerifier{v: v, policy: jwtPolicy{
		name:      "id token",
		alg:       "RS256",
		issuers:   googleIssuers,
		audiences: slices.Clone(audiences),
	}}, nil
}

// Verify checks raw (the bearer token, without "Bearer ") and returns a KindUser Principal.
// Beyond what idtoken checks (signature, exp, aud) it requires alg RS256, iss "https://accounts.google.com" or "accounts.google.com",
// a sub, an email and email_verified true. Errors wrap ErrMalformedToken, ErrTokenExpired,
// ErrInvalidToken or ErrKeysUnavailable. Verify never panics.
func (v *IDTokenVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	c, err := v.policy.verify(ctx, v.v, raw)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case c.Sub == "":
		return Principal{}, fmt.Errorf("auth: verify id token: %w: no sub claim", ErrInvalidToken)
	case c.Email == "":
		return Principal{}, fmt.Errorf("auth: verify id token: %w: no email claim", ErrInvalidToken)
	case c.EmailVerified == nil || !bool(*c.EmailVerified):
		return Principal{}, fmt.Errorf("auth: verify id token: %w: email not verified", ErrInvalidToken)
	}
	return Principal{
		Kind:    KindUser,
		Email:   strings.ToLower(c.Email),
		Subject: c.Sub,
		Issuer:  c.Iss,
	}, nil
}
