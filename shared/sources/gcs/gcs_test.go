package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/sources"
	"github.com/runyard/runyard/shared/sources/gcs"
	"github.com/runyard/runyard/shared/sources/sourcestest"
)

const bucket = "runyard-sources"

// newServer starts an in-process fake GCS with the bucket; its Client is the real storage
// client over an in-process transport.
func newServer(tb testing.TB) *fakestorage.Server {
	tb.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "elsewhere"})
	return srv
}

func newStore(tb testing.TB, opts ...gcs.Option) (*gcs.Store, *fakestorage.Server) {
	tb.Helper()
	srv := newServer(tb)
	// The real client over the fake's in-process transport. JSON reads keep every call on that
	// transport even when STORAGE_EMULATOR_HOST is set in the environment.
	client, err := storage.NewClient(context.Background(), option.WithHTTPClient(srv.HTTPClient()),
		option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	return gcs.NewFromClient(client, bucket, opts...), srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sourcestest.Run(t, func(tb testing.TB) sources.Store {
		s, _ := newStore(tb)
		return s
	})
}

func TestObject(t *testing.T) {
	t.Parallel()
	s, srv := newStore(t)
	uri := sourcestest.MustPut(t, s, "acme", "b1", []byte("tgz"))
	if want := "gs://runyard-sources/sources/acme/b1.tar.gz"; uri != want {
		t.Errorf("Put() uri = %q, want %q", uri, want)
	}
	obj, err := srv.GetObject(bucket, "sources/acme/b1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{"content": string(obj.Content), "type": obj.ContentType, "meta": obj.Metadata}
	want := map[string]any{"content": "tgz", "type": "application/gzip", "meta": map[string]string{"tenant": "acme", "build": "b1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("object (-want +got):\n%s", diff)
	}
	srv.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "elsewhere", Name: "sources/acme/b1.tar.gz"},
		Content:     []byte("not ours"),
	})
	for _, u := range []string{"gs://elsewhere/sources/acme/b1.tar.gz", "gs://runyard-sources/acme/b1.tar.gz", "gs://runyard-sources-2/sources/acme/b1.tar.gz"} {
		if _, err := s.Open(t.Context(), u); !errors.Is(err, sources.ErrForeignURI) {
			t.Errorf("Open(%q) error = %v, want %v", u, err, sources.ErrForeignURI)
		}
	}
}

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	s, srv := newStore(t, gcs.WithMaxBytes(10))
	_, _, err := s.Put(t.Context(), "acme", "big", bytes.NewReader(bytes.Repeat([]byte("x"), 11)))
	if !errors.Is(err, sources.ErrTooLarge) {
		t.Fatalf("Put() error = %v, want %v", err, sources.ErrTooLarge)
	}
	if _, err := srv.GetObject(bucket, "sources/acme/big.tar.gz"); err == nil {
		t.Error("a refused upload left an object")
	}
}
