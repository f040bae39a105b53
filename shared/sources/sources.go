// Package sources is the port for uploaded source archives: where a build's .tar.gz is kept
// between the upload and the builder that reads it. Adapters: sources/gcs (a Cloud Storage
// bucket, read by Cloud Build) and sources/localdir (a directory, for runyard dev).
//
// An archive is named by its tenant and build id; the store answers a URI (gs://… or
// file://…) that goes into build.Source.Archive. Every URI ends with "/<tenant>/<build>.tar.gz",
// and a store opens or deletes only URIs of exactly its own shape under its own prefix, so a URI
// from elsewhere (another bucket, a path outside the directory, "..") is refused with
// ErrForeignURI.
package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/runyard/runyard/shared/ids"
)

// Store keeps source archives.
type Store interface {
	// Put stores the archive read from r for (tenant, buildID), replacing an earlier one, and
	// returns its URI and size.
	Put(ctx context.Context, tenant, buildID string, r io.Reader) (uri string, size int64, err error)
	// Open reads an archive stored by Put. A missing one is ErrNotFound.
	Open(ctx context.Context, uri string) (io.ReadCloser, error)
	// Delete removes an archive; deleting a missing one is not an error.
	Delete(ctx context.Context, uri string) error
}

// Errors stores return.
var (
	// ErrNotFound: no archive at that URI.
	ErrNotFound = errors.New("sources: archive not found")
	// ErrForeignURI: the URI is not one of this store's archives.
	ErrForeignURI = errors.New("sources: uri outside this store")
	// ErrInvalid: a bad tenant or build id.
	ErrInvalid = errors.New("sources: invalid tenant or build id")
)

// Ext is the file extension of an archive.
const Ext = ".tar.gz"

var buildIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidBuildID reports whether id can name an archive: 1-128 of [A-Za-z0-9_.-], starting with a
// letter or digit (so never "." or "..", never a path).
func ValidBuildID(id string) bool { return buildIDRE.MatchString(id) }

// Check validates a tenant and build id.
func Check(tenant, buildID string) error {
	var errs []error
	if !ids.ValidTenant(tenant) {
		errs = append(errs, fmt.Errorf("%w: bad tenant id", ErrInvalid))
	}
	if !ValidBuildID(buildID) {
		errs = append(errs, fmt.Errorf("%w: bad build id", ErrInvalid))
	}
	return errors.Join(errs...)
}

// Key is the archive's name relative to a store's prefix: "<tenant>/<buildID>.tar.gz".
func Key(tenant, buildID string) string { return tenant + "/" + buildID + Ext }

// ParseKey splits a key made by Key; ok is false for anything else.
func ParseKey(key string) (tenant, buildID string, ok bool) {
	tenant, file, found := strings.Cut(key, "/")
	if !found {
		return "", "", false
	}
	buildID, found = strings.CutSuffix(file, Ext)
	if !found || Check(tenant, buildID) != nil {
		return "", "", false
	}
	return tenant, buildID, true
}

// Owner returns the tenant and build id of an archive URI from any store: the last two path
// segments. It does not say the URI belongs to a given store (Open does); it lets a builder
// check that a request's archive is the requesting tenant's own.
func Owner(uri string) (tenant, buildID string, ok bool) {
	i := strings.LastIndexByte(uri, '/')
	if i < 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(uri[:i], '/')
	return ParseKey(uri[j+1:])
}

// DefaultMaxBytes is the default cap on one stored archive (compressed).
const DefaultMaxBytes = 256 << 20

// ErrTooLarge: the archive is larger than the store accepts.
var ErrTooLarge = errors.New("sources: archive too large")

// LimitReader reads r and fails with ErrTooLarge past max bytes (adapters wrap Put's reader).
func LimitReader(r io.Reader, max int64) io.Reader { return &limitReader{r: r, left: max} }

type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w", ErrTooLarge)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%w: more than the store's limit", ErrTooLarge)
	}
	return n, err
}

// ContextReader reads r until ctx ends (for copies that have no context of their own).
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return &ctxReader{ctx: ctx, r: r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
