package api_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
)

// verifyDomain adds domain to tenant as cred, publishes its TXT record and verifies it.
func (e *env) verifyDomain(tb testing.TB, tenant, cred, domain string) whitelabel.Domain {
	tb.Helper()
	var d whitelabel.Domain
	e.must(tb, 201, "POST", "/v1/tenants/"+tenant+"/domains", cred, api.AddDomainRequest{Domain: domain}, &d)
	e.dns.SetTXT(d.ChallengeName, d.ChallengeValue)
	e.must(tb, 200, "POST", "/v1/tenants/"+tenant+"/domains/"+d.Domain+":verify", cred, nil, &d)
	return d
}

// publicBranding GETs /v1/branding?host= without credentials.
func (e *env) publicBranding(tb testing.TB, host string) (*httptest.ResponseRecorder, map[string]any) {
	tb.Helper()
	rec := e.do(tb, "GET", "/v1/branding?host="+host, "", nil)
	var m map[string]any
	if rec.Code == 200 {
		decodeInto(tb, rec.Body.Bytes(), &m)
	}
	return rec, m
}

func TestBrandingAndDomains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Nothing set: an empty branding for members, the platform's for the public.
	var got whitelabel.TenantBranding
	f.must(t, 200, "GET", "/v1/tenants/acme/branding", f.member, nil, &got)
	if got.ProductName != "" {
		t.Errorf("initial branding = %+v", got)
	}
	put := api.PutBrandingRequest{ProductName: "Acme Cloud", LogoURL: "https://cdn.acme.com/logo.svg",
		Colors: whitelabel.Colors{Primary: "#0A0B0C", Accent: "#ffffff"}, SupportURL: "https://acme.com/help", AnalyticsKey: "G-XYZ"}
	f.must(t, 200, "PUT", "/v1/tenants/acme/branding", f.admin, put, &got)
	want := put
	want.Colors.Primary = "#0a0b0c"
	if diff := cmp.Diff(want, got.Branding); diff != "" || got.UpdatedBy != adminEmail {
		t.Errorf("PUT branding (-want +got):\n%s (by %s)", diff, got.UpdatedBy)
	}
	// Public: the platform's until acme verifies a domain.
	rec, m := f.publicBranding(t, "app.acme.com")
	if rec.Code != 200 || m["product_name"] != "Runyard" {
		t.Fatalf("public branding before verification: %d %v", rec.Code, m)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("public branding is not readable cross-origin")
	}
	d := f.verifyDomain(t, "acme", f.owner, "Acme.com")
	if d.Domain != "acme.com" || d.Status != "verified" {
		t.Fatalf("verified domain = %+v", d)
	}
	rec, m = f.publicBranding(t, "app.acme.com:443")
	// Exactly the branding's fields: nothing about the tenant, its domain or who changed it.
	wantPublic := map[string]any{"product_name": "Acme Cloud", "logo_url": "https://cdn.acme.com/logo.svg",
		"colors": map[string]any{"primary": "#0a0b0c", "accent": "#ffffff"}, "support_url": "https://acme.com/help", "analytics_key": "G-XYZ"}
	if diff := cmp.Diff(wantPublic, m); rec.Code != 200 || diff != "" {
		t.Errorf("public branding %d (-want +got):\n%s", rec.Code, diff)
	}
	if strings.Contains(rec.Body.String(), "acme\"") || strings.Contains(rec.Body.String(), adminEmail) {
		t.Errorf("public branding leaks the tenant: %s", rec.Body)
	}
	// An empty analytics key means no analytics: the field is absent.
	put.AnalyticsKey = ""
	f.must(t, 200, "PUT", "/v1/tenants/acme/branding", f.owner, put, nil)
	if _, m := f.publicBranding(t, "acme.com"); m["analytics_key"] != nil {
		t.Errorf("analytics_key after clearing = %v", m["analytics_key"])
	}
	// Listing, one domain, 404s.
	var page struct{ Items []whitelabel.Domain }
	f.must(t, 200, "GET", "/v1/tenants/acme/domains", f.member, nil, &page)
	if len(page.Items) != 1 || page.Items[0].Domain != "acme.com" {
		t.Errorf("domains = %+v", page.Items)
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/domains/ACME.com", f.member, nil, nil)
	if rec := f.do(t, "GET", "/v1/tenants/acme/domains/nope.com", f.member, nil); rec.Code != 404 || errorCode(t, rec) != "domain_not_found" {
		t.Errorf("unknown domain: %d %s", rec.Code, rec.Body)
	}
	// Another tenant cannot take it, nor read acme's.
	if rec := f.do(t, "POST", "/v1/tenants/other/domains", f.otherOwner, api.AddDomainRequest{Domain: "acme.com"}); rec.Code != 409 || errorCode(t, rec) != "domain_taken" {
		t.Errorf("other adds acme.com: %d %s", rec.Code, rec.Body)
	}
	// Deleting releases it: the public branding is the platform's again.
	f.must(t, 204, "DELETE", "/v1/tenants/acme/domains/acme.com", f.admin, nil, nil)
	if _, m := f.publicBranding(t, "app.acme.com"); m["product_name"] != "Runyard" {
		t.Errorf("public branding after delete = %v", m)
	}
	f.verifyDomain(t, "other", f.otherOwner, "acme.com")
	// Audit: every change by its actor.
	var audit auditPage
	f.must(t, 200, "GET", "/v1/tenants/acme/audit", f.owner, nil, &audit)
	var actions []string
	for _, e := range audit.Items {
		if strings.HasPrefix(e.Action, "branding.") || strings.HasPrefix(e.Action, "domains.") {
			actions = append(actions, e.Action+" "+e.Outcome+" "+e.Actor)
		}
	}
	wantActions := []string{"domains.write success " + adminEmail, "branding.write success " + ownerEmail,
		"domains.write success " + ownerEmail, "domains.write success " + ownerEmail, "branding.write success " + adminEmail}
	if diff := cmp.Diff(wantActions, actions); diff != "" {
		t.Errorf("audit (newest first) (-want +got):\n%s", diff)
	}
}

func TestVerifyDomainAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var d whitelabel.Domain
	f.must(t, 201, "POST", "/v1/tenants/acme/domains", f.admin, api.AddDomainRequest{Domain: "dev.acme.io"}, &d)
	rec := f.do(t, "POST", "/v1/tenants/acme/domains/dev.acme.io:verify", f.admin, nil)
	if rec.Code != 422 || errorCode(t, rec) != "domain_not_verified" || !strings.Contains(rec.Body.String(), "_runyard-challenge.dev.acme.io") {
		t.Errorf("verify without a record: %d %s", rec.Code, rec.Body)
	}
	f.dns.Fail(d.ChallengeName, true)
	if rec := f.do(t, "POST", "/v1/tenants/acme/domains/dev.acme.io:verify", f.admin, nil); rec.Code != 503 || errorCode(t, rec) != "unavailable" {
		t.Errorf("verify on SERVFAIL: %d %s", rec.Code, rec.Body)
	}
	f.dns.Fail(d.ChallengeName, false)
	f.dns.SetTXT(d.ChallengeName, d.ChallengeValue)
	if rec := f.do(t, "POST", "/v1/tenants/acme/domains/dev.acme.io:verify", f.member, nil); rec.Code != 403 {
		t.Errorf("member verifies: %d", rec.Code)
	}
	f.must(t, 200, "POST", "/v1/tenants/acme/domains/dev.acme.io:verify", f.admin, nil, &d)
	if d.Status != "verified" {
		t.Errorf("status %s", d.Status)
	}
}

