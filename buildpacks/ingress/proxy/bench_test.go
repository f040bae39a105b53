package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkProxyOverhead compares a small GET straight to a backend with the same GET through
// the ingress (token mode: session key check, routing, readiness cache, activity, headers), over
// keep-alive connections. The ratio sub-benchmark reports ingress ns/op ÷ direct ns/op from the
// mean ns/op of the runs before it (run the whole benchmark, not a sub-benchmark alone).
func BenchmarkProxyOverhead(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	}))
	b.Cleanup(backend.Close)
	base, _ := startIngress(b, loadConfig(b, map[string]string{"READY_CACHE": "1m"}),
		Deps{Resolver: mapResolver(b, map[int]string{60000: backend.Listener.Addr().String()})})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	// Totals over every run (-count n), so the ratio compares means.
	var mu sync.Mutex
	elapsed, ops := map[string]time.Duration{}, map[string]int{}
	run := func(name, url string) {
		b.Run(name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set(SessionKeyHeader, testKey)
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
	run("direct", backend.URL+"/api")
	run("ingress", base.URL+"/api")
	b.Run("ratio", func(b *testing.B) {
		for b.Loop() {
		}
		mu.Lock()
		defer mu.Unlock()
		if ops["direct"] > 0 && ops["ingress"] > 0 {
			direct := float64(elapsed["direct"].Nanoseconds()) / float64(ops["direct"])
			ingress := float64(elapsed["ingress"].Nanoseconds()) / float64(ops["ingress"])
			b.ReportMetric(ingress/direct, "ingress/direct")
			b.ReportMetric(ingress-direct, "overhead-ns/op")
			b.ReportMetric(0, "ns/op") // the empty loop's time means nothing
		}
	})
}
