package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/auth/authtest"
)

// iapIngress serves an iap-mode ingress whose verifier is the real one, fed authtest's keys.
func iapIngress(tb testing.TB, env map[string]string) (string, *authtest.Google) {
	tb.Helper()
	g := authtest.NewGoogle(tb)
	v, err := auth.NewIAPVerifier(context.Background(), authtest.DefaultIAPAudience, g.ClientOption())
	if err != nil {
		tb.Fatal(err)
	}
	all := map[string]string{"RUNYARD_MODE": ModeIAP, "IAP_AUDIENCE": authtest.DefaultIAPAudience, "SESSION_API_KEY": ""}
	for k, val := range env {
		all[k] = val
	}
	base, _ := startIngress(tb, loadConfig(tb, all), Deps{Verifier: v, Resolver: backends(tb)})
	return base.URL, g
}

func TestIAP(t *testing.T) {
	t.Parallel()
	base, g := iapIngress(t, nil)
	restricted, rg := iapIngress(t, map[string]string{"ALLOWED_EMAILS": "Bob@example.com,carol@example.com"})
	past := time.Now().Add(-2 * time.Hour)
	tests := []struct {
		name       string
		base       string
		token      string
		host, path string
		wantStatus int
		wantCode   string
		wantIAP    bool // the backend received the assertion
	}{
		{name: "valid", base: base, token: g.IAPToken(t, authtest.Claims{}), path: "/api", wantStatus: 200, wantIAP: true},
		{name: "valid, app port gets no assertion", base: base, token: g.IAPToken(t, authtest.Claims{}), path: "/_port/3000/", wantStatus: 200},
		{name: "wrong audience", base: base, token: g.IAPToken(t, authtest.Claims{Audience: "/projects/1/locations/r/services/other"}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "wrong issuer", base: base, token: g.IAPToken(t, authtest.Claims{Issuer: "https://accounts.google.com"}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "expired", base: base, token: g.IAPToken(t, authtest.Claims{IssuedAt: past, Expires: past.Add(time.Hour)}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "short signature", base: base, token: g.IAPToken(t, authtest.Claims{Signature: make([]byte, 8)}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "unknown key", base: base, token: g.IAPToken(t, authtest.Claims{UnknownKey: true}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "RS256 Google ID token", base: base, token: g.IDToken(t, authtest.Claims{Audience: authtest.DefaultIAPAudience}),
			path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "missing", base: base, path: "/api", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "missing on app port", base: base, host: "work-1-rt1.example.com", path: "/", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "missing on unknown port", base: base, path: "/_port/4000/", wantStatus: 401, wantCode: "unauthenticated"},
		{name: "alive needs nothing", base: base, path: AlivePath, wantStatus: 200},
		{name: "allowed email", base: restricted, token: rg.IAPToken(t, authtest.Claims{Email: "bob@example.com"}), path: "/api",
			wantStatus: 200, wantIAP: true},
		{name: "email not allowed", base: restricted, token: rg.IAPToken(t, authtest.Claims{}), path: "/api",
			wantStatus: 403, wantCode: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := http.Header{}
			if tc.token != "" {
				hdr.Set(auth.IAPHeader, tc.token)
			}
			status, h, body := do(t, tc.base, http.MethodGet, tc.host, tc.path, hdr)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if status != http.StatusOK {
				if got := errorCode(body); got != tc.wantCode {
					t.Errorf("error code = %q, want %q (body %s)", got, tc.wantCode, body)
				}
				if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q, want the JSON envelope", ct)
				}
				return
			}
			if tc.path == AlivePath {
				return
			}
			if got := decodeSeen(t, body).IAP; got != tc.wantIAP {
				t.Errorf("backend received the IAP assertion: %v, want %v", got, tc.wantIAP)
			}
		})
	}
}

func TestTokenMode(t *testing.T) {
	t.Parallel()
	base, _ := startIngress(t, loadConfig(t, nil), Deps{Resolver: backends(t)})
	public, _ := startIngress(t, loadConfig(t, map[string]string{"PREVIEW_POLICY": PreviewPublic}), Deps{Resolver: backends(t)})
	tests := []struct {
		name       string
		base       string
		host, path string
		hdr        http.Header
		wantStatus int
		want       seen
	}{
		{name: "agent with key", base: base.URL, path: "/api", hdr: header(SessionKeyHeader, testKey), wantStatus: 200,
			want: seen{Backend: "agent", Path: "/api", SessionKey: testKey}},
		{name: "agent wrong key", base: base.URL, path: "/api", hdr: header(SessionKeyHeader, testKey+"x"), wantStatus: 401},
		{name: "agent no key", base: base.URL, path: "/api", wantStatus: 401},
		{name: "agent key in cookie is not enough", base: base.URL, path: "/api", hdr: header("Cookie", SessionCookie+"="+testKey), wantStatus: 401},
		{name: "vscode passes through, key stripped", base: base.URL, host: "vscode-rt1.example.com", path: "/",
			hdr: header(SessionKeyHeader, testKey), wantStatus: 200, want: seen{Backend: "vscode", Path: "/"}},
		{name: "vscode without key", base: base.URL, path: "/vscode/", wantStatus: 200, want: seen{Backend: "vscode", Path: "/", Prefix: "/vscode"}},
		{name: "app with key header, stripped", base: base.URL, path: "/_port/3000/x",
			hdr: header(SessionKeyHeader, testKey, auth.IAPHeader, "x.y.z", "Cookie", "theme=dark"), wantStatus: 200,
			want: seen{Backend: "app3000", Path: "/x", Prefix: "/_port/3000", Cookie: "theme=dark"}},
		{name: "app with cookie, stripped", base: base.URL, host: "work-1-rt1.example.com", path: "/",
			hdr: header("Cookie", "theme=dark; "+SessionCookie+"="+testKey), wantStatus: 200, want: seen{Backend: "work1", Path: "/", Cookie: "theme=dark"}},
		{name: "app wrong cookie", base: base.URL, host: "work-1-rt1.example.com", path: "/",
			hdr: header("Cookie", SessionCookie+"=nope"), wantStatus: 401},
		{name: "app without key", base: base.URL, host: "work-1-rt1.example.com", path: "/", wantStatus: 401},
		{name: "public app without key", base: public.URL, host: "work-1-rt1.example.com", path: "/", wantStatus: 200,
			want: seen{Backend: "work1", Path: "/"}},
		{name: "public app, key stripped", base: public.URL, path: "/_port/12001/", hdr: header(SessionKeyHeader, testKey), wantStatus: 200,
			want: seen{Backend: "work2", Path: "/", Prefix: "/_port/12001"}},
		{name: "public policy keeps the agent guarded", base: public.URL, path: "/api", wantStatus: 401},
		{name: "agent key as query parameter", base: base.URL, path: "/sockets/events/c1?resend_all=true&session_api_key=" + testKey, wantStatus: 200,
			want: seen{Backend: "agent", Path: "/sockets/events/c1", Query: "resend_all=true&session_api_key=" + testKey}},
		{name: "agent wrong query key", base: base.URL, path: "/sockets/events/c1?session_api_key=nope", wantStatus: 401},
		{name: "agent empty query key", base: base.URL, path: "/api?session_api_key=", wantStatus: 401},
		{name: "app never sees the query key", base: public.URL, path: "/_port/12000/x?a=1&session_api_key=" + testKey + "&b=2", wantStatus: 200,
			want: seen{Backend: "work1", Path: "/x", Prefix: "/_port/12000", Query: "a=1&b=2"}},
		{name: "query key does not open a token-policy app", base: base.URL, host: "work-1-rt1.example.com", path: "/?session_api_key=" + testKey, wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := do(t, tc.base, http.MethodGet, tc.host, tc.path, tc.hdr)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if status != http.StatusOK {
				if got := errorCode(body); got != "unauthenticated" {
					t.Errorf("error code = %q, want unauthenticated", got)
				}
				return
			}
			if diff := cmpSeen(tc.want, decodeSeen(t, body)); diff != "" {
				t.Errorf("backend saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIAPKeysUnavailable: when Google's keys cannot be fetched the answer is a retryable 503,
// not a 401 that would send the user to log in again.
func TestIAPKeysUnavailable(t *testing.T) {
	t.Parallel()
	base, g := iapIngress(t, nil)
	g.SetCertsStatus(http.StatusInternalServerError)
	status, _, body := do(t, base, http.MethodGet, "", "/api", header(auth.IAPHeader, g.IAPToken(t, authtest.Claims{})))
	if status != http.StatusServiceUnavailable || errorCode(body) != "unavailable" {
		t.Errorf("with Google's keys down: %d %s, want 503 unavailable", status, body)
	}
}

// TestGatewayMode: behind the gateway (domain mode, the gateway the only invoker) the sidecar
// checks no credential, routes by X-Forwarded-Host, and never passes the gateway's
// X-Serverless-Authorization (nor unsigned identity headers) to the runtime.
func TestGatewayMode(t *testing.T) {
	t.Parallel()
	base, _ := startIngress(t, loadConfig(t, map[string]string{"RUNYARD_MODE": ModeGateway, "SESSION_API_KEY": ""}), Deps{Resolver: backends(t)})
	status, _, body := do(t, base.URL, http.MethodGet, "", "/api", header("X-Serverless-Authorization", "Bearer x.y.z",
		"X-Forwarded-Host", "vscode-rt1.rt.example.com", "X-Goog-Authenticated-User-Email", "accounts.google.com:eve@example.com"))
	if status != http.StatusOK {
		t.Fatalf("status = %d, body %s", status, body)
	}
	if got := decodeSeen(t, body); got.Backend != "vscode" {
		t.Errorf("backend = %q, want vscode (routed by X-Forwarded-Host)", got.Backend)
	}
	status, _, body = do(t, base.URL, http.MethodGet, "", "/api", header("X-Serverless-Authorization", "Bearer x.y.z"))
	if got := decodeSeen(t, body); status != http.StatusOK || got.Backend != "agent" {
		t.Fatalf("agent: %d %s", status, body)
	}
}

func TestStripsServerlessAuthorization(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeIAP, ModeToken, ModeGateway} {
		h := http.Header{}
		h.Set("X-Serverless-Authorization", "Bearer x")
		stripCredentials(h, KindAgent, mode)
		if h.Get("X-Serverless-Authorization") != "" {
			t.Errorf("%s: X-Serverless-Authorization passed on", mode)
		}
	}
}
