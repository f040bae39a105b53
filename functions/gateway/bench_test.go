package gateway_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/functions/gateway"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
)

// BenchmarkGatewayOverhead compares a small GET straight to a runtime's service with the same
// GET through the gateway (host parsing, cached runtime lookup, token-mode session key check,
// cached ID token, header rewriting, proxying), over keep-alive connections, against the
// Firestore emulator with the production CACHE_TTL (5s: steady state is cache hits). The ratio
// sub-benchmark reports gateway ns/op ÷ direct ns/op from the mean of the runs before it (run
// the whole benchmark, not a sub-benchmark alone).
func BenchmarkGatewayOverhead(b *testing.B) {
	e := newEnv(b, envOptions{cfg: func(c *gateway.Config) { c.CacheTTL = gateway.DefaultCacheTTL }, backend: http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "ok\n")
		})})
	rt := e.runtime(b, "acme", deploy.ModeToken, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	var mu sync.Mutex
	elapsed, ops := map[string]time.Duration{}, map[string]int{}
	run := func(name, url, host string) {
		b.Run(name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = host
			req.Header.Set("X-Session-API-Key", rt.SessionAPIKey)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			mu.Lock()
			elapsed[name] += b.Elapsed()
			ops[name] += b.N
			mu.Unlock()
		})
	}
	run("direct", e.backend.URL+"/api", "")
	run("gateway", e.gw.URL+"/api", hosts.Agent(rt.ID, domain))
	b.Run("ratio", func(b *testing.B) {
		for b.Loop() {
		}
		mu.Lock()
		defer mu.Unlock()
		if ops["direct"] > 0 && ops["gateway"] > 0 {
			direct := float64(elapsed["direct"].Nanoseconds()) / float64(ops["direct"])
			gw := float64(elapsed["gateway"].Nanoseconds()) / float64(ops["gateway"])
			b.ReportMetric(gw/direct, "gateway/direct")
			b.ReportMetric(gw-direct, "overhead-ns/op")
			b.ReportMetric(0, "ns/op")
		}
	})
}
