package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/auth/authtest"
	"github.com/runyard/runyard/shared/httpx"
)

// TestBadInput: every kind of bad input gets its own 4xx code, never a 5xx.
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.g
	tok := func(c authtest.Claims) string { return "Bearer " + g.IDToken(t, c) }
	past := time.Now().Add(-2 * time.Hour)
	tests := []struct {
		name, method, path, cred string
		body                     any
		rawHeader                [2]string
		wantStatus               int
		wantCode                 string
	}{
		{name: "malformed json", method: "POST", path: "/v1/tenants", cred: f.owner, body: `{"id":`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "json array", method: "POST", path: "/v1/tenants", cred: f.owner, body: `[]`, wantStatus: 400, wantCode: "malformed_json"},
		{name: "unknown field", method: "POST", path: "/v1/tenants", cred: f.owner, body: `{"id":"abc","name":"x","plan":"pro"}`, wantStatus: 400, wantCode: "unknown_field"},
		{name: "wrong field type", method: "POST", path: "/v1/tenants", cred: f.owner, body: `{"id":7,"name":"x"}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "oversize body", method: "POST", path: "/v1/tenants", cred: f.owner, body: `{"id":"abc","name":"` + strings.Repeat("x", httpx.DefaultMaxBody) + `"}`, wantStatus: 413, wantCode: "body_too_large"},
		{name: "wrong content type", method: "POST", path: "/v1/tenants", cred: f.owner, body: `{"id":"abc","name":"x"}`, rawHeader: [2]string{"Content-Type", "text/plain"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "tenant id uppercase", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: "Acme2", Name: "x"}, wantStatus: 400, wantCode: "invalid_id"},
		{name: "tenant id too long", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: strings.Repeat("a", 28), Name: "x"}, wantStatus: 400, wantCode: "invalid_id"},
		{name: "tenant id slash", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: "ab/cd", Name: "x"}, wantStatus: 400, wantCode: "invalid_id"},
		{name: "tenant id trailing dash", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: "abc-", Name: "x"}, wantStatus: 400, wantCode: "invalid_id"},
		{name: "empty name", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: "fine", Name: "  "}, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "control char name", method: "POST", path: "/v1/tenants", cred: f.owner, body: api.CreateTenantRequest{ID: "fine", Name: "a\x00b"}, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "duplicate tenant", method: "POST", path: "/v1/tenants", cred: f.otherOwner, body: api.CreateTenantRequest{ID: "acme", Name: "x"}, wantStatus: 409, wantCode: "already_exists"},
		{name: "bad path tenant id", method: "GET", path: "/v1/tenants/ACME", cred: f.owner, wantStatus: 400, wantCode: "invalid_id"},
		{name: "bad path tenant id dots", method: "GET", path: "/v1/tenants/a..b", cred: f.owner, wantStatus: 400, wantCode: "invalid_id"},
		{name: "bad member id", method: "GET", path: "/v1/tenants/acme/members/not-an-email", cred: f.owner, wantStatus: 400, wantCode: "invalid_id"},
		{name: "bad key id", method: "DELETE", path: "/v1/tenants/acme/apikeys/BAD_ID", cred: f.owner, wantStatus: 400, wantCode: "invalid_id"},
		{name: "unknown key id", method: "DELETE", path: "/v1/tenants/acme/apikeys/zzzzzzzzzzzz", cred: f.owner, wantStatus: 404, wantCode: "not_found"},
		{name: "unknown member", method: "DELETE", path: "/v1/tenants/acme/members/nobody@acme.test", cred: f.owner, wantStatus: 404, wantCode: "not_found"},
		{name: "no credentials", method: "GET", path: "/v1/tenants/acme", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "basic auth", method: "GET", path: "/v1/tenants/acme", cred: "Basic dXNlcjpwYXNz", wantStatus: 401, wantCode: "malformed_token"},
		{name: "garbage bearer", method: "GET", path: "/v1/tenants/acme", cred: "Bearer not-a-jwt", wantStatus: 401, wantCode: "malformed_token"},
		{name: "expired token", method: "GET", path: "/v1/tenants/acme", cred: tok(authtest.Claims{Email: ownerEmail, IssuedAt: past, Expires: past.Add(time.Hour)}), wantStatus: 401, wantCode: "token_expired"},
		{name: "wrong audience", method: "GET", path: "/v1/tenants/acme", cred: tok(authtest.Claims{Email: ownerEmail, Audience: "https://evil.test"}), wantStatus: 401, wantCode: "invalid_token"},
		{name: "wrong issuer", method: "GET", path: "/v1/tenants/acme", cred: tok(authtest.Claims{Email: ownerEmail, Issuer: "https://evil.test"}), wantStatus: 401, wantCode: "invalid_token"},
		{name: "unknown signing key", method: "GET", path: "/v1/tenants/acme", cred: tok(authtest.Claims{Email: ownerEmail, UnknownKey: true}), wantStatus: 401, wantCode: "invalid_token"},
		{name: "unverified email", method: "GET", path: "/v1/tenants/acme", cred: tok(authtest.Claims{Email: ownerEmail, EmailVerified: authtest.Bool(false)}), wantStatus: 401, wantCode: "invalid_token"},
		{name: "dev token without dev stack", method: "GET", path: "/v1/tenants/acme", cred: "Bearer rydev.eyJ9.abc", wantStatus: 401, wantCode: "invalid_token"},
		{name: "malformed api key", method: "GET", path: "/v1/tenants/acme", cred: "key:ryk_nope", wantStatus: 401, wantCode: "invalid_api_key"},
		{name: "wrong api key secret", method: "GET", path: "/v1/tenants/acme", cred: f.key[:len(f.key)-4] + "AAAA", wantStatus: 401, wantCode: "invalid_api_key"},
		{name: "revoked api key", method: "GET", path: "/v1/tenants/acme", cred: f.revokedKey, wantStatus: 401, wantCode: "api_key_revoked"},
		{name: "revoked api key as bearer", method: "GET", path: "/v1/tenants/acme", cred: "Bearer " + strings.TrimPrefix(f.revokedKey, "key:"), wantStatus: 401, wantCode: "api_key_revoked"},
		{name: "wrong role", method: "POST", path: "/v1/tenants/acme/members", cred: f.member, body: api.AddMemberRequest{Email: "x@acme.test"}, wantStatus: 403, wantCode: "forbidden"},
		{name: "admin adds owner", method: "POST", path: "/v1/tenants/acme/members", cred: f.admin, body: api.AddMemberRequest{Email: "x@acme.test", Role: "owner"}, wantStatus: 403, wantCode: "forbidden"},
		{name: "admin removes owner", method: "DELETE", path: "/v1/tenants/acme/members/" + ownerEmail, cred: f.admin, wantStatus: 403, wantCode: "forbidden"},
		{name: "last owner leaves", method: "DELETE", path: "/v1/tenants/acme/members/" + ownerEmail, cred: f.owner, wantStatus: 409, wantCode: "last_owner"},
		{name: "bad role", method: "POST", path: "/v1/tenants/acme/members", cred: f.owner, body: `{"email":"x@acme.test","role":"root"}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "bad email", method: "POST", path: "/v1/tenants/acme/members", cred: f.owner, body: api.AddMemberRequest{Email: "not an email"}, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "duplicate member", method: "POST", path: "/v1/tenants/acme/members", cred: f.owner, body: api.AddMemberRequest{Email: "MEMBER@acme.test"}, wantStatus: 409, wantCode: "already_exists"},
		{name: "unknown scope", method: "POST", path: "/v1/tenants/acme/apikeys", cred: f.owner, body: api.CreateAPIKeyRequest{Name: "x", Scopes: []string{"root"}}, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "key name missing", method: "POST", path: "/v1/tenants/acme/apikeys", cred: f.owner, body: `{}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "limit zero", method: "GET", path: "/v1/tenants/acme/members?limit=0", cred: f.owner, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "limit huge", method: "GET", path: "/v1/tenants/acme/members?limit=100000", cred: f.owner, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "bad cursor", method: "GET", path: "/v1/tenants/acme/audit?cursor=garbage", cred: f.owner, wantStatus: 400, wantCode: "invalid_cursor"},
		{name: "unknown path", method: "GET", path: "/v2/nothing", cred: f.owner, wantStatus: 404, wantCode: "not_found"},
		{name: "budget negative", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":-1}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget string", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":"10"}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget missing", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget exponent", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":1e3}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget too precise", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":0.0000001}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget huge", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":10000000000}`, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "budget unknown field", method: "PUT", path: "/v1/tenants/acme/budget", cred: f.owner, body: `{"monthly_usd":1,"currency":"eur"}`, wantStatus: 400, wantCode: "unknown_field"},
		{name: "usage bad from", method: "GET", path: "/v1/tenants/acme/usage?from=yesterday", cred: f.owner, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "usage reversed", method: "GET", path: "/v1/tenants/acme/usage?from=2026-02-01&to=2026-01-01", cred: f.owner, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "usage range too long", method: "GET", path: "/v1/tenants/acme/usage?from=2020-01-01&to=2026-01-01", cred: f.owner, wantStatus: 400, wantCode: "invalid_argument"},
		{name: "checkout without billing", method: "POST", path: "/v1/tenants/acme/billing/checkout", cred: f.owner, wantStatus: 501, wantCode: "billing_disabled"},
		{name: "portal without billing", method: "POST", path: "/v1/tenants/acme/billing/portal", cred: f.owner, body: `{}`, wantStatus: 501, wantCode: "billing_disabled"},
		{name: "checkout unknown field", method: "POST", path: "/v1/tenants/acme/billing/checkout", cred: f.owner, body: `{"price":"x"}`, wantStatus: 400, wantCode: "unknown_field"},
		{name: "wrong method", method: "PATCH", path: "/v1/tenants/acme", cred: f.owner, wantStatus: 405, wantCode: "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if tc.rawHeader[0] != "" {
				req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body.(string)))
				req.Header.Set(tc.rawHeader[0], tc.rawHeader[1])
				req.Header.Set("Authorization", tc.cred)
				rec = httptest.NewRecorder()
				f.h.ServeHTTP(rec, req)
			} else {
				rec = f.do(t, tc.method, tc.path, tc.cred, tc.body)
			}
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := errorCode(t, rec); got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
		})
	}
	// Nothing the bad requests tried was stored: acme still has its three members and one owner.
	var ten struct {
		Counts struct {
			Members, Owners int
			APIKeys         int `json:"api_keys"`
		} `json:"counts"`
	}
	f.must(t, 200, "GET", "/v1/tenants/acme", f.owner, nil, &ten)
	if ten.Counts.Members != 3 || ten.Counts.Owners != 1 || ten.Counts.APIKeys != 1 {
		t.Errorf("counts after bad input = %+v, want 3 members, 1 owner, 1 key", ten.Counts)
	}
}
