package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunTestenv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
		// wantHosts: the command prints both emulator hosts and stripe-mock's; after runTestenv
		// they must be closed.
		wantHosts bool
	}{
		{
			name:      "emulator env set",
			args:      []string{"--", "sh", "-c", `test -n "$FIRESTORE_EMULATOR_HOST" && test -n "$PUBSUB_EMULATOR_HOST" && test -n "$STRIPE_MOCK_URL" && echo "$FIRESTORE_EMULATOR_HOST $PUBSUB_EMULATOR_HOST ${STRIPE_MOCK_URL#http://}"`},
			want:      0,
			wantHosts: true,
		},
		{name: "exit code passed through", args: []string{"--", "sh", "-c", "exit 3"}, want: 3},
		{name: "without separator", args: []string{"sh", "-c", "exit 0"}, want: 0},
		{name: "no command", args: []string{"--"}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			got := runTestenv(ctx, tc.args, &stdout, &stderr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("exit code mismatch (-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
			}
			if !tc.wantHosts {
				return
			}
			hosts := strings.Fields(stdout.String())
			if len(hosts) != 3 {
				t.Fatalf("command printed %q, want three hosts", stdout.String())
			}
			for _, h := range hosts {
				if !strings.HasPrefix(h, "127.0.0.1:") {
					t.Errorf("emulator host %q, want 127.0.0.1:PORT", h)
				}
				if c, err := net.Dial("tcp", h); err == nil {
					c.Close()
					t.Errorf("emulator at %s still accepts connections after runTestenv returned", h)
				}
			}
		})
	}
}
