package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/previews"
)

const testPreviewKey = "api-test-preview-key-0123456789abcdef"

type settingsResp struct {
	Ports map[string]string `json:"ports"`
	Links []struct {
		ID        string     `json:"id"`
		Port      int        `json:"port"`
		RevokedAt *time.Time `json:"revoked_at"`
	} `json:"links"`
}

type linkResp struct {
	ID        string    `json:"id"`
	Port      int       `json:"port"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token"`
}

// TestPreviewEndpoints: visibility per port and preview links through the real api, with the
// authorization matrix of the preview endpoints.
func TestPreviewEndpoints(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image, Ports: []int{3000}}, &rt)
	base := "/v1/tenants/acme/runtimes/" + rt.ID + "/previews"

	f.must(t, 200, "PUT", base+"/3000", f.member, api.VisibilityRequest{Visibility: previews.Public}, nil)
	var set settingsResp
	f.must(t, 200, "GET", base, f.key, nil, &set)
	if set.Ports["3000"] != "public" {
		t.Errorf("settings %+v", set)
	}
	var l linkResp
	f.must(t, 201, "POST", base+"/12000/links", f.key, api.LinkRequest{TTLSeconds: 600}, &l)
	if l.Port != 12000 || time.Until(l.ExpiresAt) > 601*time.Second || time.Until(l.ExpiresAt) < 590*time.Second {
		t.Errorf("link %+v", l)
	}
	// The token is the gateway's: it opens port 12000 of this runtime, and nothing else.
	signer, _ := previews.NewSigner([]byte(testPreviewKey))
	f.must(t, 200, "GET", base, f.member, nil, &set)
	stored := previews.Settings{Links: []previews.Link{{ID: set.Links[0].ID, Port: set.Links[0].Port, ExpiresAt: l.ExpiresAt}}}
	if _, err := signer.Check(l.Token, "acme", rt.ID, 12000, time.Now(), stored); err != nil {
		t.Errorf("the link does not open its port: %v", err)
	}
	if _, err := signer.Check(l.Token, "acme", rt.ID, 3000, time.Now(), stored); err == nil {
		t.Error("the link opens another port")
	}
	if strings.Contains(fmt.Sprint(set), l.Token) {
		t.Error("the token is stored")
	}
	f.must(t, 204, "DELETE", base+"/12000/links/"+l.ID, f.member, nil, nil)
	f.must(t, 200, "GET", base, f.member, nil, &set)
	if len(set.Links) != 1 || set.Links[0].RevokedAt == nil {
		t.Errorf("after revoke: %+v", set)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"agent port", "PUT", base + "/60000", api.VisibilityRequest{Visibility: previews.Public}, 400, api.CodeNotPreviewPort},
		{"VS Code port", "POST", base + "/60001/links", api.LinkRequest{}, 400, api.CodeNotPreviewPort},
		{"port 0", "PUT", base + "/0", api.VisibilityRequest{Visibility: previews.Public}, 400, api.CodeNotPreviewPort},
		{"port leading zero", "PUT", base + "/03000", api.VisibilityRequest{Visibility: previews.Public}, 400, api.CodeNotPreviewPort},
		{"port too big", "PUT", base + "/70000", api.VisibilityRequest{Visibility: previews.Public}, 400, api.CodeNotPreviewPort},
		{"bad visibility", "PUT", base + "/3000", api.VisibilityRequest{Visibility: "world"}, 400, api.CodeInvalidVisiblty},
		{"ttl too short", "POST", base + "/3000/links", api.LinkRequest{TTLSeconds: 30}, 400, "invalid_argument"},
		{"ttl too long", "POST", base + "/3000/links", api.LinkRequest{TTLSeconds: 8 * 24 * 3600}, 400, "invalid_argument"},
		{"unknown field", "POST", base + "/3000/links", map[string]any{"ttl": 5}, 400, "unknown_field"},
		{"unknown link", "DELETE", base + "/3000/links/nosuchlink", nil, 404, api.CodeLinkNotFound},
		{"link of another port", "DELETE", base + "/3000/links/" + l.ID, nil, 404, api.CodeLinkNotFound},
		{"unknown runtime", "PUT", "/v1/tenants/acme/runtimes/aaaaaaaaaaaaaaaaaaaa/previews/3000", api.VisibilityRequest{Visibility: previews.Public}, 404, api.CodeRuntimeNotFound},
		{"bad runtime id", "GET", "/v1/tenants/acme/runtimes/NOPE/previews", nil, 400, "invalid_id"},
	} {
		rec := f.do(t, tc.method, tc.path, f.owner, tc.body)
		if rec.Code != tc.status || errorCode(t, rec) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.code)
		}
	}

	// The matrix: callers × preview endpoints (members and the tenant's key may; nobody else).
	callers := []struct{ name, cred string }{
		{"anonymous", ""}, {"other tenant's owner", f.otherOwner}, {"other tenant's key", f.otherKey}, {"member", f.member},
		{"admin", f.admin}, {"owner", f.owner}, {"api key", f.key}, {"revoked key", f.revokedKey},
	}
	const u, n = 401, 404
	for i, c := range callers {
		var own linkResp
		f.must(t, 201, "POST", base+"/3000/links", f.owner, api.LinkRequest{}, &own)
		for _, ep := range []struct {
			name, method, path string
			body               any
			want               [8]int
		}{
			{"get previews", "GET", base, nil, [8]int{u, n, n, 200, 200, 200, 200, u}},
			{"set visibility", "PUT", base + "/3001", api.VisibilityRequest{Visibility: previews.Tenant}, [8]int{u, n, n, 200, 200, 200, 200, u}},
			{"create link", "POST", base + "/3001/links", api.LinkRequest{}, [8]int{u, n, n, 201, 201, 201, 201, u}},
			{"revoke link", "DELETE", base + "/3000/links/" + own.ID, nil, [8]int{u, n, n, 204, 204, 204, 204, u}},
		} {
			rec := f.do(t, ep.method, ep.path, c.cred, ep.body)
			if rec.Code != ep.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", ep.name, c.name, rec.Code, ep.want[i], rec.Body)
			}
		}
		f.must(t, 200, "GET", base, f.owner, nil, &set)
		for _, sl := range set.Links {
			if sl.ID == own.ID && (sl.RevokedAt != nil) != (i >= 3 && i <= 6) {
				t.Errorf("%s: link revoked = %v", c.name, sl.RevokedAt != nil)
			}
		}
	}
	// Every change was audited with its action.
	var audit struct {
		Items []struct{ Action, Outcome string } `json:"items"`
	}
	f.must(t, 200, "GET", "/v1/tenants/acme/audit?limit=200", f.owner, nil, &audit)
	var ok, failed int
	for _, e := range audit.Items {
		if e.Action == "previews.manage" {
			if e.Outcome == "success" {
				ok++
			} else {
				failed++
			}
		}
	}
	if ok < 3+4*3 || failed < 2 {
		t.Errorf("audit: %d successes, %d failures of previews.manage", ok, failed)
	}
}
