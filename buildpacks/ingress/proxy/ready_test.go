package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadiness: 503 runtime_starting with Retry-After until the agent port accepts
// connections (seen after the cache expires), then proxied; 503 again once it goes away.
func TestReadiness(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var agentAddr atomic.Value
	agentAddr.Store(closedAddr(t))
	others := backends(t)
	resolve := func(port int) string {
		if port == 60000 {
			return agentAddr.Load().(string)
		}
		return others(port)
	}
	base, _ := startIngress(t, loadConfig(t, map[string]string{"READY_CACHE": "1s"}), Deps{Resolver: resolve, Now: clock.Now})
	key := header(SessionKeyHeader, testKey)

	expectStarting := func(t *testing.T, path string) {
		t.Helper()
		status, h, body := do(t, base.URL, http.MethodGet, "", path, key)
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") != "5" || errorCode(body) != CodeRuntimeStarting {
			t.Fatalf("GET %s = %d Retry-After %q body %s; want 503, Retry-After 5, %s", path, status, h.Get("Retry-After"), body, CodeRuntimeStarting)
		}
	}
	expectStatus := func(t *testing.T, path string, want int) {
		t.Helper()
		if status, _, body := do(t, base.URL, http.MethodGet, "", path, key); status != want {
			t.Fatalf("GET %s = %d, want %d; body %s", path, status, want, body)
		}
	}

	expectStarting(t, "/api")
	expectStarting(t, ReadyPath)
	expectStarting(t, "/_port/3000/") // app ports wait for the main container too
	expectStatus(t, AlivePath, http.StatusOK)

	agent := echoBackend(t, "agent")
	agentAddr.Store(agent.Listener.Addr().String())
	expectStarting(t, "/api") // the cached answer is still fresh
	clock.Advance(time.Second)
	expectStatus(t, "/api", http.StatusOK)
	expectStatus(t, ReadyPath, http.StatusOK)

	agent.Close() // the container went away: the refused dial answers 503 and drops the cache
	expectStarting(t, "/api")
	expectStarting(t, ReadyPath)
}
