package proxy

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouter(t *testing.T) {
	t.Parallel()
	r := NewRouter(loadConfig(t, nil))
	tests := []struct {
		name, host, path string
		want             Route
		wantErr          error
	}{
		{name: "agent host", host: "rt1.example.com", path: "/api/x", want: Route{Port: 60000, Kind: KindAgent}},
		{name: "run.app host", host: "rt-rt1-abc123.us-central1.run.app", path: "/", want: Route{Port: 60000, Kind: KindAgent}},
		{name: "host with port", host: "vscode-rt1.localhost:8080", path: "/", want: Route{Port: 60001, Kind: KindVSCode}},
		{name: "vscode host upper case", host: "VSCODE-rt1.example.com", path: "/vscode/x", want: Route{Port: 60001, Kind: KindVSCode}},
		{name: "work-1", host: "work-1-rt1.example.com", path: "/", want: Route{Port: 12000, Kind: KindApp}},
		{name: "work-2", host: "work-2-rt1.example.com", path: "/", want: Route{Port: 12001, Kind: KindApp}},
		{name: "port host", host: "3000-rt1.example.com", path: "/_port/12000/", want: Route{Port: 3000, Kind: KindApp}},
		{name: "port host agent port", host: "60000-rt1.example.com", path: "/", want: Route{Port: 60000, Kind: KindAgent}},
		{name: "undeclared port host", host: "4000-rt1.example.com", path: "/", wantErr: ErrUnknownPort},
		{name: "port host out of range", host: "70000-rt1.example.com", path: "/", wantErr: ErrUnknownPort},
		{name: "bare prefix is no host route", host: "vscode-.example.com", path: "/", want: Route{Port: 60000, Kind: KindAgent}},
		{name: "vscode path", host: "localhost", path: "/vscode/static/x", want: Route{Port: 60001, Kind: KindVSCode, Strip: "/vscode"}},
		{name: "vscode exact", host: "localhost", path: "/vscode", want: Route{Port: 60001, Kind: KindVSCode, Strip: "/vscode"}},
		{name: "vscodex is agent", host: "localhost", path: "/vscodex", want: Route{Port: 60000, Kind: KindAgent}},
		{name: "port path", host: "localhost", path: "/_port/3000/a/b", want: Route{Port: 3000, Kind: KindApp, Strip: "/_port/3000"}},
		{name: "port path exact", host: "localhost", path: "/_port/12001", want: Route{Port: 12001, Kind: KindApp, Strip: "/_port/12001"}},
		{name: "undeclared port path", host: "localhost", path: "/_port/4000/", wantErr: ErrUnknownPort},
		{name: "non-numeric port path", host: "localhost", path: "/_port/abc/", wantErr: ErrUnknownPort},
		{name: "signed port path", host: "localhost", path: "/_port/+3000/", wantErr: ErrUnknownPort},
		{name: "empty port path", host: "localhost", path: "/_port/", wantErr: ErrUnknownPort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Route(tc.host, tc.path)
			if err != tc.wantErr {
				t.Fatalf("Route(%q, %q) error = %v, want %v", tc.host, tc.path, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Route(%q, %q) (-want +got):\n%s", tc.host, tc.path, diff)
			}
		})
	}
}

func TestRouterNoAgent(t *testing.T) {
	t.Parallel()
	r := NewRouter(loadConfig(t, map[string]string{"AGENT_PORT": "0"}))
	if _, err := r.Route("localhost", "/"); err != ErrNoAgent {
		t.Errorf("Route without agent: error = %v, want ErrNoAgent", err)
	}
}

