package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/auth/authtest"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/previews"
	"github.com/runyard/runyard/shared/runtime"
)

// TestHostRouting: every host of the scheme reaches the runtime's service with the host the
// client asked for in X-Forwarded-Host (the sidecar routes by it), the service's own Host, the
// path and query unchanged; hosts outside the scheme or of unknown runtimes are 404.
func TestHostRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	key := rt.SessionAPIKey
	backendHost := strings.TrimPrefix(e.backend.URL, "http://")
	tests := []struct {
		name, host, path string
		hdr              []string
		want             int
		code             string
	}{
		{name: "agent", host: hosts.Agent(rt.ID, domain), path: "/api/conversations?limit=5", hdr: []string{"X-Session-API-Key", key}, want: 200},
		{name: "vscode", host: hosts.VSCode(rt.ID, domain), path: "/?tkn=" + rt.VSCodeToken, want: 200},
		{name: "work-1", host: hosts.Work(1, rt.ID, domain), path: "/", want: 200},
		{name: "work-2", host: hosts.Work(2, rt.ID, domain), path: "/x", want: 200},
		{name: "port", host: hosts.Name(rt.ID, 3000, domain), path: "/a/b", want: 200},
		{name: "port with :443 and upper case", host: strings.ToUpper(hosts.Name(rt.ID, 8080, domain)) + ":443", path: "/", want: 200},
		{name: "unknown runtime", host: hosts.Agent("nosuchruntime", domain), path: "/", want: 404, code: "runtime_not_found"},
		{name: "not a runtime host", host: "www." + domain + "x", path: "/", want: 404, code: "unknown_host"},
		{name: "bare domain", host: domain, path: "/", want: 404, code: "unknown_host"},
		{name: "unknown custom domain", host: hosts.Agent(rt.ID, "apps.unknown-corp.com"), path: "/", want: 404, code: "unknown_host"},
		{name: "bad port label", host: "0-" + rt.ID + "." + domain, path: "/", want: 404, code: "unknown_host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.do(t, tt.host, tt.path, tt.hdr...)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
			if tt.want != 200 {
				if got.code() != tt.code {
					t.Errorf("code %q, want %q", got.code(), tt.code)
				}
				return
			}
			s := got.seen
			if !strings.EqualFold(s.ForwardedHost, tt.host) || s.Host != backendHost || s.Proto != "http" {
				t.Errorf("backend saw host %q, forwarded host %q, proto %q; want %q, %q, http", s.Host, s.ForwardedHost, s.Proto, backendHost, tt.host)
			}
			path, query, _ := strings.Cut(tt.path, "?")
			if s.Path != path || s.Query != query {
				t.Errorf("backend saw %s?%s, want %s", s.Path, s.Query, tt.path)
			}
		})
	}
}

// TestIAP: an iap-mode runtime needs the load balancer's IAP JWT (ES256, the backend service's
// audience, IAP's issuer, unexpired, a 64-byte signature) of a member of its tenant.
func TestIAP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeIAP, nil)
	agent := hosts.Agent(rt.ID, domain)
	tests := []struct {
		name string
		jwt  string
		want int
	}{
		{"valid member", e.iap(t, ownerA, authtest.Claims{}), 200},
		{"valid non-member", e.iap(t, ownerB, authtest.Claims{}), 403},
		{"wrong audience", e.iap(t, ownerA, authtest.Claims{Audience: "/projects/123456789012/global/backendServices/1"}), 401},
		{"direct Cloud Run audience", e.iap(t, ownerA, authtest.Claims{Audience: authtest.DefaultIAPAudience}), 401},
		{"wrong issuer", e.iap(t, ownerA, authtest.Claims{Issuer: "https://evil.example"}), 401},
		{"expired", e.iap(t, ownerA, authtest.Claims{IssuedAt: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)}), 401},
		{"missing", "", 401},
		{"short signature", e.iap(t, ownerA, authtest.Claims{Signature: make([]byte, 8)}), 401},
		{"unknown key", e.iap(t, ownerA, authtest.Claims{UnknownKey: true}), 401},
		{"RS256 Google ID token", e.google.IDToken(t, authtest.Claims{Audience: iapAudience, Email: ownerA}), 401},
		{"garbage", "a.b.c", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if tt.jwt != "" {
				hdr = []string{auth.IAPHeader, tt.jwt, "X-Goog-Authenticated-User-Email", "accounts.google.com:" + ownerA}
			}
			got := e.do(t, agent, "/api", hdr...)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
			if tt.want == 200 && (got.seen.IAP != tt.jwt || got.seen.UserEmail == "") {
				t.Errorf("the agent did not get the verified IAP headers: %+v", got.seen)
			}
		})
	}
	// Members pass on every port of an iap-mode runtime; VS Code and app ports never see the JWT.
	jwt := e.iap(t, ownerA, authtest.Claims{})
	for _, host := range []string{hosts.VSCode(rt.ID, domain), hosts.Work(1, rt.ID, domain), hosts.Name(rt.ID, 3000, domain)} {
		got := e.do(t, host, "/", auth.IAPHeader, jwt)
		if got.status != 200 || got.seen.IAP != "" {
			t.Errorf("%s: status %d, backend saw IAP %q", host, got.status, got.seen.IAP)
		}
	}
	// Without a JWT, VS Code is 401 JSON, an app port the branded page.
	if got := e.do(t, hosts.VSCode(rt.ID, domain), "/"); got.status != 401 || got.code() != "unauthenticated" {
		t.Errorf("vscode without JWT: %d %q", got.status, got.code())
	}
	if got := e.do(t, hosts.Work(1, rt.ID, domain), "/"); got.status != 403 || !strings.Contains(got.body, "Acme Cloud &lt;b&gt;") {
		t.Errorf("app without JWT: %d %s", got.status, got.body)
	}
}

