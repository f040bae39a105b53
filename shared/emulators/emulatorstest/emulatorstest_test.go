package emulatorstest

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/emulators"
)

func TestMain(m *testing.M) { os.Exit(Run(m, emulators.PubSub)) }

func TestRunSetsEnv(t *testing.T) {
	t.Parallel()
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		t.Fatal("PUBSUB_EMULATOR_HOST not set by Run")
	}
}

func TestHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind emulators.Kind
	}{
		{name: "pubsub from env", kind: emulators.PubSub},
		{name: "firestore", kind: emulators.Firestore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := Host(t, tc.kind)
			resp, err := http.Get("http://" + h + "/")
			if err != nil {
				t.Fatalf("GET /: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if got := strings.TrimSpace(string(b)); got != "Ok" {
				t.Errorf("GET / = %q, want Ok", got)
			}
		})
	}
}
