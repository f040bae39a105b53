package api_test

import (
	"fmt"
	"testing"

	"github.com/runyard/runyard/functions/api"
)

// TestAuthorizationMatrix sends every endpoint as every kind of caller and checks the status.
// Mutating requests get a fresh target per caller so the cells do not depend on each other.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, envOptions{stripe: "mock"})
	callers := []struct{ name, cred string }{
		{"anonymous", ""},
		{"other tenant's owner", f.otherOwner},
		{"other tenant's key", f.otherKey},
		{"member", f.member},
		{"admin", f.admin},
		{"owner", f.owner},
		{"api key", f.key},
		{"revoked key", f.revokedKey},
	}
	// victims: per caller, a member and an API key to delete.
	victimMember := map[string]string{}
	victimKey := map[string]string{}
	for i, c := range callers {
		email := fmt.Sprintf("victim%d@acme.test", i)
		f.must(t, 201, "POST", "/v1/tenants/acme/members", f.owner, api.AddMemberRequest{Email: email}, nil)
		var k keyResp
		f.must(t, 201, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "victim"}, &k)
		victimMember[c.name], victimKey[c.name] = email, k.ID
	}
	var anyKey keyResp
	f.must(t, 201, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "read"}, &anyKey)

	type endpoint struct {
		name   string
		method string
		path   func(caller int) string
		body   func(caller int) any
		// want per caller, in the order of callers.
		want [8]int
	}
	const (
		u  = 401
		n  = 404
		f4 = 403
	)
	p := func(s string) func(int) string { return func(int) string { return s } }
	endpoints := []endpoint{
		{"healthz", "GET", p("/healthz"), nil, [8]int{200, 200, 200, 200, 200, 200, 200, 200}},
		{"create tenant", "POST", p("/v1/tenants"),
			func(i int) any { return api.CreateTenantRequest{ID: fmt.Sprintf("new-%d", i), Name: "New"} },
			[8]int{u, 201, f4, 201, 201, 201, f4, u}},
		{"get tenant", "GET", p("/v1/tenants/acme"), nil, [8]int{u, n, n, 200, 200, 200, 200, u}},
		{"list members", "GET", p("/v1/tenants/acme/members"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"add member", "POST", p("/v1/tenants/acme/members"),
			func(i int) any { return api.AddMemberRequest{Email: fmt.Sprintf("added%d@acme.test", i)} },
			[8]int{u, n, n, f4, 201, 201, f4, u}},
		{"get member", "GET", p("/v1/tenants/acme/members/" + ownerEmail), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"remove member", "DELETE", func(i int) string { return "/v1/tenants/acme/members/" + victimMember[callers[i].name] }, nil,
			[8]int{u, n, n, f4, 204, 204, f4, u}},
		{"list api keys", "GET", p("/v1/tenants/acme/apikeys"), nil, [8]int{u, n, n, f4, 200, 200, f4, u}},
		{"create api key", "POST", p("/v1/tenants/acme/apikeys"),
			func(int) any { return api.CreateAPIKeyRequest{Name: "made"} },
			[8]int{u, n, n, f4, 201, 201, f4, u}},
		{"get api key", "GET", p("/v1/tenants/acme/apikeys/" + anyKey.ID), nil, [8]int{u, n, n, f4, 200, 200, f4, u}},
		{"revoke api key", "DELETE", func(i int) string { return "/v1/tenants/acme/apikeys/" + victimKey[callers[i].name] }, nil,
			[8]int{u, n, n, f4, 204, 204, f4, u}},
		{"audit", "GET", p("/v1/tenants/acme/audit"), nil, [8]int{u, n, n, f4, 200, 200, f4, u}},
		{"usage", "GET", p("/v1/tenants/acme/usage"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"put budget", "PUT", p("/v1/tenants/acme/budget"), func(i int) any { return map[string]any{"monthly_usd": 100 + i} },
			[8]int{u, n, n, f4, 200, 200, f4, u}},
		{"checkout", "POST", p("/v1/tenants/acme/billing/checkout"), func(int) any { return api.CheckoutRequest{} },
			[8]int{u, n, n, f4, f4, 201, f4, u}},
		{"portal", "POST", p("/v1/tenants/acme/billing/portal"), func(int) any { return api.PortalRequest{} },
			[8]int{u, n, n, f4, f4, 201, f4, u}},
		{"get llm", "GET", p("/v1/tenants/acme/llm"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"put llm", "PUT", p("/v1/tenants/acme/llm"),
			func(int) any { return api.LLMRequest{VertexAI: true, Models: []string{"gemini-2.5-flash"}} },
			[8]int{u, n, n, f4, 200, 200, f4, u}},
	}
	for _, ep := range endpoints {
		for i, c := range callers {
			var body any
			if ep.body != nil {
				body = ep.body(i)
			}
			rec := f.do(t, ep.method, ep.path(i), c.cred, body)
			if rec.Code != ep.want[i] {
				t.Errorf("%s as %s: status %d, want %d: %s", ep.name, c.name, rec.Code, ep.want[i], rec.Body)
				continue
			}
			if rec.Code >= 400 {
				errorCode(t, rec)
			}
		}
	}
	// What the denied callers tried did not happen: the victims of denied deletes remain.
	for i, c := range callers {
		wantGone := endpoints[6].want[i] == 204
		rec := f.do(t, "GET", "/v1/tenants/acme/members/"+victimMember[c.name], f.owner, nil)
		if gone := rec.Code == 404; gone != wantGone {
			t.Errorf("victim member of %s: status %d, want gone=%v", c.name, rec.Code, wantGone)
		}
	}
}
