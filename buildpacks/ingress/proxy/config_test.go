package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/runyard/runyard/shared/config"
)

// TestConfigDefaults reads the env shared/deploy/cloudrun sets on the ingress container.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"RUNYARD_MODE": "iap", "RUNTIME_ID": "rt1", "AGENT_PORT": "60000", "VSCODE_PORT": "60001",
		"WORKER_1": "12000", "WORKER_2": "12001", "APP_PORTS": "3000,8000",
		"IAP_AUDIENCE": "/projects/1/locations/us-central1/services/rt-rt1",
	}
	var got Config
	if err := config.LoadFrom(context.Background(), &got, envconfig.MapLookuper(env)); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Port: 8080, Mode: ModeIAP, RuntimeID: "rt1", AgentPort: 60000, VSCodePort: 60001, Worker1: 12000, Worker2: 12001,
		AppPorts: []int{3000, 8000}, UpstreamHost: "127.0.0.1", IAPAudience: "/projects/1/locations/us-central1/services/rt-rt1",
		PreviewPolicy: PreviewToken, ReadyCache: time.Second, DialTimeout: 2 * time.Second, RetryAfter: 5 * time.Second,
		ActivityInterval: time.Minute, ActivityTimeout: 10 * time.Second, LogLevel: "info",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if s := got.String(); strings.Contains(s, testKey) {
		t.Errorf("String() leaks the key: %s", s)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // every one must appear
	}{
		{name: "token mode ok", env: nil},
		{name: "bad mode", env: map[string]string{"RUNYARD_MODE": "open"}, wantErr: []string{"RUNYARD_MODE"}},
		{name: "token mode without key", env: map[string]string{"SESSION_API_KEY": ""}, wantErr: []string{"SESSION_API_KEY"}},
		{name: "iap mode without audience", env: map[string]string{"RUNYARD_MODE": "iap"}, wantErr: []string{"IAP_AUDIENCE"}},
		{name: "bad preview policy", env: map[string]string{"PREVIEW_POLICY": "open"}, wantErr: []string{"PREVIEW_POLICY"}},
		{name: "app port is the ingress port", env: map[string]string{"APP_PORTS": "8080"}, wantErr: []string{"APP_PORTS"}},
		{name: "no port to check readiness", env: map[string]string{"AGENT_PORT": "0", "WORKER_1": "0", "WORKER_2": "0", "APP_PORTS": ""},
			wantErr: []string{"readiness"}},
		{name: "several problems at once", env: map[string]string{"RUNTIME_ID": "", "UPSTREAM_HOST": "http://x", "ALLOWED_EMAILS": "bob"},
			wantErr: []string{"RUNTIME_ID", "UPSTREAM_HOST", "ALLOWED_EMAILS"}},
		{name: "bad activity url", env: map[string]string{"ACTIVITY_URL": "ftp://x"}, wantErr: []string{"ACTIVITY_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := baseEnv()
			for k, v := range tc.env {
				if v == "" {
					delete(all, k)
					continue
				}
				all[k] = v
			}
			var cfg Config
			err := config.LoadFrom(context.Background(), &cfg, envconfig.MapLookuper(all))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("LoadFrom: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadFrom: no error, want %v", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewServerRejectsMissingVerifier(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, map[string]string{"RUNYARD_MODE": "iap", "IAP_AUDIENCE": "/projects/1/locations/r/services/s"})
	if _, err := NewServer(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "Verifier") {
		t.Errorf("NewServer in iap mode without a verifier: %v", err)
	}
}
