package emulators

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// testTimeout bounds every wait in these tests; it is generous because two JVMs share 2 cores.
const testTimeout = 3 * time.Minute

func TestStartStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		start   func(context.Context, Options) (*Emulator, error)
		wantVar string
	}{
		{name: "firestore", start: StartFirestore, wantVar: "FIRESTORE_EMULATOR_HOST"},
		{name: "pubsub", start: StartPubSub, wantVar: "PUBSUB_EMULATOR_HOST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			e, err := tc.start(ctx, Options{MaxHeap: "256m", StartTimeout: testTimeout})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			pid := e.PID()
			t.Cleanup(func() { _ = e.Stop(context.Background()) })

			if !strings.HasPrefix(e.Host(), "127.0.0.1:") {
				t.Errorf("Host() = %q, want 127.0.0.1:PORT", e.Host())
			}
			if diff := cmp.Diff([]string{tc.wantVar + "=" + e.Host()}, e.Env()); diff != "" {
				t.Errorf("Env() mismatch (-want +got):\n%s", diff)
			}
			if got := get(t, ctx, "http://"+e.Host()+"/"); got != "Ok" {
				t.Errorf("GET / = %q, want Ok", got)
			}
			if !processExists(pid) {
				t.Fatalf("java pid %d not running while the emulator is up", pid)
			}

			if err := e.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if processExists(pid) {
				t.Errorf("java pid %d still exists after Stop", pid)
			}
			if err := e.Stop(ctx); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestStopAfterCrash(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	e, err := StartPubSub(ctx, Options{MaxHeap: "128m", StartTimeout: testTimeout})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	if err := syscall.Kill(e.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Exited():
	case <-ctx.Done():
		t.Fatal("emulator did not exit after SIGKILL")
	}
	err = e.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "exited before Stop") {
		t.Errorf("Stop after crash = %v, want error containing %q", err, "exited before Stop")
	}
}

func TestFirestoreDataDirRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	opts := Options{DataDir: dir, Projects: []string{"persist-a"}, MaxHeap: "256m", StartTimeout: testTimeout}
	type doc struct {
		Name  string `firestore:"name"`
		Count int    `firestore:"count"`
	}
	want := doc{Name: "sandbox-1", Count: 3}

	e1, err := StartFirestore(ctx, opts)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Cleanup(func() { _ = e1.Stop(context.Background()) })
	c1 := firestoreClient(t, ctx, e1.Host(), "persist-a")
	if _, err := c1.Doc("sandboxes/s1").Set(ctx, want); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := e1.Stop(ctx); err != nil {
		t.Fatalf("first Stop: %v", err)
	}

	e2, err := StartFirestore(ctx, opts)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	t.Cleanup(func() { _ = e2.Stop(context.Background()) })
	c2 := firestoreClient(t, ctx, e2.Host(), "persist-a")
	snap, err := c2.Doc("sandboxes/s1").Get(ctx)
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	var got doc
	if err := snap.DataTo(&got); err != nil {
		t.Fatalf("DataTo: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("document after restart mismatch (-want +got):\n%s", diff)
	}
	// Another project on the same emulator must not see persist-a's data.
	if _, err := firestoreClient(t, ctx, e2.Host(), "persist-b").Doc("sandboxes/s1").Get(ctx); err == nil {
		t.Errorf("persist-b sees persist-a's document; import must be per project")
	}
	if err := e2.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := busy.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name         string
		start        func(context.Context, Options) (*Emulator, error)
		opts         Options
		wantErr      []string
		notInstalled bool
	}{
		{
			name:         "missing java",
			start:        StartFirestore,
			opts:         Options{Java: filepath.Join(t.TempDir(), "java")},
			wantErr:      []string{"java not found"},
			notInstalled: true,
		},
		{
			name:         "missing firestore jar",
			start:        StartFirestore,
			opts:         Options{Jar: filepath.Join(t.TempDir(), "cloud-firestore-emulator.jar")},
			wantErr:      []string{"google-cloud-cli-firestore-emulator"},
			notInstalled: true,
		},
		{
			name:         "missing pubsub jar",
			start:        StartPubSub,
			opts:         Options{Jar: filepath.Join(t.TempDir(), "cloud-pubsub-emulator.jar")},
			wantErr:      []string{"google-cloud-cli-pubsub-emulator"},
			notInstalled: true,
		},
		{
			name:    "data dir without projects",
			start:   StartFirestore,
			opts:    Options{DataDir: t.TempDir()},
			wantErr: []string{"Options.Projects is required"},
		},
		{
			name:    "port in use",
			start:   StartPubSub,
			opts:    Options{Port: busyPort, MaxHeap: "128m"},
			wantErr: []string{"127.0.0.1:" + strconv.Itoa(busyPort), "emulator log tail"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			e, err := tc.start(ctx, tc.opts)
			if err == nil {
				_ = e.Stop(ctx)
				t.Fatalf("start succeeded, want error containing %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := errors.Is(err, ErrNotInstalled); got != tc.notInstalled {
				t.Errorf("errors.Is(err, ErrNotInstalled) = %v, want %v", got, tc.notInstalled)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{name: "under limit", max: 100, writes: []string{"a\n", "b\n"}, want: "a\nb\n"},
		{name: "cut at line start", max: 8, writes: []string{"line1\n", "line2\n", "line3\n"}, want: "line3\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTailBuffer(tc.max)
			for _, w := range tc.writes {
				if _, err := io.WriteString(b, w); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("tail mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// processExists reports whether a process with pid exists (signal 0 probes without signalling).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func get(tb testing.TB, ctx context.Context, url string) string {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return strings.TrimSpace(string(b))
}

// firestoreClient connects to the emulator at host the way the client library does for
// FIRESTORE_EMULATOR_HOST, without touching the process environment (tests run in parallel).
func firestoreClient(tb testing.TB, ctx context.Context, host, project string) *firestore.Client {
	tb.Helper()
	conn, err := grpc.NewClient(host,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(ownerCreds{}))
	if err != nil {
		tb.Fatalf("dial firestore emulator: %v", err)
	}
	c, err := firestore.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		tb.Fatalf("firestore.NewClient: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// ownerCreds sends the admin token the Firestore emulator accepts.
type ownerCreds struct{}

func (ownerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (ownerCreds) RequireTransportSecurity() bool { return false }
