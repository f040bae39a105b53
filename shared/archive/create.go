package archive

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CreateTarGz writes a gzip-compressed tar of the tree under srcDir to w: directories, regular
// files and symbolic links (not followed), in lexical order, with names relative to srcDir,
// modes 0755/0644, no owners and a fixed time, so the same tree always gives the same bytes.
// Other file types (sockets, devices) are skipped.
func CreateTarGz(w io.Writer, srcDir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(srcDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == srcDir {
			return nil
		}
		rel, err := filepath.Rel(srcDir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		hdr := &tar.Header{Name: name, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch t := d.Type(); {
		case t.IsDir():
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", 0o755
			return tw.WriteHeader(hdr)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
			return tw.WriteHeader(hdr)
		case t.IsRegular():
			return addFile(tw, hdr, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: create from %s: %w", srcDir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: create from %s: %w", srcDir, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("archive: create from %s: %w", srcDir, err)
	}
	return nil
}

func addFile(tw *tar.Writer, hdr *tar.Header, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, fi.Size(), int64(fileMode(int64(fi.Mode().Perm())))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that grows while it is read is cut at the size in its header.
	n, err := io.Copy(tw, io.LimitReader(f, fi.Size()))
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("%s shrank while being archived", p)
	}
	return nil
}
