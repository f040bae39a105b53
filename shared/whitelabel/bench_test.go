package whitelabel_test

import (
	"context"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/whitelabel"
)

// BenchmarkResolveHost: what the gateway pays per request to map a host under a tenant's
// domain to its tenant — uncached (one emulator read per suffix tried) and from the instance
// cache.
func BenchmarkResolveHost(b *testing.B) {
	f := newFixture(b)
	f.addVerified(b, ownerA, "acme", "dev.acme.com")
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"uncached", 0}, {"cached", time.Minute}} {
		lk, err := whitelabel.NewLookup(f.st, whitelabel.LookupConfig{Platform: platform, TTL: bc.ttl})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				m, ok, err := lk.ResolveHost(ctx, "vscode-abc.dev.acme.com")
				if err != nil || !ok || m.Tenant != "acme" {
					b.Fatal(m, ok, err)
				}
			}
		})
	}
}
