package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/runyard/runyard/functions/gateway"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
)

// TestIDTokenFromMetadataServer runs the production token path (idtoken.NewTokenSource with
// no options, as on Cloud Run) against a fake metadata server: the gateway asks it for an ID
// token whose audience is the runtime service's URL and sends that token to the service.
// Not parallel: it points the process's metadata client at the fake through the environment.
func TestIDTokenFromMetadataServer(t *testing.T) {
	var mu sync.Mutex
	var audiences []string
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		switch r.URL.Path {
		case "/computeMetadata/v1/instance/service-accounts/default/identity":
			if r.URL.Query().Get("format") != "full" {
				http.Error(w, "format", http.StatusBadRequest)
				return
			}
			aud := r.URL.Query().Get("audience")
			mu.Lock()
			audiences = append(audiences, aud)
			mu.Unlock()
			_, _ = w.Write([]byte("metadata-idtoken-for:" + aud))
		case "/computeMetadata/v1/project/project-id":
			_, _ = w.Write([]byte("test"))
		default:
			_, _ = w.Write([]byte(""))
		}
	}))
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir()) // no gcloud application default credentials
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())

	e := newEnv(t, envOptions{deps: func(d *gateway.Deps) { d.Tokens = nil }})
	rt := e.runtime(t, "acme", deploy.ModeToken, map[string]string{"PREVIEW_POLICY": "public"})
	for range 2 {
		got := e.do(t, hosts.Work(1, rt.ID, domain), "/")
		if got.status != 200 {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
		if want := "Bearer metadata-idtoken-for:" + e.backend.URL; got.seen.Serverless != want {
			t.Errorf("service got %q, want %q", got.seen.Serverless, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(audiences) != 1 || audiences[0] != e.backend.URL {
		t.Errorf("metadata server minted for %q, want once for %q (the token is reused)", audiences, e.backend.URL)
	}
}
