package archive_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/archive"
)

// FuzzExtractTarGz: no input panics or writes outside the destination, and every link of a
// successful extraction resolves inside it.
func FuzzExtractTarGz(f *testing.F) {
	f.Add(tarGz(f, dir("a/"), file("a/b", "x"), symlink("a/c", "b"), hardlink("d", "a/b")), false)
	f.Add(tarGz(f, dir("r/"), file("r/x", "1"), symlink("r/l", "../y")), true)
	f.Add(tarGz(f, symlink("d1/d2/b", ".."), symlink("a", "d1/d2/b/../..")), false)
	f.Add(tarGz(f, symlink("l", "."), file("l/x", "1")), false)
	f.Add(tarGz(f, file("../x", "1")), false)
	f.Add(tarGz(f, ent{name: "n", typ: tar.TypeChar}), false)
	f.Add(gzBytes(f, []byte("not a tar")), false)
	f.Fuzz(func(t *testing.T, data []byte, strip bool) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		lim := archive.Limits{MaxBytes: 1 << 20, MaxFiles: 200, StripSingleRoot: strip}
		_, err := archive.ExtractTarGz(bytes.NewReader(data), dst, lim)
		nothingOutside(t, parent)
		if err != nil {
			if !errors.Is(err, archive.ErrMalformed) && !errors.Is(err, archive.ErrUnsafe) &&
				!errors.Is(err, archive.ErrTooLarge) && !strings.HasPrefix(err.Error(), "archive: extract") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		realDst, err := filepath.EvalSymlinks(dst)
		if err != nil {
			t.Fatal(err)
		}
		_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				if _, lerr := os.Lstat(p); lerr != nil {
					t.Fatal(lerr)
				}
				return nil // dangling or looping inside: nothing outside to reach
			}
			if target != realDst && !strings.HasPrefix(target, realDst+string(filepath.Separator)) {
				t.Errorf("link %s resolves outside: %s", p, target)
			}
			return nil
		})
	})
}
