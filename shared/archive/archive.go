// Package archive reads and writes the .tar.gz source archives builds are made from.
//
// ExtractTarGz is safe on hostile input: it never writes outside its destination, refuses
// absolute and dot-dot paths, device files and links that lead out of the tree, and stops at
// size and entry-count limits (so a gzip bomb costs at most the limit). CreateTarGz writes a
// deterministic archive of a directory (tests, the local builder).
package archive

import (
	"errors"
)

// Errors ExtractTarGz returns; callers branch on them with errors.Is.
var (
	// ErrTooLarge: the archive exceeds a limit (total bytes, one file's bytes, or entries).
	ErrTooLarge = errors.New("archive: too large")
	// ErrMalformed: not a gzip-compressed tar, or corrupt or truncated.
	ErrMalformed = errors.New("archive: malformed")
	// ErrUnsafe: an entry would escape the destination (absolute path, "..", a link leading
	// outside, a path through a link) or is of a refused type (device, fifo).
	ErrUnsafe = errors.New("archive: unsafe entry")
)

// Default limits (a zero field in Limits means its default).
const (
	DefaultMaxBytes = 512 << 20
	DefaultMaxFiles = 100_000
)

// Limits bound an extraction. Zero values mean the defaults.
type Limits struct {
	// MaxBytes caps the total uncompressed size of the files (default 512 MiB).
	MaxBytes int64
	// MaxFiles caps the number of entries: files, directories and links (default 100,000).
	MaxFiles int
	// MaxFileBytes caps one file (default MaxBytes).
	MaxFileBytes int64
	// StripSingleRoot removes the top-level directory when it is the archive's only top-level
	// entry (GitHub tarballs: repo-<sha>/...). Otherwise the tree is left as it is.
	StripSingleRoot bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileBytes <= 0 || l.MaxFileBytes > l.MaxBytes {
		l.MaxFileBytes = l.MaxBytes
	}
	return l
}

// Stats describe what ExtractTarGz wrote.
type Stats struct {
	Files    int   // regular files (hard links count as files: they are written as copies)
	Dirs     int   // directories
	Symlinks int   // symbolic links
	Bytes    int64 // file bytes written
	// StrippedRoot is the top-level directory removed by Limits.StripSingleRoot, if any.
	StrippedRoot string
}
