package local

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TreeDigest is "sha256:" + the SHA-256 of a tree: every entry in lexical path order, each as a
// framed record — directory: "D" path NUL; symlink: "L" path NUL target NUL; file: "F" path NUL,
// "x" or "-" (any execute bit), the size as 8 bytes big-endian, then the content. Times, owners
// and other modes do not count; other file types are skipped. The same tree always has the same
// digest, wherever it lies.
func TreeDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			fmt.Fprintf(h, "D%s\x00", name)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "L%s\x00%s\x00", name, target)
		case t.IsRegular():
			return hashFile(h, p, name)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("build/local: digest %s: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, p, name string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	x := "-"
	if fi.Mode().Perm()&0o111 != 0 {
		x = "x"
	}
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(fi.Size()))
	fmt.Fprintf(h, "F%s\x00%s", name, x)
	h.Write(size[:])
	n, err := io.Copy(h, io.LimitReader(f, fi.Size()))
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("%s changed while hashed", name)
	}
	return nil
}
