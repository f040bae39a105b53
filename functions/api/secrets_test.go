package api_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/tenancy"
)

func putSecret(value string) api.PutSecretRequest { return api.PutSecretRequest{Value: value} }

func TestSecretsAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/FIXTURE", f.owner, putSecret("v"), nil)
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey},
		{"member", f.member}, {"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	for i := range callers {
		f.must(t, 201, "PUT", fmt.Sprintf("/v1/tenants/acme/secrets/VICTIM_%d", i), f.owner, putSecret("v"), nil)
	}
	const u, n, f4 = 401, 404, 403
	tests := []struct {
		name, method string
		path         func(i int) string
		body         any
		want         [8]int
	}{
		{"list", "GET", func(int) string { return "/v1/tenants/acme/secrets" }, nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"get", "GET", func(int) string { return "/v1/tenants/acme/secrets/FIXTURE" }, nil, [8]int{u, n, n, 200, 200, 200, f4, u}},
		{"put", "PUT", func(i int) string { return fmt.Sprintf("/v1/tenants/acme/secrets/NEW_%d", i) }, putSecret("x"), [8]int{u, n, n, f4, 201, 201, f4, u}},
		{"delete", "DELETE", func(i int) string { return fmt.Sprintf("/v1/tenants/acme/secrets/VICTIM_%d", i) }, nil, [8]int{u, n, n, f4, 204, 204, f4, u}},
	}
	for _, tc := range tests {
		for i, c := range callers {
			rec := f.do(t, tc.method, tc.path(i), c.cred, tc.body)
			if rec.Code != tc.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, c.name, rec.Code, tc.want[i], rec.Body)
			} else if rec.Code >= 400 {
				errorCode(t, rec)
			}
		}
	}
	// Denied deletes left their secrets in Secret Manager; allowed ones destroyed them.
	for i, c := range callers {
		gone := tests[3].want[i] == 204
		res := fmt.Sprintf("projects/test/secrets/rt-acme-VICTIM_%d", i)
		if exists := f.sm.Secret(res) != nil; exists == gone {
			t.Errorf("victim of %s: in Secret Manager = %v, want %v", c.name, exists, !gone)
		}
	}
}

func TestSecretsLifecycleNeverLeaks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const v1, v2 = "sk-live-FIRST-0123456789abcdef", "sk-live-SECOND-fedcba9876543210"
	var bodies []string
	record := func(method, path, cred string, body any, want int) string {
		rec := f.do(t, method, path, cred, body)
		bodies = append(bodies, rec.Body.String()+fmt.Sprint(rec.Header()))
		if rec.Code != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, rec.Code, want, rec.Body)
		}
		return rec.Body.String()
	}
	record("PUT", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.admin, putSecret(v1), 201)
	got := record("PUT", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, putSecret(v2), 200)
	if !strings.Contains(got, `"version":"2"`) || !strings.Contains(got, `"updated_by":"owner@acme.test"`) {
		t.Errorf("rotation answer: %s", got)
	}
	record("GET", "/v1/tenants/acme/secrets", f.member, nil, 200)
	record("GET", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.member, nil, 200)
	// Failures on the way, from Secret Manager and from bad input, echo nothing either.
	f.sm.FailNext("AddSecretVersion", codes.Unavailable, 1)
	record("PUT", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, putSecret(v1), 503)
	record("PUT", "/v1/tenants/acme/secrets/bad-name", f.owner, putSecret(v1), 400)
	record("PUT", "/v1/tenants/acme/secrets/OTHER", f.owner, `{"value":"`+v1+`","extra":"`+v2+`"}`, 400)
	record("PUT", "/v1/tenants/acme/secrets/OTHER", f.member, putSecret(v2), 403)
	record("GET", "/v1/tenants/acme/audit?limit=500", f.owner, nil, 200)
	record("DELETE", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, nil, 204)
	record("GET", "/v1/tenants/acme/secrets/OPENAI_API_KEY", f.owner, nil, 404)
	all := strings.Join(bodies, "\n") + f.logs.String()
	for _, v := range []string{v1, v2} {
		if strings.Contains(all, v) {
			t.Errorf("secret value %q appears in a response or log line", v)
		}
	}
	if !strings.Contains(f.logs.String(), "AddSecretVersion") && !strings.Contains(f.logs.String(), "Unavailable") {
		t.Errorf("the Secret Manager failure was not logged at all")
	}
}

func TestSecretsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name, path string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"lowercase name", "lower", putSecret("v"), 400, "invalid_secret_name"},
		{"leading digit", "1ABC", putSecret("v"), 400, "invalid_secret_name"},
		{"dash", "A-B", putSecret("v"), 400, "invalid_secret_name"},
		{"65 characters", strings.Repeat("A", 65), putSecret("v"), 400, "invalid_secret_name"},
		{"empty value", "EMPTY", putSecret(""), 400, "invalid_argument"},
		{"oversize value", "BIG", putSecret(strings.Repeat("x", 64<<10+1)), 413, "secret_too_large"},
		{"value not a string", "NUM", `{"value":5}`, 400, "invalid_argument"},
		{"unknown field", "UNK", `{"value":"x","name":"y"}`, 400, "unknown_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, "PUT", "/v1/tenants/acme/secrets/"+tc.path, f.owner, tc.body)
			if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	// Exactly 64 KiB is accepted.
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/MAX", f.owner, putSecret(strings.Repeat("x", 64<<10)), nil)
	// A Secret Manager outage stores nothing: no metadata, no count.
	f.sm.FailNext("CreateSecret", codes.Unavailable, 10)
	rec := f.do(t, "PUT", "/v1/tenants/acme/secrets/DOWN", f.owner, putSecret("v"))
	if rec.Code != 503 || errorCode(t, rec) != "unavailable" {
		t.Errorf("outage: %d %s", rec.Code, rec.Body)
	}
	f.must(t, 404, "GET", "/v1/tenants/acme/secrets/DOWN", f.owner, nil, nil)
	var ten tenancy.Tenant
	f.must(t, 200, "GET", "/v1/tenants/acme", f.owner, nil, &ten)
	if ten.Counts.Secrets != 1 {
		t.Errorf("secret count = %d, want 1", ten.Counts.Secrets)
	}
}

func TestDeleteTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/A", f.owner, putSecret("a"), nil)
	f.must(t, 201, "PUT", "/v1/tenants/acme/secrets/B", f.owner, putSecret("b"), nil)
	f.must(t, 201, "PUT", "/v1/tenants/other/secrets/A", f.otherOwner, putSecret("o"), nil)
	for _, c := range []struct {
		name, cred string
		want       int
	}{
		{"anonymous", "", 401}, {"other owner", f.otherOwner, 404}, {"other key", f.otherKey, 404},
		{"member", f.member, 403}, {"admin", f.admin, 403}, {"api key", f.key, 403}, {"revoked key", f.revokedKey, 401},
	} {
		if rec := f.do(t, "DELETE", "/v1/tenants/acme", c.cred, nil); rec.Code != c.want {
			t.Errorf("delete as %s: %d, want %d", c.name, rec.Code, c.want)
		}
	}
	f.must(t, 204, "DELETE", "/v1/tenants/acme", f.owner, nil, nil)
	f.must(t, 404, "GET", "/v1/tenants/acme", f.owner, nil, nil)
	if rec := f.do(t, "GET", "/v1/tenants/acme", f.key, nil); rec.Code != 401 || errorCode(t, rec) != "invalid_api_key" {
		t.Errorf("deleted tenant's key: %d %s", rec.Code, rec.Body)
	}
	for _, name := range f.sm.SecretNames() {
		if strings.Contains(name, "/rt-acme-") {
			t.Errorf("secret %s survived its tenant", name)
		}
	}
	if f.sm.Secret("projects/test/secrets/rt-other-A") == nil {
		t.Error("another tenant's secret was deleted")
	}
	// The id is free again, and nothing of the old tenant shows through.
	f.must(t, 201, "POST", "/v1/tenants", f.otherOwner, api.CreateTenantRequest{ID: "acme", Name: "New Acme"}, nil)
	var members struct{ Items []tenancy.Member }
	f.must(t, 200, "GET", "/v1/tenants/acme/members", f.otherOwner, nil, &members)
	var audit auditPage
	f.must(t, 200, "GET", "/v1/tenants/acme/audit", f.otherOwner, nil, &audit)
	var secretsPage struct{ Items []tenancy.Secret }
	f.must(t, 200, "GET", "/v1/tenants/acme/secrets", f.otherOwner, nil, &secretsPage)
	if len(members.Items) != 1 || len(audit.Items) != 1 || len(secretsPage.Items) != 0 {
		t.Errorf("re-created tenant has %d members, %d audit events, %d secrets; want 1, 1, 0",
			len(members.Items), len(audit.Items), len(secretsPage.Items))
	}
	f.must(t, 404, "GET", "/v1/tenants/acme", f.owner, nil, nil)
}