// TestTokenMode: the session key opens the agent (header or query) and, with VS Code's
// connection token, VS Code; app ports follow PREVIEW_POLICY.
func TestTokenMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeToken, nil)
	pub := e.runtime(t, "acme", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	key := rt.SessionAPIKey
	tests := []struct {
		name, host, path string
		hdr              []string
		want             int
		code             string
	}{
		{name: "agent header", host: hosts.Agent(rt.ID, domain), path: "/api", hdr: []string{"X-Session-API-Key", key}, want: 200},
		{name: "agent query", host: hosts.Agent(rt.ID, domain), path: "/sockets/events/1?session_api_key=" + key, want: 200},
		{name: "agent wrong key", host: hosts.Agent(rt.ID, domain), path: "/api", hdr: []string{"X-Session-API-Key", key + "x"}, want: 401, code: "unauthenticated"},
		{name: "agent no key", host: hosts.Agent(rt.ID, domain), path: "/api", want: 401, code: "unauthenticated"},
		{name: "agent other runtime's key", host: hosts.Agent(rt.ID, domain), path: "/api", hdr: []string{"X-Session-API-Key", pub.SessionAPIKey}, want: 401, code: "unauthenticated"},
		{name: "vscode tkn", host: hosts.VSCode(rt.ID, domain), path: "/?tkn=" + rt.VSCodeToken, want: 200},
		{name: "vscode cookie", host: hosts.VSCode(rt.ID, domain), path: "/", hdr: []string{"Cookie", "vscode-tkn=" + rt.VSCodeToken}, want: 200},
		{name: "vscode session key", host: hosts.VSCode(rt.ID, domain), path: "/", hdr: []string{"X-Session-API-Key", key}, want: 200},
		{name: "vscode nothing", host: hosts.VSCode(rt.ID, domain), path: "/", want: 401, code: "unauthenticated"},
		{name: "vscode wrong tkn", host: hosts.VSCode(rt.ID, domain), path: "/?tkn=" + pub.VSCodeToken, want: 401, code: "unauthenticated"},
		{name: "private app, nothing", host: hosts.Work(1, rt.ID, domain), path: "/", want: 403, code: "preview_denied"},
		{name: "private app, session cookie", host: hosts.Work(1, rt.ID, domain), path: "/", hdr: []string{"Cookie", "runyard_session=" + key}, want: 200},
		{name: "private app, query key does not open it", host: hosts.Work(1, rt.ID, domain), path: "/?session_api_key=" + key, want: 403, code: "preview_denied"},
		{name: "public app", host: hosts.Work(1, pub.ID, domain), path: "/", want: 200},
		{name: "public policy keeps the agent guarded", host: hosts.Agent(pub.ID, domain), path: "/", want: 401, code: "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.do(t, tt.host, tt.path, tt.hdr...)
			if got.status != tt.want || (tt.code != "" && got.code() != tt.code) {
				t.Fatalf("status %d code %q, want %d %q: %s", got.status, got.code(), tt.want, tt.code, got.body)
			}
		})
	}
}

