// Package localdir is the sources.Store adapter for runyard dev: archives are files
// <dir>/<tenant>/<build>.tar.gz (directories 0700, files 0600), named by file:// URIs.
package localdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/runyard/runyard/shared/sources"
)

// Store implements sources.Store over a directory.
type Store struct {
	dir      string
	maxBytes int64
}

var _ sources.Store = (*Store)(nil)

// Option configures New.
type Option func(*Store)

// WithMaxBytes caps one archive (default sources.DefaultMaxBytes).
func WithMaxBytes(n int64) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxBytes = n
		}
	}
}

// New returns a store keeping archives under dir (created 0700 if missing).
func New(dir string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sources/localdir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("sources/localdir: create %s: %w", abs, err)
	}
	// Resolve links once so the URIs we answer are the ones we accept.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("sources/localdir: %w", err)
	}
	s := &Store{dir: abs, maxBytes: sources.DefaultMaxBytes}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// URI is the URI of an archive of this store.
func (s *Store) URI(tenant, buildID string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.dir, sources.Key(tenant, buildID)))}).String()
}

// Put writes the archive to a temporary file, syncs it and renames it into place.
func (s *Store) Put(ctx context.Context, tenant, buildID string, r io.Reader) (string, int64, error) {
	if err := sources.Check(tenant, buildID); err != nil {
		return "", 0, err
	}
	tdir := filepath.Join(s.dir, tenant)
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return "", 0, fmt.Errorf("sources/localdir: put: %w", err)
	}
	tmp, err := os.CreateTemp(tdir, ".put-*")
	if err != nil {
		return "", 0, fmt.Errorf("sources/localdir: put: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	n, err := io.Copy(tmp, sources.LimitReader(sources.ContextReader(ctx, r), s.maxBytes))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.dir, sources.Key(tenant, buildID)))
	}
	if err != nil {
		return "", 0, fmt.Errorf("sources/localdir: put %s/%s: %w", tenant, buildID, err)
	}
	return s.URI(tenant, buildID), n, nil
}

// Open opens an archive of this store.
func (s *Store) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	key, err := s.key(uri)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sources/localdir: open: %w", err)
	}
	f, err := os.OpenInRoot(s.dir, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sources/localdir: open %s: %w", uri, sources.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sources/localdir: open: %w", err)
	}
	return f, nil
}

// Delete removes an archive of this store; a missing one is fine.
func (s *Store) Delete(ctx context.Context, uri string) error {
	key, err := s.key(uri)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sources/localdir: delete: %w", err)
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("sources/localdir: delete: %w", err)
	}
	defer root.Close()
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sources/localdir: delete: %w", err)
	}
	return nil
}

// key checks that uri is exactly the URI of one of this store's archives and returns its key.
func (s *Store) key(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%w: not a file URI of this store", sources.ErrForeignURI)
	}
	rel, err := filepath.Rel(s.dir, filepath.FromSlash(u.Path))
	if err != nil {
		return "", fmt.Errorf("%w: outside %s", sources.ErrForeignURI, s.dir)
	}
	key := filepath.ToSlash(rel)
	tenant, buildID, ok := sources.ParseKey(key)
	if !ok || s.URI(tenant, buildID) != uri {
		return "", fmt.Errorf("%w: outside %s", sources.ErrForeignURI, s.dir)
	}
	return key, nil
}
