package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// IAPIssuer is the iss of IAP JWTs.
const IAPIssuer = "https://cloud.google.com/iap"

// IAPHeader is the request header that carries the IAP JWT.
const IAPHeader = "X-Goog-IAP-JWT-Assertion"

// IAPVerifier verifies the JWTs Identity-Aware Proxy puts in the x-goog-iap-jwt-assertion header
// (ES256, keys from https://www.gstatic.com/iap/verify/public_key-jwk). Safe for concurrent use;
// build one per audience at startup and reuse it.
type IAPVerifier struct {
	v      *idtoken.Validator
	policy jwtPolicy
}

// NewIAPVerifier returns a verifier for one exact audience:
// "/projects/NUMBER/locations/REGION/services/SERVICE" for IAP directly on Cloud Run, or
// "/projects/NUMBER/global/backendServices/ID" behind a load balancer.
func NewIAPVerifier(ctx context.Context, audience string, opts ...option.ClientOption) (*IAPVerifier, error) {
	if audience == "" {
		return nil, errors.New("auth: new iap verifier: audience required")
	}
	v, err := idtoken.NewValidator(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("auth: new iap verifier: %w", err)
	}
	return &IAPVerifier{v: v, policy: jwtPolicy{
		name:      "iap jwt",
		alg:       "ES256",
		issuers:   []string{IAPIssuer},
		audiences: []string{audience},
	}}, nil
}

// Verify checks raw (the header value) and returns a KindUser Principal with the email and sub
// claims. It requires alg ES256 with a 64-byte signature, iss IAPIssuer, the exact audience, a
// sub and an email. Errors wrap the same sentinels as IDTokenVerifier.Verify. Never panics.
func (v *IAPVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	c, err := v.policy.verify(ctx, v.v, raw)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case c.Sub == "":
		return Principal{}, fmt.Errorf("auth: verify iap jwt: %w: no sub claim", ErrInvalidToken)
	case c.Email == "":
		return Principal{}, fmt.Errorf("auth: verify iap jwt: %w: no email claim", ErrInvalidToken)
	}
	return Principal{
		Kind:    KindUser,
		Email:   strings.ToLower(c.Email),
		Subject: c.Sub,
		Issuer:  c.Iss,
	}, nil
}
