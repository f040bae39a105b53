package authtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/runyard/runyard/shared/auth/authtest"
	"google.golang.org/api/idtoken"
)

func TestServesJWKS(t *testing.T) {
	t.Parallel()
	g := authtest.NewGoogle(t)
	oidcKID, iapKID := g.KeyIDs()
	cases := []struct {
		name    string
		url     string
		wantKID string
		wantKty string
	}{
		{name: "oidc", url: authtest.OIDCCertsURL, wantKID: oidcKID, wantKty: "RSA"},
		{name: "iap", url: authtest.IAPCertsURL, wantKID: iapKID, wantKty: "EC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := g.HTTPClient().Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Cache-Control"); got == "" {
				t.Error("no Cache-Control header")
			}
			var jwks struct {
				Keys []struct{ Kid, Kty string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
				t.Fatal(err)
			}
			if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != tc.wantKID || jwks.Keys[0].Kty != tc.wantKty {
				t.Errorf("keys = %+v, want one %s key %s", jwks.Keys, tc.wantKty, tc.wantKID)
			}
			if got := g.Fetches(tc.url); got != 1 {
				t.Errorf("Fetches = %d, want 1", got)
			}
		})
	}
}

func TestHermetic(t *testing.T) {
	t.Parallel()
	g := authtest.NewGoogle(t)
	resp, err := g.HTTPClient().Get("https://example.com/")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Fatal("request to another URL succeeded")
	}
}

// TestTokensValidateWithIdtoken checks the minted tokens against the raw idtoken.Validator.
func TestTokensValidateWithIdtoken(t *testing.T) {
	t.Parallel()
	g := authtest.NewGoogle(t)
	v, err := idtoken.NewValidator(context.Background(), g.ClientOption())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Validate(ctx, g.IDToken(t, authtest.Claims{}), authtest.DefaultAudience); err != nil {
		t.Errorf("IDToken: %v", err)
	}
	if _, err := v.Validate(ctx, g.IAPToken(t, authtest.Claims{}), authtest.DefaultIAPAudience); err != nil {
		t.Errorf("IAPToken: %v", err)
	}
	if _, err := v.Validate(ctx, g.IDToken(t, authtest.Claims{UnknownKey: true}), ""); err == nil {
		t.Error("UnknownKey token validated")
	}
	g.SetCertsStatus(http.StatusInternalServerError)
	other := authtest.NewGoogle(t)
	if _, err := v.Validate(ctx, other.IDToken(t, authtest.Claims{}), ""); err == nil {
		t.Error("token from another fake validated")
	}
}
