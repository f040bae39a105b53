package proxy

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDropCookieDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "no domain", in: "a=1; Path=/; HttpOnly", want: "a=1; Path=/; HttpOnly"},
		{name: "parent domain", in: "a=1; Domain=example.com; Path=/", want: "a=1; Path=/"},
		{name: "dotted, odd case, spaces", in: "a=1;  DOMAIN = .example.com ;Secure", want: "a=1;Secure"},
		{name: "two domains", in: "a=1; Domain=a.example.com; Domain=example.com", want: "a=1"},
		{name: "value mentions domain", in: "domain=x; Path=/", want: "domain=x; Path=/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := dropCookieDomain(tc.in); got != tc.want {
				t.Errorf("dropCookieDomain(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStripCredentials(t *testing.T) {
	t.Parallel()
	in := func() http.Header {
		return header("X-Goog-Iap-Jwt-Assertion", "jwt", SessionKeyHeader, "k", "X-Goog-Authenticated-User-Email", "a@b",
			"Cookie", "theme=dark; runyard_session=k; x=y", "Authorization", "Bearer app")
	}
	tests := []struct {
		name string
		kind Kind
		mode string
		want http.Header
	}{
		{name: "agent iap", kind: KindAgent, mode: ModeIAP, want: header("X-Goog-Iap-Jwt-Assertion", "jwt", SessionKeyHeader, "k",
			"X-Goog-Authenticated-User-Email", "a@b", "Cookie", "theme=dark; x=y", "Authorization", "Bearer app")},
		{name: "app iap", kind: KindApp, mode: ModeIAP, want: header("X-Goog-Authenticated-User-Email", "a@b",
			"Cookie", "theme=dark; x=y", "Authorization", "Bearer app")},
		{name: "agent token", kind: KindAgent, mode: ModeToken, want: header("X-Goog-Iap-Jwt-Assertion", "jwt", SessionKeyHeader, "k",
			"Cookie", "theme=dark; x=y", "Authorization", "Bearer app")},
		{name: "vscode token", kind: KindVSCode, mode: ModeToken, want: header("Cookie", "theme=dark; x=y", "Authorization", "Bearer app")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := in()
			stripCredentials(h, tc.kind, tc.mode)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProxySecurityHeaders(t *testing.T) {
	t.Parallel()
	base, _ := startIngress(t, loadConfig(t, map[string]string{"PREVIEW_POLICY": PreviewPublic}), Deps{Resolver: backends(t)})
	status, h, body := do(t, base.URL, http.MethodGet, "3000-rt1.example.com", "/", nil)
	if status != http.StatusOK {
		t.Fatalf("status = %d; body %s", status, body)
	}
	got := map[string][]string{
		"X-Content-Type-Options": h.Values("X-Content-Type-Options"),
		"Referrer-Policy":        h.Values("Referrer-Policy"),
		"Set-Cookie":             h.Values("Set-Cookie"),
	}
	want := map[string][]string{
		"X-Content-Type-Options": {"nosniff"},
		"Referrer-Policy":        {"no-referrer"},
		"Set-Cookie":             {"app=1; Path=/; HttpOnly"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response headers (-want +got):\n%s", diff)
	}
}
