package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/config"
)

// testKey is the session key of test runtimes.
const testKey = "test-session-key-0123456789"

// baseEnv is a token-mode runtime with one declared app port (3000) besides the workers.
func baseEnv() map[string]string {
	return map[string]string{
		"RUNYARD_MODE":    ModeToken,
		"RUNTIME_ID":      "rt1",
		"AGENT_PORT":      "60000",
		"VSCODE_PORT":     "60001",
		"WORKER_1":        "12000",
		"WORKER_2":        "12001",
		"APP_PORTS":       "3000,3001",
		"SESSION_API_KEY": testKey,
	}
}

// loadConfig reads env (over baseEnv) through the real env loader.
func loadConfig(tb testing.TB, env map[string]string) *Config {
	tb.Helper()
	all := baseEnv()
	maps.Copy(all, env)
	for k, v := range all {
		if v == "" {
			delete(all, k)
		}
	}
	var cfg Config
	if err := config.LoadFrom(context.Background(), &cfg, envconfig.MapLookuper(all)); err != nil {
		tb.Fatalf("load config: %v", err)
	}
	return &cfg
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seen is what a test backend reports about the request it received.
type seen struct {
	Backend    string `json:"backend"`
	Path       string `json:"path"`
	Query      string `json:"query,omitempty"`
	SessionKey string `json:"session_key,omitempty"`
	IAP        bool   `json:"iap,omitempty"`
	Cookie     string `json:"cookie,omitempty"`
	Prefix     string `json:"prefix,omitempty"`
}

// echoBackend answers every request with a JSON seen, and sets a cookie with a Domain.
func echoBackend(tb testing.TB, name string) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "app=1; Domain=example.com; Path=/; HttpOnly")
		w.Header().Set("X-Seen-Host", r.Host)
		_ = json.NewEncoder(w).Encode(seen{
			Backend:    name,
			Path:       r.URL.EscapedPath(),
			Query:      r.URL.RawQuery,
			SessionKey: r.Header.Get(SessionKeyHeader),
			IAP:        r.Header.Get(auth.IAPHeader) != "",
			Cookie:     r.Header.Get("Cookie"),
			Prefix:     r.Header.Get("X-Forwarded-Prefix"),
		})
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// mapResolver resolves ports through addrs; unknown ports go to a closed address.
func mapResolver(tb testing.TB, addrs map[int]string) Resolver {
	tb.Helper()
	closed := closedAddr(tb)
	return func(port int) string {
		if a, ok := addrs[port]; ok {
			return a
		}
		return closed
	}
}

// backends starts an echo backend for the agent, VS Code, both workers and app port 3000
// (3001 is declared but nothing listens) and returns their resolver.
func backends(tb testing.TB) Resolver {
	tb.Helper()
	addrs := map[int]string{}
	for port, name := range map[int]string{60000: "agent", 60001: "vscode", 12000: "work1", 12001: "work2", 3000: "app3000"} {
		addrs[port] = echoBackend(tb, name).Listener.Addr().String()
	}
	return mapResolver(tb, addrs)
}

// startIngress serves a Server for cfg on 127.0.0.1.
func startIngress(tb testing.TB, cfg *Config, deps Deps) (*httptest.Server, *Server) {
	tb.Helper()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewServer(cfg, deps)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return ts, s
}

// do sends a request to the ingress and returns status, headers and body.
func do(tb testing.TB, base, method, host, path string, hdr http.Header) (int, http.Header, string) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// decodeSeen parses a backend's answer.
func decodeSeen(tb testing.TB, body string) seen {
	tb.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		tb.Fatalf("backend answer %q: %v", body, err)
	}
	return s
}

// errorCode is the code of an error envelope, or "".
func errorCode(body string) string {
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.NewDecoder(strings.NewReader(body)).Decode(&env) != nil {
		return ""
	}
	return env.Error.Code
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func cmpSeen(want, got seen) string { return cmp.Diff(want, got) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
