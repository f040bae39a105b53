package localdir_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/sources/localdir"
	"github.com/runyard/runyard/shared/sources/sourcestest"
)

func newStore(tb testing.TB, opts ...localdir.Option) *localdir.Store {
	tb.Helper()
	s, err := localdir.New(filepath.Join(tb.TempDir(), "sources"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sourcestest.Run(t, func(tb testing.TB) sources.Store { return newStore(tb) })
}

func TestURIs(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other := newStore(t)
	uri := sourcestest.MustPut(t, s, "acme", "b1", []byte("x"))
	if want := "file://" + filepath.Join(s.Dir(), "acme", "b1.tar.gz"); uri != want {
		t.Errorf("Put() uri = %q, want %q", uri, want)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "acme", "b1.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode = %v, want 0600", fi.Mode().Perm())
	}
	otherURI := sourcestest.MustPut(t, other, "acme", "b1", []byte("y"))
	for _, u := range []string{otherURI, "file:///etc/passwd", "file://host" + filepath.Join(s.Dir(), "acme", "b1.tar.gz")} {
		if _, err := s.Open(t.Context(), u); !errors.Is(err, sources.ErrForeignURI) {
			t.Errorf("Open(%q) error = %v, want %v", u, err, sources.ErrForeignURI)
		}
	}
}

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	s := newStore(t, localdir.WithMaxBytes(10))
	sourcestest.MustPut(t, s, "acme", "ok", bytes.Repeat([]byte("x"), 10))
	_, _, err := s.Put(t.Context(), "acme", "big", bytes.NewReader(bytes.Repeat([]byte("x"), 11)))
	if !errors.Is(err, sources.ErrTooLarge) {
		t.Fatalf("Put() error = %v, want %v", err, sources.ErrTooLarge)
	}
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("after a refused Put the tenant dir holds %d files, want 1", len(ents))
	}
}
