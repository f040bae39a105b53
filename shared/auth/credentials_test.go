package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/auth"
)

func TestFromRequest(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	key := "ryk_acme_abcdefgh2345_" + validSecret
	cases := []struct {
		name    string
		headers [][2]string
		want    auth.Credential
		wantErr error
	}{
		{name: "bearer", headers: [][2]string{{"Authorization", "Bearer " + jwt}}, want: auth.Credential{Kind: auth.CredentialBearer, Value: jwt}},
		{name: "bearer scheme case-insensitive", headers: [][2]string{{"Authorization", "bearer " + jwt}}, want: auth.Credential{Kind: auth.CredentialBearer, Value: jwt}},
		{name: "dev token is a bearer", headers: [][2]string{{"Authorization", "Bearer rydev.a.b"}}, want: auth.Credential{Kind: auth.CredentialBearer, Value: "rydev.a.b"}},
		{name: "api key as bearer", headers: [][2]string{{"Authorization", "Bearer " + key}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: key}},
		{name: "X-API-Key (OpenHands)", headers: [][2]string{{"X-API-Key", key}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: key}},
		{name: "X-API-Key lower-case header name", headers: [][2]string{{"x-api-key", key}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: key}},
		{name: "X-API-Key with any value is still an api key", headers: [][2]string{{"X-API-Key", "whatever"}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: "whatever"}},
		{name: "both, same value", headers: [][2]string{{"Authorization", "Bearer " + key}, {"X-API-Key", key}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: key}},
		{name: "surrounding whitespace trimmed", headers: [][2]string{{"X-API-Key", " " + key + " "}}, want: auth.Credential{Kind: auth.CredentialAPIKey, Value: key}},
		{name: "none", wantErr: auth.ErrNoCredentials},
		{name: "empty headers count as absent", headers: [][2]string{{"Authorization", ""}, {"X-API-Key", " "}}, wantErr: auth.ErrNoCredentials},
		{name: "unrelated headers", headers: [][2]string{{"X-Session-API-Key", "s"}, {"Cookie", "a=b"}}, wantErr: auth.ErrNoCredentials},
		{name: "basic scheme", headers: [][2]string{{"Authorization", "Basic dXNlcjpwYXNz"}}, wantErr: auth.ErrMalformedToken},
		{name: "bearer without token", headers: [][2]string{{"Authorization", "Bearer"}}, wantErr: auth.ErrMalformedToken},
		{name: "bearer with blank token", headers: [][2]string{{"Authorization", "Bearer   "}}, wantErr: auth.ErrMalformedToken},
		{name: "bearer with two tokens", headers: [][2]string{{"Authorization", "Bearer a b"}}, wantErr: auth.ErrMalformedToken},
		{name: "token without scheme", headers: [][2]string{{"Authorization", jwt}}, wantErr: auth.ErrMalformedToken},
		{name: "two Authorization headers", headers: [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}, wantErr: auth.ErrMalformedToken},
		{name: "two X-API-Key headers", headers: [][2]string{{"X-API-Key", key}, {"X-API-Key", key}}, wantErr: auth.ErrMalformedToken},
		{name: "both, different values", headers: [][2]string{{"Authorization", "Bearer " + jwt}, {"X-API-Key", key}}, wantErr: auth.ErrMalformedToken},
		{name: "bad Authorization and X-API-Key", headers: [][2]string{{"Authorization", "Basic x"}, {"X-API-Key", key}}, wantErr: auth.ErrMalformedToken},
		{name: "oversized bearer", headers: [][2]string{{"Authorization", "Bearer " + strings.Repeat("a", auth.MaxTokenLen+1)}}, wantErr: auth.ErrMalformedToken},
		{name: "oversized X-API-Key", headers: [][2]string{{"X-API-Key", strings.Repeat("a", auth.MaxTokenLen+1)}}, wantErr: auth.ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/v1/runtimes", nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			got, err := auth.FromRequest(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("FromRequest() error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromRequest() (-want +got):\n%s", diff)
			}
			if err != nil && strings.Contains(err.Error(), validSecret) {
				t.Errorf("error reveals the credential: %v", err)
			}
		})
	}
}

func TestCredentialRedaction(t *testing.T) {
	t.Parallel()
	c := auth.Credential{Kind: auth.CredentialAPIKey, Value: "ryk_acme_abcdefgh2345_" + validSecret}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, validSecret) {
			t.Errorf("formatted credential reveals the secret: %s", s)
		}
	}
}