// TestWhitelabelMatrix: every branding and domain endpoint as every kind of caller.
func TestWhitelabelMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey}, {"member", f.member},
		{"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	// Per caller: a pending domain to verify and one to delete.
	for i := range callers {
		for _, kind := range []string{"v", "x"} {
			var d whitelabel.Domain
			f.must(t, 201, "POST", "/v1/tenants/acme/domains", f.owner, api.AddDomainRequest{Domain: fmt.Sprintf("%s%d.acme.com", kind, i)}, &d)
			f.dns.SetTXT(d.ChallengeName, d.ChallengeValue)
		}
	}
	const u, n, f4 = 401, 404, 403
	type endpoint struct {
		name, method string
		path         func(i int) string
		body         func(i int) any
		want         [8]int
	}
	p := func(s string) func(int) string { return func(int) string { return s } }
	eps := []endpoint{
		{"public branding", "GET", p("/v1/branding?host=acme.com"), nil, [8]int{200, 200, 200, 200, 200, 200, 200, 200}},
		{"get branding", "GET", p("/v1/tenants/acme/branding"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"put branding", "PUT", p("/v1/tenants/acme/branding"), func(int) any { return api.PutBrandingRequest{ProductName: "X"} },
			[8]int{u, n, n, f4, 200, 200, f4, u}},
		{"list domains", "GET", p("/v1/tenants/acme/domains"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"get domain", "GET", p("/v1/tenants/acme/domains/v0.acme.com"), nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"add domain", "POST", p("/v1/tenants/acme/domains"), func(i int) any { return api.AddDomainRequest{Domain: fmt.Sprintf("new%d.acme.com", i)} },
			[8]int{u, n, n, f4, 201, 201, f4, u}},
		{"verify domain", "POST", func(i int) string { return fmt.Sprintf("/v1/tenants/acme/domains/v%d.acme.com:verify", i) }, nil,
			[8]int{u, n, n, f4, 200, 200, f4, u}},
		{"delete domain", "DELETE", func(i int) string { return fmt.Sprintf("/v1/tenants/acme/domains/x%d.acme.com", i) }, nil,
			[8]int{u, n, n, f4, 204, 204, f4, u}},
	}
	for _, ep := range eps {
		for i, c := range callers {
			var body any
			if ep.body != nil {
				body = ep.body(i)
			}
			rec := f.do(t, ep.method, ep.path(i), c.cred, body)
			if rec.Code != ep.want[i] {
				t.Errorf("%s as %s: status %d, want %d: %s", ep.name, c.name, rec.Code, ep.want[i], rec.Body)
			} else if rec.Code >= 400 {
				errorCode(t, rec)
			}
		}
	}
	// Denied verifications and deletions changed nothing.
	var page struct{ Items []whitelabel.Domain }
	f.must(t, 200, "GET", "/v1/tenants/acme/domains?limit=100", f.owner, nil, &page)
	state := map[string]string{}
	for _, d := range page.Items {
		state[d.Domain] = d.Status
	}
	for i, c := range callers {
		allowed := c.name == "admin" || c.name == "owner"
		v := fmt.Sprintf("v%d.acme.com", i)
		if (state[v] == "verified") != allowed {
			t.Errorf("%s as %s: status %q", v, c.name, state[v])
		}
		x := fmt.Sprintf("x%d.acme.com", i)
		if _, there := state[x]; there == allowed {
			t.Errorf("%s as %s: still there = %v", x, c.name, there)
		}
	}
	// Denied writes by members are audited.
	var audit auditPage
	f.must(t, 200, "GET", "/v1/tenants/acme/audit?limit=500", f.owner, nil, &audit)
	denied := 0
	for _, e := range audit.Items {
		if e.Outcome == tenancy.OutcomeDenied && (e.Action == "domains.write" || e.Action == "branding.write") {
			denied++
		}
	}
	if denied != 8 { // member and API key, on put branding, add, verify and delete
		t.Errorf("%d denied white-label writes audited, want 8", denied)
	}
}

func TestWhitelabelBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "POST", "/v1/tenants/acme/domains", f.owner, api.AddDomainRequest{Domain: "dup.acme.com"}, nil)
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantCode           string
	}{
		{"wildcard domain", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{Domain: "*.acme.com"}, 400, "invalid_domain"},
		{"ip domain", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{Domain: "10.0.0.1"}, 400, "invalid_domain"},
		{"empty domain", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{}, 400, "invalid_domain"},
		{"public suffix", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{Domain: "co.uk"}, 400, "invalid_domain"},
		{"url as domain", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{Domain: "https://acme.com/"}, 400, "invalid_domain"},
		{"domain wrong type", "POST", "/v1/tenants/acme/domains", `{"domain":1}`, 400, "invalid_argument"},
		{"domain unknown field", "POST", "/v1/tenants/acme/domains", `{"domain":"a.com","primary":true}`, 400, "unknown_field"},
		{"duplicate domain", "POST", "/v1/tenants/acme/domains", api.AddDomainRequest{Domain: "DUP.acme.com"}, 409, "already_exists"},
		{"verify unknown", "POST", "/v1/tenants/acme/domains/none.acme.com:verify", nil, 404, "domain_not_found"},
		{"verify garbage", "POST", "/v1/tenants/acme/domains/%2A%2A:verify", nil, 404, "domain_not_found"},
		{"unknown verb", "POST", "/v1/tenants/acme/domains/dup.acme.com:claim", nil, 404, "not_found"},
		{"delete garbage", "DELETE", "/v1/tenants/acme/domains/a..b", nil, 404, "domain_not_found"},
		{"http logo", "PUT", "/v1/tenants/acme/branding", api.PutBrandingRequest{LogoURL: "http://acme.com/l.png"}, 400, "invalid_branding"},
		{"javascript support url", "PUT", "/v1/tenants/acme/branding", api.PutBrandingRequest{SupportURL: "javascript:alert(1)"}, 400, "invalid_branding"},
		{"bad color", "PUT", "/v1/tenants/acme/branding", `{"colors":{"primary":"red"}}`, 400, "invalid_branding"},
		{"unknown color", "PUT", "/v1/tenants/acme/branding", `{"colors":{"hover":"#000000"}}`, 400, "unknown_field"},
		{"branding unknown field", "PUT", "/v1/tenants/acme/branding", `{"favicon":"x"}`, 400, "unknown_field"},
		{"bad analytics key", "PUT", "/v1/tenants/acme/branding", api.PutBrandingRequest{AnalyticsKey: "<script>"}, 400, "invalid_branding"},
		{"long product name", "PUT", "/v1/tenants/acme/branding", api.PutBrandingRequest{ProductName: strings.Repeat("x", 81)}, 400, "invalid_branding"},
		{"branding not an object", "PUT", "/v1/tenants/acme/branding", `[]`, 400, "malformed_json"},
		{"public no host", "GET", "/v1/branding", nil, 400, "invalid_argument"},
		{"public ip host", "GET", "/v1/branding?host=10.1.2.3", nil, 400, "invalid_host"},
		{"public garbage host", "GET", "/v1/branding?host=%3Cscript%3E", nil, 400, "invalid_host"},
		{"public long host", "GET", "/v1/branding?host=" + strings.Repeat("a.", 200) + "com", nil, 400, "invalid_host"},
	}
	for _, tc := range tests {
		cred := f.owner
		if tc.method == "GET" {
			cred = ""
		}
		rec := f.do(t, tc.method, tc.path, cred, tc.body)
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.wantStatus, rec.Body)
			continue
		}
		if code := errorCode(t, rec); code != tc.wantCode {
			t.Errorf("%s: code %s, want %s", tc.name, code, tc.wantCode)
		}
	}
	// Nothing was stored by the refused requests.
	var page struct{ Items []whitelabel.Domain }
	f.must(t, 200, "GET", "/v1/tenants/acme/domains", f.owner, nil, &page)
	var b whitelabel.TenantBranding
	f.must(t, 200, "GET", "/v1/tenants/acme/branding", f.owner, nil, &b)
	if len(page.Items) != 1 || b.ProductName != "" || !b.UpdatedAt.IsZero() {
		t.Errorf("after bad input: %d domains, branding %+v", len(page.Items), b)
	}
}

