package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/firestore"
)

// EmulatorHostEnv names the address of the Firestore emulator (host:port).
const EmulatorHostEnv = "FIRESTORE_EMULATOR_HOST"

// NewEmulatorStore returns a store on the Firestore emulator at FIRESTORE_EMULATOR_HOST, in a
// project of its own ("test-" and random hex), so tests using it are isolated from each other
// and may run in parallel. Cleanup closes the client and clears the project. It fails the test
// (never skips it) when FIRESTORE_EMULATOR_HOST is not set.
func NewEmulatorStore(tb testing.TB) store.Store {
	tb.Helper()
	s, _ := newEmulatorStore(tb)
	return s
}

// NewEmulatorFirestore is NewEmulatorStore for tests of the adapter itself: it returns the
// adapter's type (whose Client method reaches the raw Firestore client) and the project id.
func NewEmulatorFirestore(tb testing.TB) (s *firestore.Store, projectID string) {
	tb.Helper()
	return newEmulatorStore(tb)
}

func newEmulatorStore(tb testing.TB) (*firestore.Store, string) {
	tb.Helper()
	host := os.Getenv(EmulatorHostEnv)
	if host == "" {
		tb.Fatal("FIRESTORE_EMULATOR_HOST is not set: run the tests with `make test`, which starts the Firestore emulator")
	}
	var b [8]byte
	rand.Read(b[:])
	project := "test-" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := firestore.New(ctx, project)
	if err != nil {
		tb.Fatalf("firestore.New(%q) on emulator %s: %v", project, host, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store of %s: %v", project, err)
		}
		if err := clearEmulatorProject(host, project); err != nil {
			tb.Errorf("clear emulator project: %v", err)
		}
	})
	return s, project
}

// clearEmulatorProject deletes every document of project's default database on the emulator.
func clearEmulatorProject(host, project string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/(default)/documents", host, project)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return fmt.Errorf("http.NewRequest: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("DELETE %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("DELETE %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
