package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/auth/authtest"
)

func FuzzParseAPIKey(f *testing.F) {
	k, err := auth.NewAPIKey("acme-co")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		k.Plaintext, "", "ryk_", "ryk___", "ryk_acme_abcdefgh2345_" + validSecret,
		"ryk_acme_abcdefgh2345_" + validSecret[:42] + "B", "ryk_a-b_abcdefgh2345_x_y", k.Prefix,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tenant, keyID, err := auth.ParseAPIKey(s)
		if err != nil {
			if !errors.Is(err, auth.ErrMalformedAPIKey) {
				t.Fatalf("error %v does not wrap ErrMalformedAPIKey", err)
			}
			if tenant != "" || keyID != "" {
				t.Fatalf("non-empty results with error")
			}
			return
		}
		// Accepted keys have the exact shape NewAPIKey makes.
		if len(s) > auth.MaxAPIKeyLen || !auth.ValidTenantID(tenant) || len(keyID) != 12 {
			t.Fatalf("accepted bad key: tenant=%q keyID=%q len=%d", tenant, keyID, len(s))
		}
		if want := auth.APIKeyPrefix + tenant + "_" + keyID + "_"; !strings.HasPrefix(s, want) || len(s) != len(want)+43 {
			t.Fatalf("accepted %q, which is not %s<43-char secret>", s, want)
		}
	})
}

// FuzzVerifyIDToken: neither JWT verifier panics on any input (the short-ES256-signature token
// is a seed) and every error wraps one of the documented sentinels.
func FuzzVerifyIDToken(f *testing.F) {
	g := authtest.NewGoogle(f)
	idv := newIDVerifier(f, g)
	iapv := newIAPVerifier(f, g)
	_, iapKID := g.KeyIDs()
	for _, s := range []string{
		g.IDToken(f, authtest.Claims{}),
		g.IDToken(f, authtest.Claims{Expires: time.Now().Add(-time.Hour)}),
		g.IDToken(f, authtest.Claims{Issuer: "https://evil.example"}),
		g.IAPToken(f, authtest.Claims{}),
		shortSigToken(f, g, authtest.Claims{}),
		shortSigToken(f, g, authtest.Claims{Audience: authtest.DefaultAudience, Issuer: "https://accounts.google.com"}),
		b64(`{"alg":"ES256","kid":"`+iapKID+`"}`) + "." + b64(`{"aud":"`+authtest.DefaultIAPAudience+`","iss":"https://cloud.google.com/iap","exp":9999999999}`) + ".AA",
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.",
	} {
		f.Add(s)
	}
	sentinels := []error{auth.ErrMalformedToken, auth.ErrInvalidToken, auth.ErrTokenExpired, auth.ErrKeysUnavailable}
	f.Fuzz(func(t *testing.T, raw string) {
		ctx := context.Background()
		for _, verify := range []func(context.Context, string) (auth.Principal, error){idv.Verify, iapv.Verify} {
			p, err := verify(ctx, raw)
			if err == nil {
				if p.Kind != auth.KindUser || p.Email == "" {
					t.Fatalf("accepted token yields principal %+v", p)
				}
				continue
			}
			if !wrapsOneOf(err, sentinels) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		}
	})
}

func FuzzDevTokenVerify(f *testing.F) {
	d := auth.NewDevTokens(devKey(7))
	tok, err := d.Mint("alice@example.com", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, "", "rydev.", "rydev..", "rydev.e30.AAAA", tok + "x", tok[:len(tok)-1]} {
		f.Add(s)
	}
	sentinels := []error{auth.ErrMalformedToken, auth.ErrInvalidToken, auth.ErrTokenExpired}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := d.Verify(raw)
		if err != nil {
			if !wrapsOneOf(err, sentinels) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// Only the token we minted verifies (strict base64 makes encodings canonical): anything
		// else accepted here is a MAC bypass.
		if raw != tok {
			t.Fatalf("accepted %q", raw)
		}
		if !p.Dev || p.Email != "alice@example.com" {
			t.Fatalf("accepted token yields principal %+v", p)
		}
	})
}

func wrapsOneOf(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
