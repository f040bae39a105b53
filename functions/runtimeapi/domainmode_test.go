package runtimeapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
	"github.com/runyard/runyard/shared/whitelabel/whitelabeltest"
)

// openHandsV1URLs derives the VS Code host and app hosts from a runtime's url exactly as
// OpenHands' V1 RemoteSandboxService._build_service_url does (subdomain form):
// scheme://vscode-<host>, scheme://work-1-<host>, scheme://work-2-<host>.
func openHandsV1URLs(tb testing.TB, agent string) (vscode, work1, work2 string) {
	tb.Helper()
	u, err := url.Parse(agent)
	if err != nil || u.Path != "" {
		tb.Fatalf("agent url %q is not scheme://host (%v)", agent, err)
	}
	return u.Scheme + "://vscode-" + u.Host, u.Scheme + "://work-1-" + u.Host, u.Scheme + "://work-2-" + u.Host
}

// checkDomainURLs checks a Runtime object's URLs are the subdomain scheme under domain.
func checkDomainURLs(tb testing.TB, got rt, domain string) {
	tb.Helper()
	id := got.RuntimeID
	if got.URL != "https://"+id+"."+domain {
		tb.Fatalf("url = %q, want https://%s.%s", got.URL, id, domain)
	}
	vs, w1, w2 := openHandsV1URLs(tb, got.URL)
	if diff := cmp.Diff(map[string]int{w1: 12000, w2: 12001}, got.WorkHosts); diff != "" {
		tb.Errorf("work_hosts (-OpenHands' derivation +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.VSCodeURL, vs+"/?tkn=") || !strings.HasSuffix(got.VSCodeURL, "&folder=%2Fworkspace") ||
		len(got.VSCodeURL) < len(vs)+30 {
		tb.Errorf("vscode_url = %q, want %s/?tkn=<token>&folder=%%2Fworkspace", got.VSCodeURL, vs)
	}
}

// TestDomainModeURLs: with RUNTIME_DOMAIN set, url, vscode_url and work_hosts are the hosts the
// V1 frontend derives (vscode-<host>, work-1-<host>), RUNTIME_URL in the runtime is the same
// url, readiness is checked through it, and a tenant's verified domain takes over its runtimes
// (only its own).
func TestDomainModeURLs(t *testing.T) {
	t.Parallel()
	e := newEnvDomain(t, false, false, "rt.runyard.test")
	var started rt
	e.must(t, 200, "acme", "POST", "/start", v1Start("sid-1"), &started)
	checkDomainURLs(t, started, "rt.runyard.test")
	if env := runtimeEnv(t, e, started.RuntimeID); env["RUNTIME_URL"] != started.URL {
		t.Errorf("RUNTIME_URL = %q, want %q", env["RUNTIME_URL"], started.URL)
	}
	// Ready once GET {url}/alive answers through the public host (routed to the test sandbox).
	e.run.SetReady(svcName(started.RuntimeID))
	var got rt
	e.must(t, 200, "acme", "GET", "/sessions/sid-1", nil, &got)
	if e.aliveHost.Load() != "https://"+started.RuntimeID+".rt.runyard.test" {
		t.Errorf("readiness was checked at %v, not through the runtime's public host", e.aliveHost.Load())
	}
	if got.Status != "running" || got.PodStatus != "ready" {
		t.Errorf("after ready: %s/%s", got.Status, got.PodStatus)
	}
	checkDomainURLs(t, got, "rt.runyard.test")

	// acme verifies dev.acme.com.
	verifyDomain(t, e, "acme", "dev.acme.com")
	started = rt{} // decoding into a used map would merge its keys
	e.must(t, 200, "acme", "POST", "/start", v1Start("sid-2"), &started)
	checkDomainURLs(t, started, "dev.acme.com")
	if env := runtimeEnv(t, e, started.RuntimeID); env["RUNTIME_URL"] != "https://"+started.RuntimeID+".dev.acme.com" {
		t.Errorf("RUNTIME_URL = %q", env["RUNTIME_URL"])
	}
	var list struct{ Runtimes []rt }
	e.must(t, 200, "acme", "GET", "/list", nil, &list)
	for _, r := range list.Runtimes {
		if !strings.HasSuffix(r.URL, ".dev.acme.com") {
			t.Errorf("listed %s at %s", r.RuntimeID, r.URL)
		}
	}
	// Another tenant's runtimes never get acme's domain.
	started = rt{}
	e.must(t, 200, "other", "POST", "/start", v1Start("sid-3"), &started)
	checkDomainURLs(t, started, "rt.runyard.test")
}

// runtimeEnv returns the runtime container's plain environment of runtime id.
func runtimeEnv(tb testing.TB, e *env, id string) map[string]string {
	tb.Helper()
	svc := e.run.Service(svcName(id))
	if svc == nil {
		tb.Fatalf("no service for %s", id)
	}
	out := map[string]string{}
	for _, c := range svc.GetTemplate().GetContainers() {
		if c.GetName() == "ingress" {
			continue
		}
		for _, v := range c.GetEnv() {
			out[v.GetName()] = v.GetValue()
		}
	}
	return out
}

// verifyDomain makes domain a verified custom domain of tenant, through the white-label service
// and a TXT record on an in-process DNS server.
func verifyDomain(tb testing.TB, e *env, tenant, domain string) {
	tb.Helper()
	ctx := context.Background()
	ten, err := tenancy.NewService(e.st, func(t string) (string, string, string, string, error) {
		k, err := auth.NewAPIKey(t)
		return k.ID, k.Plaintext, k.Hash, k.Prefix, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	dns := whitelabeltest.NewDNS(tb)
	svc, err := whitelabel.NewService(e.st, ten, whitelabel.NewResolver(dns.Addr), whitelabel.Config{DNSTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	owner := tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@" + tenant + ".test"}
	d, err := svc.AddDomain(ctx, owner, tenant, domain)
	if err != nil {
		tb.Fatal(err)
	}
	dns.SetTXT(d.ChallengeName, d.ChallengeValue)
	if _, err := svc.VerifyDomain(ctx, owner, tenant, domain); err != nil {
		tb.Fatal(err)
	}
}