// TestProxyRouting sends requests through the ingress to real backends on 127.0.0.1.
func TestProxyRouting(t *testing.T) {
	t.Parallel()
	base, _ := startIngress(t, loadConfig(t, nil), Deps{Resolver: backends(t)})
	key := header(SessionKeyHeader, testKey)
	tests := []struct {
		name, host, path string
		hdr              http.Header
		wantStatus       int
		want             seen   // compared when wantStatus is 200
		wantCode         string // compared otherwise
	}{
		{name: "agent", path: "/api/conversations?limit=5", wantStatus: 200,
			want: seen{Backend: "agent", Path: "/api/conversations", Query: "limit=5", SessionKey: testKey}},
		{name: "vscode host", host: "vscode-rt1.example.com", path: "/stable/x?tkn=t", wantStatus: 200,
			want: seen{Backend: "vscode", Path: "/stable/x", Query: "tkn=t"}},
		{name: "work-1 host", host: "work-1-rt1.example.com", path: "/", wantStatus: 200, want: seen{Backend: "work1", Path: "/"}},
		{name: "work-2 host", host: "work-2-rt1.example.com", path: "/a", wantStatus: 200, want: seen{Backend: "work2", Path: "/a"}},
		{name: "port host", host: "3000-rt1.example.com", path: "/b", wantStatus: 200, want: seen{Backend: "app3000", Path: "/b"}},
		{name: "forwarded host", hdr: header("X-Forwarded-Host", "work-2-rt1.example.com"), path: "/", wantStatus: 200,
			want: seen{Backend: "work2", Path: "/"}},
		{name: "vscode path", path: "/vscode/stable/x?tkn=t", wantStatus: 200,
			want: seen{Backend: "vscode", Path: "/stable/x", Query: "tkn=t", Prefix: "/vscode"}},
		{name: "vscode path exact", path: "/vscode", wantStatus: 200, want: seen{Backend: "vscode", Path: "/", Prefix: "/vscode"}},
		{name: "port path", path: "/_port/3000/a/b", wantStatus: 200, want: seen{Backend: "app3000", Path: "/a/b", Prefix: "/_port/3000"}},
		{name: "port path keeps escapes", path: "/_port/3000/a%2Fb", wantStatus: 200,
			want: seen{Backend: "app3000", Path: "/a%2Fb", Prefix: "/_port/3000"}},
		{name: "worker by port path", path: "/_port/12000/", wantStatus: 200, want: seen{Backend: "work1", Path: "/", Prefix: "/_port/12000"}},
		{name: "client prefix header dropped", host: "3000-rt1.example.com", path: "/c", hdr: header("X-Forwarded-Prefix", "/evil"),
			wantStatus: 200, want: seen{Backend: "app3000", Path: "/c"}},
		{name: "undeclared port path", path: "/_port/4000/", wantStatus: 404, wantCode: CodeUnknownPort},
		{name: "undeclared port host", host: "4000-rt1.example.com", path: "/", wantStatus: 404, wantCode: CodeUnknownPort},
		{name: "declared port not listening", path: "/_port/3001/", wantStatus: 502, wantCode: CodePortNotListening},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := key.Clone()
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			status, _, body := do(t, base.URL, http.MethodGet, tc.host, tc.path, hdr)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if status != http.StatusOK {
				if got := errorCode(body); got != tc.wantCode {
					t.Errorf("error code = %q, want %q", got, tc.wantCode)
				}
				return
			}
			if diff := cmp.Diff(tc.want, decodeSeen(t, body)); diff != "" {
				t.Errorf("backend saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProxyHost: the backend sees the host the client asked for.
func TestProxyHost(t *testing.T) {
	t.Parallel()
	base, _ := startIngress(t, loadConfig(t, map[string]string{"PREVIEW_POLICY": PreviewPublic}), Deps{Resolver: backends(t)})
	tests := []struct {
		name, host string
		hdr        http.Header
		want       string
	}{
		{name: "host", host: "3000-rt1.example.com", want: "3000-rt1.example.com"},
		{name: "forwarded host wins", host: "rt-rt1-abc.a.run.app", hdr: header("X-Forwarded-Host", "3000-rt1.example.com"), want: "3000-rt1.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := do(t, base.URL, http.MethodGet, tc.host, "/", tc.hdr)
			if status != http.StatusOK {
				t.Fatalf("status = %d; body %s", status, body)
			}
			if got := h.Get("X-Seen-Host"); got != tc.want {
				t.Errorf("backend saw Host %q, want %q", got, tc.want)
			}
		})
	}
}