// TestPlatformDomainRefused: in domain mode no tenant may bring the platform's runtime domain.
func TestPlatformDomainRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runtimeDomain: "rt.runyard.test"})
	owner := e.user(t, ownerEmail)
	e.must(t, 201, "POST", "/v1/tenants", owner, api.CreateTenantRequest{ID: "acme", Name: "Acme"}, nil)
	for _, d := range []string{"rt.runyard.test", "x.rt.runyard.test", "runyard.test"} {
		rec := e.do(t, "POST", "/v1/tenants/acme/domains", owner, api.AddDomainRequest{Domain: d})
		if rec.Code != 400 || errorCode(t, rec) != "invalid_domain" {
			t.Errorf("add %s: %d %s", d, rec.Code, rec.Body)
		}
	}
	// Hosts under the platform's domain show the platform's branding.
	rec := e.do(t, "GET", "/v1/branding?host=vscode-abc.rt.runyard.test", "", nil)
	var b map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b["product_name"] != "Runyard" {
		t.Errorf("platform host branding: %d %s", rec.Code, rec.Body)
	}
}

func FuzzAddDomainBody(f *testing.F) {
	for _, s := range []string{`{"domain":"acme.com"}`, `{"domain":"bücher.de"}`, `{"domain":"*.a.com"}`, `{"domain":"xn--80ak6aa92e.com"}`,
		`{"domain":"a..b"}`, `{"domain":"1.1.1.1"}`, `{"domain":null}`, `{}`} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) { fuzzBody(t, fx, "/v1/tenants/acme/domains", body) })
}

// TestDeleteTenantReleasesDomains: deleting a tenant through the api removes its branding and
// domains and releases its verified domain for another tenant.
func TestDeleteTenantReleasesDomains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 200, "PUT", "/v1/tenants/acme/branding", f.owner, api.PutBrandingRequest{ProductName: "Acme Cloud"}, nil)
	f.verifyDomain(t, "acme", f.owner, "acme.com")
	if _, m := f.publicBranding(t, "app.acme.com"); m["product_name"] != "Acme Cloud" {
		t.Fatalf("branding before deletion: %v", m)
	}
	f.must(t, 204, "DELETE", "/v1/tenants/acme", f.owner, nil, nil)
	if _, m := f.publicBranding(t, "app.acme.com"); m["product_name"] != "Runyard" {
		t.Errorf("branding after deletion: %v", m)
	}
	f.verifyDomain(t, "other", f.otherOwner, "acme.com")
	// A tenant re-created with the id starts with no branding and no domains.
	f.must(t, 201, "POST", "/v1/tenants", f.owner, api.CreateTenantRequest{ID: "acme", Name: "Acme again"}, nil)
	var b whitelabel.TenantBranding
	f.must(t, 200, "GET", "/v1/tenants/acme/branding", f.owner, nil, &b)
	var page struct{ Items []whitelabel.Domain }
	f.must(t, 200, "GET", "/v1/tenants/acme/domains", f.owner, nil, &page)
	if b.ProductName != "" || len(page.Items) != 0 {
		t.Errorf("re-created tenant: branding %+v, %d domains", b, len(page.Items))
	}
}
