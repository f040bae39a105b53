// Package sourcestest is the conformance suite every sources.Store backend passes.
package sourcestest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/sources"
)

// Run runs the suite; newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(tb testing.TB) sources.Store) {
	t.Run("put open delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte("archive\x00"), 10_000)
		uri := MustPut(t, s, "acme", "b-1", data)
		tenant, build, ok := sources.Owner(uri)
		if diff := cmp.Diff([]any{"acme", "b-1", true}, []any{tenant, build, ok}); diff != "" {
			t.Errorf("Owner(%q) (-want +got):\n%s", uri, diff)
		}
		WantContent(t, s, uri, data)
		if err := s.Delete(t.Context(), uri); err != nil {
			t.Fatalf("Delete() error = %v", err)
		}
		if _, err := s.Open(t.Context(), uri); !errors.Is(err, sources.ErrNotFound) {
			t.Errorf("Open() after Delete error = %v, want %v", err, sources.ErrNotFound)
		}
		if err := s.Delete(t.Context(), uri); err != nil {
			t.Errorf("Delete() of a missing archive error = %v, want nil", err)
		}
	})

	t.Run("put replaces", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := MustPut(t, s, "acme", "b1", []byte("one"))
		second := MustPut(t, s, "acme", "b1", []byte("two"))
		if first != second {
			t.Errorf("Put() uris differ: %q, %q", first, second)
		}
		WantContent(t, s, second, []byte("two"))
	})

	t.Run("tenants apart", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a := MustPut(t, s, "acme", "b1", []byte("acme's"))
		b := MustPut(t, s, "other", "b1", []byte("other's"))
		if a == b {
			t.Fatalf("two tenants share uri %q", a)
		}
		WantContent(t, s, a, []byte("acme's"))
		WantContent(t, s, b, []byte("other's"))
	})

	t.Run("invalid ids", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, tc := range []struct{ tenant, build string }{
			{"", "b1"}, {"ACME", "b1"}, {"../x", "b1"}, {"acme", ""}, {"acme", ".."},
			{"acme", "a/b"}, {"acme", ".hidden"}, {"acme", strings.Repeat("b", 129)},
		} {
			if _, _, err := s.Put(t.Context(), tc.tenant, tc.build, strings.NewReader("x")); !errors.Is(err, sources.ErrInvalid) {
				t.Errorf("Put(%q, %q) error = %v, want %v", tc.tenant, tc.build, err, sources.ErrInvalid)
			}
		}
	})

	t.Run("foreign uris", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		uri := MustPut(t, s, "acme", "b1", []byte("keep"))
		MustPut(t, s, "other", "b1", []byte("other"))
		foreign := []struct{ name, uri string }{
			{"empty", ""},
			{"suffix", uri + "x"},
			{"dot dot", strings.Replace(uri, "/acme/", "/acme/../other/", 1)},
			{"dot", strings.Replace(uri, "/acme/", "/./acme/", 1)},
			{"double slash", strings.Replace(uri, "/acme/", "//acme/", 1)},
			{"deeper", strings.Replace(uri, "/acme/", "/acme/acme/", 1)},
			{"extension", strings.TrimSuffix(uri, ".tar.gz") + ".tgz"},
			{"other scheme", "https://example.com/acme/b1.tar.gz"},
			{"escaped", strings.Replace(uri, "/acme/", "/acme%2F..%2Fother/", 1)},
			{"query", uri + "?x=1"},
		}
		for _, f := range foreign {
			if _, err := s.Open(t.Context(), f.uri); !errors.Is(err, sources.ErrForeignURI) {
				t.Errorf("%s: Open(%q) error = %v, want %v", f.name, f.uri, err, sources.ErrForeignURI)
			}
			if err := s.Delete(t.Context(), f.uri); !errors.Is(err, sources.ErrForeignURI) {
				t.Errorf("%s: Delete(%q) error = %v, want %v", f.name, f.uri, err, sources.ErrForeignURI)
			}
		}
		WantContent(t, s, uri, []byte("keep"))
	})
}

// MustPut stores data and checks the answered size.
func MustPut(tb testing.TB, s sources.Store, tenant, buildID string, data []byte) string {
	tb.Helper()
	uri, size, err := s.Put(tb.Context(), tenant, buildID, bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("Put(%q, %q) error = %v", tenant, buildID, err)
	}
	if size != int64(len(data)) {
		tb.Errorf("Put(%q, %q) size = %d, want %d", tenant, buildID, size, len(data))
	}
	return uri
}

// WantContent checks what Open reads at uri.
func WantContent(tb testing.TB, s sources.Store, uri string, want []byte) {
	tb.Helper()
	rc, err := s.Open(tb.Context(), uri)
	if err != nil {
		tb.Fatalf("Open(%q) error = %v", uri, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %q: %v", uri, err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("Open(%q) read %d bytes %.20q, want %d bytes %.20q", uri, len(got), got, len(want), want)
	}
}
