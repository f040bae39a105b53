package api_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/functions/api"
)

// runtimeURLEnv returns the RUNTIME_URL the runtime container of service name is given.
func (e *env) runtimeURLEnv(tb testing.TB, name string) string {
	tb.Helper()
	svc := e.run.Service(name)
	if svc == nil {
		tb.Fatalf("no service %s", name)
	}
	for _, c := range svc.GetTemplate().GetContainers() {
		for _, v := range c.GetEnv() {
			if v.GetName() == "RUNTIME_URL" {
				return v.GetValue()
			}
		}
	}
	return ""
}

// TestDomainModeURLs: with RUNTIME_DOMAIN set, every URL the api answers (and RUNTIME_URL in
// the runtime) is a gateway host of the subdomain scheme, under the tenant's verified custom
// domain once it has one, never another tenant's.
func TestDomainModeURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runtimeDomain: "rt.runyard.test"})
	owner, other := e.user(t, ownerEmail), e.user(t, "boss@other.test")
	e.must(t, 201, "POST", "/v1/tenants", owner, api.CreateTenantRequest{ID: "acme", Name: "Acme"}, nil)
	e.must(t, 201, "POST", "/v1/tenants", other, api.CreateTenantRequest{ID: "other", Name: "Other"}, nil)

	var rt rtResp
	e.must(t, 202, "POST", "/v1/tenants/acme/runtimes", owner, api.CreateRuntimeRequest{Image: image, Ports: []int{8000, 12000}}, &rt)
	id := rt.ID
	type urls = struct {
		Agent    string            `json:"agent"`
		VSCode   string            `json:"vscode"`
		Previews map[string]string `json:"previews"`
	}
	want := func(domain, tkn string) urls {
		return urls{Agent: "https://" + id + "." + domain, VSCode: "https://vscode-" + id + "." + domain + "/?tkn=" + tkn,
			Previews: map[string]string{"8000": "https://8000-" + id + "." + domain + "/", "12000": "https://work-1-" + id + "." + domain + "/"}}
	}
	// Known at once (the host names do not wait for the service URL).
	tkn := rt.URLs.VSCode[len("https://vscode-"+id+".rt.runyard.test/?tkn="):]
	if len(tkn) < 20 {
		t.Fatalf("VS Code URL %q has no token", rt.URLs.VSCode)
	}
	if diff := cmp.Diff(want("rt.runyard.test", tkn), urls(rt.URLs)); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	if got := e.runtimeURLEnv(t, svcName(id)); got != "https://"+id+".rt.runyard.test" {
		t.Errorf("RUNTIME_URL = %q", got)
	}
	e.run.SetReady(svcName(id))
	e.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+id, owner, nil, &rt)
	if diff := cmp.Diff(want("rt.runyard.test", tkn), urls(rt.URLs)); rt.State != "running" || diff != "" {
		t.Errorf("running %s (-want +got):\n%s", rt.State, diff)
	}

	// acme verifies dev.acme.com: its runtimes' URLs move there; other's stay on the platform's.
	e.verifyDomain(t, "acme", owner, "dev.acme.com")
	e.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+id, owner, nil, &rt)
	if diff := cmp.Diff(want("dev.acme.com", tkn), urls(rt.URLs)); diff != "" {
		t.Errorf("after verification (-want +got):\n%s", diff)
	}
	var page struct{ Items []rtResp }
	e.must(t, 200, "GET", "/v1/tenants/acme/runtimes", owner, nil, &page)
	if len(page.Items) != 1 || page.Items[0].URLs.Agent != "https://"+id+".dev.acme.com" {
		t.Errorf("list: %+v", page.Items)
	}
	var rt2 rtResp
	e.must(t, 202, "POST", "/v1/tenants/acme/runtimes", owner, api.CreateRuntimeRequest{Image: image}, &rt2)
	if got := e.runtimeURLEnv(t, svcName(rt2.ID)); got != "https://"+rt2.ID+".dev.acme.com" {
		t.Errorf("RUNTIME_URL of a runtime made after verification = %q", got)
	}
	var ort rtResp
	e.must(t, 202, "POST", "/v1/tenants/other/runtimes", other, api.CreateRuntimeRequest{Image: image}, &ort)
	if ort.URLs.Agent != "https://"+ort.ID+".rt.runyard.test" {
		t.Errorf("other tenant's runtime: %q", ort.URLs.Agent)
	}
	// Paused runtimes keep their URLs (the gateway answers for them); deleted ones have none.
	e.must(t, 204, "DELETE", "/v1/tenants/acme/runtimes/"+rt2.ID, owner, nil, nil)
	var gone rtResp
	e.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt2.ID, owner, nil, &gone)
	if gone.URLs.Agent != "" || len(gone.URLs.Previews) != 0 {
		t.Errorf("deleted runtime's URLs: %+v", gone.URLs)
	}
}

// TestDirectModeURLs: without RUNTIME_DOMAIN the URLs stay under the run.app service URL, and
// a tenant's verified domain changes nothing (there is no gateway to serve it).
func TestDirectModeURLs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.verifyDomain(t, "acme", f.owner, "acme.com")
	var rt rtResp
	f.must(t, 202, "POST", "/v1/tenants/acme/runtimes", f.member, api.CreateRuntimeRequest{Image: image, Ports: []int{3000}}, &rt)
	f.run.SetReady(svcName(rt.ID))
	f.must(t, 200, "GET", "/v1/tenants/acme/runtimes/"+rt.ID, f.member, nil, &rt)
	base := rt.URLs.Agent
	if !cmp.Equal(rt.URLs.Previews, map[string]string{"3000": base + "/_port/3000/"}) || rt.URLs.VSCode[:len(base)+13] != base+"/vscode/?tkn=" {
		t.Errorf("direct mode URLs: %+v", rt.URLs)
	}
	if got := f.runtimeURLEnv(t, svcName(rt.ID)); got != "https://rt-"+rt.ID+"-123456789012.us-central1.run.app" {
		t.Errorf("RUNTIME_URL = %q", got)
	}
}
