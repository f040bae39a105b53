// Package gcs is the sources.Store adapter over Cloud Storage
// (cloud.google.com/go/storage): archive (tenant, build) is the object
// "sources/<tenant>/<build>.tar.gz" of one bucket, named gs://<bucket>/sources/<tenant>/<build>.tar.gz
// (the form Cloud Build's StorageSource takes).
package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/sources"
)

// Prefix is where archives live in the bucket.
const Prefix = "sources/"

// DefaultDeleteTimeout bounds one Delete.
const DefaultDeleteTimeout = 30 * time.Second

// Store implements sources.Store over a bucket.
type Store struct {
	client   *storage.Client
	owned    bool
	bucket   string
	maxBytes int64
	timeout  time.Duration
}

var _ sources.Store = (*Store)(nil)

// Option configures NewFromClient.
type Option func(*Store)

// WithMaxBytes caps one archive (default sources.DefaultMaxBytes).
func WithMaxBytes(n int64) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxBytes = n
		}
	}
}

// WithDeleteTimeout bounds Delete (default DefaultDeleteTimeout). Put and Open follow the
// caller's context: an upload or a read takes as long as the archive needs.
func WithDeleteTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// New makes a storage client with opts (Application Default Credentials unless told
// otherwise) and returns a store over bucket; Close closes the client.
func New(ctx context.Context, bucket string, opts ...option.ClientOption) (*Store, error) {
	if bucket == "" {
		return nil, errors.New("sources/gcs: no bucket")
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sources/gcs: new client: %w", err)
	}
	s := NewFromClient(client, bucket)
	s.owned = true
	return s, nil
}

// NewFromClient returns a store over bucket using client, which stays the caller's.
func NewFromClient(client *storage.Client, bucket string, opts ...Option) *Store {
	s := &Store{client: client, bucket: bucket, maxBytes: sources.DefaultMaxBytes, timeout: DefaultDeleteTimeout}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close closes the client when New made it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// Object is the object name of an archive.
func Object(tenant, buildID string) string { return Prefix + sources.Key(tenant, buildID) }

// URI is the gs:// URI of an archive of this store.
func (s *Store) URI(tenant, buildID string) string {
	return "gs://" + s.bucket + "/" + Object(tenant, buildID)
}

// Put uploads the archive; the object appears only when the whole upload succeeded.
func (s *Store) Put(ctx context.Context, tenant, buildID string, r io.Reader) (string, int64, error) {
	if err := sources.Check(tenant, buildID); err != nil {
		return "", 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // cancelling before Close aborts the upload
	w := s.client.Bucket(s.bucket).Object(Object(tenant, buildID)).NewWriter(ctx)
	w.ContentType = "application/gzip"
	w.Metadata = map[string]string{"tenant": tenant, "build": buildID}
	n, err := io.Copy(w, sources.LimitReader(r, s.maxBytes))
	if err != nil {
		cancel()
		_ = w.Close()
		return "", 0, fmt.Errorf("sources/gcs: put %s/%s: %w", tenant, buildID, err)
	}
	if err := w.Close(); err != nil {
		return "", 0, fmt.Errorf("sources/gcs: put %s/%s: %w", tenant, buildID, err)
	}
	return s.URI(tenant, buildID), n, nil
}

// Open reads an archive of this store.
func (s *Store) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	obj, err := s.object(uri)
	if err != nil {
		return nil, err
	}
	rc, err := s.client.Bucket(s.bucket).Object(obj).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, fmt.Errorf("sources/gcs: open %s: %w", uri, sources.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sources/gcs: open %s: %w", uri, err)
	}
	return rc, nil
}

// Delete removes an archive of this store; a missing one is fine.
func (s *Store) Delete(ctx context.Context, uri string) error {
	obj, err := s.object(uri)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err = s.client.Bucket(s.bucket).Object(obj).Delete(ctx)
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("sources/gcs: delete %s: %w", uri, err)
	}
	return nil
}

// object checks that uri is exactly the URI of one of this store's archives and returns its
// object name.
func (s *Store) object(uri string) (string, error) {
	key, ok := strings.CutPrefix(uri, "gs://"+s.bucket+"/"+Prefix)
	if !ok {
		return "", fmt.Errorf("%w: not under gs://%s/%s", sources.ErrForeignURI, s.bucket, Prefix)
	}
	tenant, buildID, ok := sources.ParseKey(key)
	if !ok || s.URI(tenant, buildID) != uri {
		return "", fmt.Errorf("%w: not an archive of gs://%s/%s", sources.ErrForeignURI, s.bucket, Prefix)
	}
	return Object(tenant, buildID), nil
}