// TestPreviewLinks: a link is exchanged for a host-only cookie and a redirect without the
// token; it opens its one port only, and expired, tampered, revoked or other runtimes' links
// are refused with the branded page.
func TestPreviewLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeIAP, nil)
	other := e.runtime(t, "acme", deploy.ModeIAP, nil)
	e.setVisibility(t, "acme", rt.ID, 3000, previews.Private)
	host3000, host3001 := hosts.Name(rt.ID, 3000, domain), hosts.Name(rt.ID, 3001, domain)
	id, tok := e.link(t, "acme", rt.ID, 3000, time.Now().Add(time.Hour))

	got := e.do(t, host3000, "/app/page?x=1&"+previews.TokenParam+"="+tok, "X-Forwarded-Proto", "https")
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/app/page?x=1" {
		t.Fatalf("exchange: %d Location %q: %s", got.status, got.header.Get("Location"), got.body)
	}
	cookie := got.header.Get("Set-Cookie")
	for _, want := range []string{previews.Cookie + "=" + tok, "Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age="} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "domain=") {
		t.Errorf("Set-Cookie %q has a Domain: it must be host-only", cookie)
	}
	withCookie := []string{"Cookie", "theme=dark; " + previews.Cookie + "=" + tok}
	got = e.do(t, host3000, "/app/page?x=1", withCookie...)
	if got.status != 200 || got.seen.Cookie != "theme=dark" {
		t.Fatalf("with the cookie: %d, backend cookie %q: %s", got.status, got.seen.Cookie, got.body)
	}
	// Port A's link does not open port B, as cookie or as token; nor another runtime.
	if got := e.do(t, host3001, "/", withCookie...); got.status != 403 {
		t.Errorf("port 3001 with port 3000's cookie: %d", got.status)
	}
	if got := e.do(t, host3001, "/?"+previews.TokenParam+"="+tok); got.status != 403 || !strings.Contains(got.body, "another port") {
		t.Errorf("port 3001 with port 3000's token: %d %s", got.status, got.body)
	}
	if got := e.do(t, hosts.Name(other.ID, 3000, domain), "/?"+previews.TokenParam+"="+tok); got.status != 403 {
		t.Errorf("another runtime's port 3000: %d", got.status)
	}
	// Expired and tampered.
	_, expired := e.link(t, "acme", rt.ID, 3000, time.Now().Add(-time.Second))
	if got := e.do(t, host3000, "/?"+previews.TokenParam+"="+expired); got.status != 403 || !strings.Contains(got.body, "expired") {
		t.Errorf("expired: %d %s", got.status, got.body)
	}
	tampered := strings.Replace(tok, tok[len(tok)-5:], "AAAAA", 1)
	for name, bad := range map[string]string{"tampered": tampered, "garbage": "x.y", "empty": ""} {
		if got := e.do(t, host3000, "/?"+previews.TokenParam+"="+bad); got.status != 403 || got.code() != "preview_denied" ||
			!strings.Contains(got.header.Get("Content-Type"), "text/html") || !strings.Contains(got.body, "Acme Cloud") {
			t.Errorf("%s: %d %q %s", name, got.status, got.code(), got.body)
		}
		if got := e.do(t, host3000, "/", "Cookie", previews.Cookie+"="+bad); got.status != 403 {
			t.Errorf("%s cookie: %d", name, got.status)
		}
	}
	// Revoked: the cookie stops working (CACHE_TTL is 0 here).
	err := e.st.RunTransaction(t.Context(), func(ctx contextT, tx storeTx) error {
		_, err := previews.Modify(tx, "acme", rt.ID, time.Now(), previews.RevokeLink(3000, id, time.Now()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.do(t, host3000, "/", withCookie...); got.status != 403 {
		t.Errorf("revoked link's cookie: %d", got.status)
	}
	if got := e.do(t, host3000, "/?"+previews.TokenParam+"="+tok); got.status != 403 || !strings.Contains(got.body, "revoked") {
		t.Errorf("revoked link: %d %s", got.status, got.body)
	}
	// Visibility: public opens the port to anyone; tenant to members only.
	e.setVisibility(t, "acme", rt.ID, 3001, previews.Public)
	if got := e.do(t, host3001, "/"); got.status != 200 {
		t.Errorf("public port: %d", got.status)
	}
	e.setVisibility(t, "acme", rt.ID, 3001, previews.Tenant)
	if got := e.do(t, host3001, "/", auth.IAPHeader, e.iap(t, ownerB, authtest.Claims{})); got.status != 403 || !strings.Contains(got.body, ownerB) {
		t.Errorf("tenant port, non-member: %d %s", got.status, got.body)
	}
	if got := e.do(t, host3001, "/", auth.IAPHeader, e.iap(t, ownerA, authtest.Claims{})); got.status != 200 {
		t.Errorf("tenant port, member: %d", got.status)
	}
}

// TestCustomDomainIsolation: a tenant's verified domain serves its own runtimes only; another
// tenant's runtime is not found there, whatever the caller holds.
func TestCustomDomainIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.verifyDomain(t, "acme", ownerA, "apps.acme-corp.com")
	e.verifyDomain(t, "beta", ownerB, "dev.beta-corp.io")
	a := e.runtime(t, "acme", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	b := e.runtime(t, "beta", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	tests := []struct {
		name, host string
		hdr        []string
		want       int
	}{
		{"A's domain, A's runtime", hosts.Work(1, a.ID, "apps.acme-corp.com"), nil, 200},
		{"A's domain, A's agent", hosts.Agent(a.ID, "apps.acme-corp.com"), []string{"X-Session-API-Key", a.SessionAPIKey}, 200},
		{"B's domain, B's runtime", hosts.Work(1, b.ID, "dev.beta-corp.io"), nil, 200},
		{"A's domain, B's public preview", hosts.Work(1, b.ID, "apps.acme-corp.com"), nil, 404},
		{"A's domain, B's agent with B's key", hosts.Agent(b.ID, "apps.acme-corp.com"), []string{"X-Session-API-Key", b.SessionAPIKey}, 404},
		{"B's domain, A's runtime", hosts.Name(a.ID, 3000, "dev.beta-corp.io"), nil, 404},
		{"platform domain serves both", hosts.Work(1, b.ID, domain), nil, 200},
		{"parent of A's domain", hosts.Work(1, a.ID, "acme-corp.com"), nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.do(t, tt.host, "/", tt.hdr...)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
			if tt.want == 404 && got.code() != "runtime_not_found" && got.code() != "unknown_host" {
				t.Errorf("code %q", got.code())
			}
		})
	}
}

// TestIDTokenForService: the request reaches the service with a Google-signed ID token minted
// for that service's URL (X-Serverless-Authorization), the caller's Authorization untouched;
// one token source per service, its token reused.
func TestIDTokenForService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	for range 3 {
		got := e.do(t, hosts.Work(1, rt.ID, domain), "/", "Authorization", "Bearer app-token", "X-Serverless-Authorization", "Bearer forged")
		if got.status != 200 {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
		if want := "Bearer idtoken-for:" + e.backend.URL; got.seen.Serverless != want {
			t.Errorf("X-Serverless-Authorization = %q, want %q", got.seen.Serverless, want)
		}
		if got.seen.Authorization != "Bearer app-token" {
			t.Errorf("Authorization = %q, want the caller's", got.seen.Authorization)
		}
	}
	if sources, minted := e.tokens.counts(e.backend.URL); sources != 1 || minted != 1 {
		t.Errorf("token sources %d, tokens minted %d for %s; want 1 and 1", sources, minted, e.backend.URL)
	}
}

// TestRuntimeNotRunning: a paused runtime answers 503 with Retry-After (OpenHands reads it as
// paused) once the caller is authorized, and a deleted one is not found.
func TestRuntimeNotRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rt := e.runtime(t, "acme", deploy.ModeToken, nil)
	if _, err := e.rts.Transition(t.Context(), "acme", rt.ID, runtime.StatePaused, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.do(t, hosts.Agent(rt.ID, domain), "/api"); got.status != 401 {
		t.Errorf("paused, unauthenticated: %d (the state is not shown before authorization)", got.status)
	}
	got := e.do(t, hosts.Agent(rt.ID, domain), "/api", "X-Session-API-Key", rt.SessionAPIKey)
	if got.status != 503 || got.header.Get("Retry-After") == "" || got.code() != "runtime_not_running" {
		t.Errorf("paused: %d %q Retry-After %q", got.status, got.code(), got.header.Get("Retry-After"))
	}
	if _, err := e.rts.Transition(t.Context(), "acme", rt.ID, runtime.StateDeleted, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.do(t, hosts.Agent(rt.ID, domain), "/api", "X-Session-API-Key", rt.SessionAPIKey); got.status != 404 {
		t.Errorf("deleted: %d", got.status)
	}
}
