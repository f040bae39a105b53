package api_test

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkGetTenant measures an authenticated GET /v1/tenants/{t} through the whole handler
// (middleware, authentication, authorization, store) against the Firestore emulator. The
// floor is the emulator's Get round trip: the ID token path reads the membership and the
// tenant (2 Gets); the API key path reads the key and the tenant (2 Gets).
func BenchmarkGetTenant(b *testing.B) {
	f := newFixture(b)
	for _, bc := range []struct{ name, cred string }{
		{"id_token", f.owner},
		{"api_key", f.key},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f.must(b, 200, "GET", "/v1/tenants/acme", bc.cred, nil, nil) // warm the key cache
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/tenants/acme", nil)
				if bc.cred[:4] == "key:" {
					req.Header.Set("X-API-Key", bc.cred[4:])
				} else {
					req.Header.Set("Authorization", bc.cred)
				}
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
