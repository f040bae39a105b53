package local_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/local"
	"github.com/runyard/runyard/shared/secrets/secretstest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	secretstest.Run(t, func(tb testing.TB) secrets.Manager { return newManager(tb, tb.TempDir()) })
}

func newManager(tb testing.TB, dir string, opts ...local.Option) *local.Manager {
	tb.Helper()
	m, err := local.New(dir, opts...)
	if err != nil {
		tb.Fatalf("local.New: %v", err)
	}
	return m
}

func mode(tb testing.TB, p string) os.FileMode {
	tb.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFilesAndReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "secrets")
	m := newManager(t, dir)
	secretstest.MustPut(t, m, "acme", "API_KEY", []byte("plaintext-canary-1"))
	secretstest.MustPut(t, m, "acme", "API_KEY", []byte("plaintext-canary-2"))
	if err := m.GrantAccess(context.Background(), "acme", []string{"API_KEY"}, secretstest.Member); err != nil {
		t.Fatal(err)
	}

	for _, f := range []string{local.KeyFile, local.DataFile} {
		if got := mode(t, filepath.Join(dir, f)); got != 0o600 {
			t.Errorf("%s mode = %o, want 600", f, got)
		}
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	if key, _ := os.ReadFile(filepath.Join(dir, local.KeyFile)); len(key) != 32 {
		t.Errorf("key has %d bytes, want 32", len(key))
	}
	data, err := os.ReadFile(filepath.Join(dir, local.DataFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"plaintext-canary", "API_KEY", "acme", "serviceAccount"} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("the data file contains %q in the clear", s)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{local.DataFile, local.KeyFile}, names); diff != "" {
		t.Errorf("files in dir (-want +got), no temp files may remain:\n%s", diff)
	}

	// A second Manager on the same directory sees everything.
	m2 := newManager(t, dir)
	secretstest.WantValue(t, m2, "acme", "API_KEY", "1", []byte("plaintext-canary-1"))
	secretstest.WantValue(t, m2, "acme", "API_KEY", "latest", []byte("plaintext-canary-2"))
	if diff := cmp.Diff([]string{secretstest.Member}, m2.Grants("acme", "API_KEY")); diff != "" {
		t.Errorf("Grants after reopen (-want +got):\n%s", diff)
	}
}

func TestTightensModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newManager(t, dir)
	secretstest.MustPut(t, m, "acme", "A", []byte("x"))
	for _, f := range []string{local.KeyFile, local.DataFile} {
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m2 := newManager(t, dir)
	secretstest.WantValue(t, m2, "acme", "A", "latest", []byte("x"))
	for _, f := range []string{local.KeyFile, local.DataFile} {
		if got := mode(t, filepath.Join(dir, f)); got != 0o600 {
			t.Errorf("%s mode after reopen = %o, want 600", f, got)
		}
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	const canary = "bad-file-canary-value"
	tests := []struct {
		name    string
		prepare func(tb testing.TB, dir string)
		wantErr string
	}{
		{
			name: "short key",
			prepare: func(tb testing.TB, dir string) {
				if err := os.WriteFile(filepath.Join(dir, local.KeyFile), []byte("short"), 0o600); err != nil {
					tb.Fatal(err)
				}
			},
			wantErr: "want 32",
		},
		{
			name: "other key",
			prepare: func(tb testing.TB, dir string) {
				m := newManager(tb, dir)
				secretstest.MustPut(tb, m, "acme", "A", []byte(canary))
				if err := os.WriteFile(filepath.Join(dir, local.KeyFile), bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
					tb.Fatal(err)
				}
			},
			wantErr: "does not decrypt",
		},
		{
			name: "truncated data",
			prepare: func(tb testing.TB, dir string) {
				newManager(tb, dir)
				if err := os.WriteFile(filepath.Join(dir, local.DataFile), []byte("abc"), 0o600); err != nil {
					tb.Fatal(err)
				}
			},
			wantErr: "truncated",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc.prepare(t, dir)
			_, err := local.New(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.wantErr)
			}
			secretstest.NoValueIn(t, "New", err, []byte(canary))
		})
	}
}

func TestGrantsRecorded(t *testing.T) {
	t.Parallel()
	m := newManager(t, t.TempDir())
	ctx := context.Background()
	for _, n := range []string{"A", "B", "C"} {
		secretstest.MustPut(t, m, "acme", n, []byte("v"))
	}
	other := "serviceAccount:rt-other@p.iam.gserviceaccount.com"
	for _, g := range []struct {
		names  []string
		member string
	}{{[]string{"A", "B"}, secretstest.Member}, {[]string{"A", "B"}, secretstest.Member}, {[]string{"B"}, other}} {
		if err := m.GrantAccess(ctx, "acme", g.names, g.member); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]string{}
	for _, n := range []string{"A", "B", "C", "MISSING"} {
		got[n] = m.Grants("acme", n)
	}
	want := map[string][]string{"A": {secretstest.Member}, "B": {secretstest.Member, other}, "C": nil, "MISSING": nil}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Grants (-want +got):\n%s", diff)
	}
	// A failed grant (one name missing) records nothing.
	if err := m.GrantAccess(ctx, "acme", []string{"C", "MISSING"}, other); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("GrantAccess with a missing name = %v", err)
	}
	if g := m.Grants("acme", "C"); g != nil {
		t.Errorf("Grants(C) after a failed grant = %v, want none", g)
	}
}

// TestNoValueLeaks runs every operation, failing ones included, with a logger at debug level and
// checks that the value appears in no log line, no error, no returned Version and not on disk.
func TestNoValueLeaks(t *testing.T) {
	t.Parallel()
	const canary = "LEAK-CANARY-local-7d1f0c2a9e"
	var logs bytes.Buffer
	dir := t.TempDir()
	m := newManager(t, dir, local.WithLogger(logging.New(&logs, slog.LevelDebug)))
	ctx := context.Background()
	var seen []string
	note := func(v any, err error) {
		seen = append(seen, secretstest.Printed(v))
		if err != nil {
			seen = append(seen, err.Error())
		}
	}
	val := []byte(canary)
	note(m.Put(ctx, "acme", "LEAK", val))
	note(m.Put(ctx, "acme", "LEAK", append([]byte(canary), '2')))
	note(m.Put(ctx, "acme", "bad-name", val))
	note(m.Put(ctx, "Bad", "LEAK", val))
	note(m.Put(ctx, "acme", "BIG", bytes.Repeat(val, secrets.MaxValueBytes/len(val)+1)))
	note(nil, m.GrantAccess(ctx, "acme", []string{"LEAK"}, secretstest.Member))
	note(nil, m.GrantAccess(ctx, "acme", []string{"LEAK"}, canary))
	note(m.Access(ctx, "acme", "LEAK", "9"))
	note(nil, m.Delete(ctx, "acme", "LEAK"))
	note(nil, m.Delete(ctx, "acme", "LEAK"))
	note(m.DeleteTenant(ctx, "acme"))
	note(nil, m.Delete(ctx, "acme", canary))

	if logs.Len() == 0 {
		t.Fatal("no log lines: the test would prove nothing")
	}
	data, _ := os.ReadFile(filepath.Join(dir, local.DataFile))
	for what, text := range map[string]string{"logs": logs.String(), "results": strings.Join(seen, "\n"), "data file": string(data)} {
		if strings.Contains(text, canary) {
			t.Errorf("the secret value appears in the %s", what)
		}
	}
}
