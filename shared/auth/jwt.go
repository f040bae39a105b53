package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/idtoken"
)

// MaxTokenLen bounds the bearer tokens this package will parse. Google ID tokens and IAP JWTs
// are around 1 KiB.
const MaxTokenLen = 8 << 10

// es256SigLen is the length of an ES256 JWS signature: r and s, 32 bytes each.
const es256SigLen = 64

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// jwtClaims are the claims this package reads. The types match idtoken.Payload (aud is a single
// string, exp an integer) so that a token we parse is a token idtoken parses.
type jwtClaims struct {
	Iss           string    `json:"iss"`
	Aud           string    `json:"aud"`
	Exp           *int64    `json:"exp"`
	Sub           string    `json:"sub"`
	Email         string    `json:"email"`
	EmailVerified *flexBool `json:"email_verified"`
}

// flexBool accepts true/false and the strings "true"/"false": some Google issuers have sent
// email_verified as a string.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`:
		*b = false
	default:
		return fmt.Errorf("not a boolean: %.20s", data)
	}
	return nil
}

// parseJWT decodes a compact JWS without verifying it. Every failure wraps ErrMalformedToken,
// except an ES256 signature of the wrong length (ErrInvalidToken), which is rejected here
// because idtoken panics on a short one.
func parseJWT(raw string) (jwtHeader, jwtClaims, error) {
	var h jwtHeader
	var c jwtClaims
	if len(raw) > MaxTokenLen {
		return h, c, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, MaxTokenLen)
	}
	hs, rest, ok1 := strings.Cut(raw, ".")
	ps, ss, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(ss, ".") {
		return h, c, fmt.Errorf("%w: not three dot-separated segments", ErrMalformedToken)
	}
	hb, err := base64.RawURLEncoding.DecodeString(hs)
	if err != nil {
		return h, c, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, c, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(ps)
	if err != nil {
		return h, c, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	if err := json.Unmarshal(pb, &c); err != nil {
		return h, c, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	// idtoken also unmarshals the payload into a map; only a JSON object (or null) passes.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(pb, &obj); err != nil || obj == nil {
		return h, c, fmt.Errorf("%w: payload is not a JSON object", ErrMalformedToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(ss)
	if err != nil {
		return h, c, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	if h.Alg == "ES256" && len(sig) != es256SigLen {
		return h, c, fmt.Errorf("%w: ES256 signature is %d bytes, want %d", ErrInvalidToken, len(sig), es256SigLen)
	}
	return h, c, nil
}

// jwtPolicy is what one verifier accepts.
type jwtPolicy struct {
	name      string // for error messages: "id token", "iap jwt"
	alg       string
	issuers   []string
	audiences []string
}

// verify parses raw, applies the policy's checks that idtoken does not do (alg, issuer, the
// audience set, exp presence), and then validates the signature, exp and aud with v.
func (p *jwtPolicy) verify(ctx context.Context, v *idtoken.Validator, raw string) (jwtClaims, error) {
	h, c, err := parseJWT(raw)
	if err != nil {
		return c, fmt.Errorf("auth: verify %s: %w", p.name, err)
	}
	if h.Alg != p.alg {
		return c, fmt.Errorf("auth: verify %s: %w: alg %.20q not accepted", p.name, ErrInvalidToken, h.Alg)
	}
	if !slices.Contains(p.audiences, c.Aud) {
		return c, fmt.Errorf("auth: verify %s: %w: audience not accepted", p.name, ErrInvalidToken)
	}
	if !slices.Contains(p.issuers, c.Iss) {
		return c, fmt.Errorf("auth: verify %s: %w: issuer %.60q not accepted", p.name, ErrInvalidToken, c.Iss)
	}
	if c.Exp == nil {
		return c, fmt.Errorf("auth: verify %s: %w: no exp claim", p.name, ErrInvalidToken)
	}
	// Same comparison as idtoken. An expired token's signature is never checked by idtoken.
	if expired(*c.Exp) {
		return c, fmt.Errorf("auth: verify %s: %w", p.name, ErrTokenExpired)
	}
	// Validate with the matched audience, so idtoken re-checks aud (it skips the check for "").
	if _, err := safeValidate(ctx, v, raw, c.Aud); err != nil {
		return c, fmt.Errorf("auth: verify %s: %w", p.name, classify(err, *c.Exp))
	}
	return c, nil
}

func expired(exp int64) bool { return time.Now().Unix() > exp }

// safeValidate calls v.Validate, turning a panic inside idtoken into ErrInvalidToken. parseJWT
// already rejects the one known panic (short ES256 signature); this is the second line.
func safeValidate(ctx context.Context, v *idtoken.Validator, raw, aud string) (p *idtoken.Payload, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: idtoken panicked: %v", ErrInvalidToken, r)
		}
	}()
	return v.Validate(ctx, raw, aud)
}

// classify maps an idtoken.Validate error to a sentinel. idtoken's errors are mostly plain
// strings; key-fetch failures are recognised by type (transport errors, JWKS decode errors) and,
// for a non-200 answer, by idtoken's message, which TestKeysUnavailable pins.
func classify(err error, exp int64) error {
	var urlErr *url.Error
	var synErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, ErrInvalidToken): // recovered panic
		return err
	case errors.As(err, &urlErr), errors.As(err, &synErr), errors.As(err, &typeErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		strings.HasPrefix(err.Error(), "idtoken: unable to retrieve cert"):
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	case expired(exp): // crossed the second boundary between our check and idtoken's
		return fmt.Errorf("%w: %w", ErrTokenExpired, err)
	default:
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
}
