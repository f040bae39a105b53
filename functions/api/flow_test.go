package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/tenancy"
)

type auditPage struct {
	Items      []tenancy.AuditEvent `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

func TestAuditRecordsMutations(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A denied attempt is audited too.
	f.must(t, 403, "POST", "/v1/tenants/acme/members", f.member, api.AddMemberRequest{Email: "sneaky@acme.test"}, nil)
	var page auditPage
	f.must(t, 200, "GET", "/v1/tenants/acme/audit?limit=100", f.owner, nil, &page)
	var got []string
	for _, e := range page.Items {
		if e.IP == "" || e.UserAgent != "runyard-test" || e.Time.IsZero() || e.Actor == "" || e.RequestID == "" {
			t.Errorf("incomplete audit event %+v", e)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Target, e.Outcome))
	}
	// Newest first.
	want := []string{
		"member@acme.test members.add members/sneaky@acme.test denied",
		"owner@acme.test apikeys.revoke apikeys/",
		"owner@acme.test apikeys.create apikeys/",
		"owner@acme.test apikeys.create apikeys/",
		"owner@acme.test members.add members/member@acme.test success",
		"owner@acme.test members.add members/admin@acme.test success",
		"owner@acme.test tenant.create tenants/acme success",
	}
	if len(got) != len(want) {
		t.Fatalf("audit log:\n%s\nwant %d events", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	// Other tenants' events never show.
	for _, e := range page.Items {
		if strings.Contains(e.Target, "other") || strings.Contains(e.Actor, "other.test") {
			t.Errorf("foreign event in acme's log: %+v", e)
		}
	}
}

func TestAuditPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var page auditPage
		f.must(t, 200, "GET", "/v1/tenants/acme/audit?limit=2&cursor="+cursor, f.owner, nil, &page)
		pages++
		for _, e := range page.Items {
			if seen[e.ID] {
				t.Errorf("event %s seen twice", e.ID)
			}
			seen[e.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 6 || pages != 3 {
		t.Errorf("saw %d events over %d pages, want 6 over 3", len(seen), pages)
	}
	// acme's cursor is not valid for another tenant's listing.
	var first auditPage
	f.must(t, 200, "GET", "/v1/tenants/acme/audit?limit=2", f.owner, nil, &first)
	rec := f.do(t, "GET", "/v1/tenants/other/audit?limit=2&cursor="+first.NextCursor, f.otherOwner, nil)
	if rec.Code != 400 || errorCode(t, rec) != "invalid_cursor" {
		t.Errorf("foreign cursor: %d %s", rec.Code, rec.Body)
	}
}

func TestMembersLeaveAndOwnership(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A member may leave on their own.
	f.must(t, 204, "DELETE", "/v1/tenants/acme/members/"+memberEmail, f.member, nil, nil)
	f.must(t, 404, "GET", "/v1/tenants/acme", f.member, nil, nil)
	// An owner adds a second owner; then the first may leave.
	f.must(t, 201, "POST", "/v1/tenants/acme/members", f.owner, api.AddMemberRequest{Email: "co@acme.test", Role: "owner"}, nil)
	f.must(t, 204, "DELETE", "/v1/tenants/acme/members/"+ownerEmail, f.owner, nil, nil)
	co := f.user(t, "co@acme.test")
	var ten tenancy.Tenant
	f.must(t, 200, "GET", "/v1/tenants/acme", co, nil, &ten)
	if ten.Counts.Owners != 1 || ten.Counts.Members != 2 {
		t.Errorf("counts = %+v", ten.Counts)
	}
	f.must(t, 409, "DELETE", "/v1/tenants/acme/members/co@acme.test", co, nil, nil)
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/apikeys", f.owner, nil, &list)
	if len(list.Items) != 2 {
		t.Fatalf("keys = %d, want 2", len(list.Items))
	}
	raw := f.do(t, "GET", "/v1/tenants/acme/apikeys", f.owner, nil).Body.String()
	for _, secret := range []string{strings.TrimPrefix(f.key, "key:"), strings.TrimPrefix(f.revokedKey, "key:")} {
		if strings.Contains(raw, secret) || strings.Contains(f.logs.String(), secret) {
			t.Error("a key's secret appears in a listing or the logs")
		}
	}
	for _, k := range list.Items {
		if _, ok := k["hash"]; ok {
			t.Errorf("listing shows a hash: %v", k)
		}
	}
	// Using a key records its last use.
	f.must(t, 200, "GET", "/v1/tenants/acme", f.key, nil, nil)
	var keys struct {
		Items []tenancy.APIKey `json:"items"`
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/apikeys", f.owner, nil, &keys)
	used := 0
	for _, k := range keys.Items {
		if k.LastUsedAt != nil {
			used++
		}
	}
	if used != 1 {
		t.Errorf("%d keys have a last-used time, want 1", used)
	}
}

func TestAPIKeyQuota(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The fixture holds 1 active key; the quota is tenancy.DefaultQuotas.MaxAPIKeys.
	for i := 1; i < tenancy.DefaultQuotas.MaxAPIKeys; i++ {
		f.must(t, 201, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "k"}, nil)
	}
	rec := f.do(t, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "one too many"})
	if rec.Code != 429 || errorCode(t, rec) != "quota_exceeded" {
		t.Fatalf("over quota: %d %s", rec.Code, rec.Body)
	}
}
