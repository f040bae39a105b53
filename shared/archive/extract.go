package archive

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// maxLinkHops bounds symlink resolution when checking links (the kernel's own limit is 40).
const maxLinkHops = 40

// ExtractTarGz extracts the gzip-compressed tar read from r into dst, which must not exist or
// be an empty directory (it is created 0755).
//
// Entries: directories; regular files (mode 0755 when any execute bit is set, else 0644;
// owners, times and special bits are not restored); symbolic links whose target is relative
// and, followed through the extracted tree, stays inside dst (a repository's own relative
// links survive); hard links to a file extracted earlier, written as copies. PAX global
// headers are skipped. Anything else (devices, fifos, unknown types), absolute paths, any ".."
// component, a path through a symlink and a link leading outside dst are ErrUnsafe. A later
// entry replaces an earlier file or link of the same name.
//
// Limits (zero fields take defaults) stop the extraction with ErrTooLarge as soon as one is
// exceeded, whatever the headers claim. A corrupt or truncated stream is ErrMalformed. On
// error dst may hold a partial tree: the caller removes it.
func ExtractTarGz(r io.Reader, dst string, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	if err := prepareDst(dst); err != nil {
		return Stats{}, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return Stats{}, fmt.Errorf("archive: open destination: %w", err)
	}
	defer root.Close()

	gz, err := gzip.NewReader(r)
	if err != nil {
		return Stats{}, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	defer gz.Close()
	// The decompressed stream carries file bytes plus headers and padding: cap it too, so a
	// bomb of headers or trailing zeros also stops.
	capped := &capReader{r: gz, left: lim.MaxBytes + int64(lim.MaxFiles)*2048 + 16<<20}

	x := &extractor{root: root, lim: lim, links: map[string]bool{}, top: map[string]bool{}, topDir: map[string]bool{}}
	tr := tar.NewReader(capped)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return x.stats, streamErr(err)
		}
		if err := x.entry(tr, hdr); err != nil {
			return x.stats, err
		}
	}
	// Read to the end of the gzip stream so its checksum is verified.
	if _, err := io.Copy(io.Discard, capped); err != nil {
		return x.stats, streamErr(err)
	}
	if lim.StripSingleRoot {
		if err := x.stripSingleRoot(); err != nil {
			return x.stats, err
		}
	}
	if err := x.checkLinks(); err != nil {
		return x.stats, err
	}
	return x.stats, nil
}

func prepareDst(dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("archive: create destination: %w", err)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("archive: read destination: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("archive: destination %s is not empty", dst)
	}
	return nil
}

var errCap = errors.New("archive: decompressed stream over its cap")

// capReader fails with errCap once more than left bytes were read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Distinguish "exactly at the cap and done" from "more to come".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errCap
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// streamErr maps a read error of the tar or gzip stream to a sentinel.
func streamErr(err error) error {
	if errors.Is(err, errCap) {
		return fmt.Errorf("%w: decompressed stream exceeds the limit", ErrTooLarge)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

type extractor struct {
	root  *os.Root
	lim   Limits
	stats Stats
	count int
	links map[string]bool // symlinks written, by cleaned name
	top   map[string]bool // first path components seen
	// topDir: a directory entry of the top level was in the archive (for Stats after a strip)
	topDir map[string]bool
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		return fmt.Errorf("%w: %s: not a directory at the root", ErrUnsafe, quote(hdr.Name))
	}
	x.count++
	if x.count > x.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d entries", ErrTooLarge, x.lim.MaxFiles)
	}
	if err := x.checkParents(name); err != nil {
		return err
	}
	x.top[strings.SplitN(name, "/", 2)[0]] = true

	switch hdr.Typeflag {
	case tar.TypeDir:
		if x.links[name] {
			return fmt.Errorf("%w: %s: directory over a symlink", ErrUnsafe, quote(name))
		}
		if err := x.root.MkdirAll(name, 0o755); err != nil {
			return fsErr(name, err)
		}
		x.stats.Dirs++
		if !strings.Contains(name, "/") {
			x.topDir[name] = true
		}
		return nil
	case tar.TypeReg, tar.TypeGNUSparse: // the reader reports legacy TypeRegA as TypeReg or TypeDir
		if err := x.replace(name); err != nil {
			return err
		}
		return x.writeFile(name, tr, hdr.Size, fileMode(hdr.Mode))
	case tar.TypeSymlink:
		return x.symlink(name, hdr.Linkname)
	case tar.TypeLink:
		return x.hardlink(name, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("%w: %s: device or fifo", ErrUnsafe, quote(name))
	default:
		return fmt.Errorf("%w: %s: unsupported entry type %q", ErrUnsafe, quote(name), hdr.Typeflag)
	}
}

// cleanName validates an entry name and returns it cleaned, slash-separated and relative
// ("." for the root itself).
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty name", ErrMalformed)
	case strings.ContainsRune(name, 0):
		return "", fmt.Errorf("%w: %s: NUL in name", ErrUnsafe, quote(name))
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("%w: %s: absolute path", ErrUnsafe, quote(name))
	}
	if slices.Contains(strings.Split(name, "/"), "..") {
		return "", fmt.Errorf("%w: %s: \"..\" in path", ErrUnsafe, quote(name))
	}
	c := path.Clean(name)
	if c == "." {
		return c, nil
	}
	if !filepath.IsLocal(filepath.FromSlash(c)) {
		return "", fmt.Errorf("%w: %s: not a local path", ErrUnsafe, quote(name))
	}
	return c, nil
}

// checkParents refuses a path whose parent directories go through a symlink written earlier:
// writing through links is how a chain of individually harmless links escapes.
func (x *extractor) checkParents(name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && x.links[name[:i]] {
			return fmt.Errorf("%w: %s: path through symlink %s", ErrUnsafe, quote(name), quote(name[:i]))
		}
	}
	return nil
}

// replace makes room for a non-directory entry: an earlier file or link of the same name is
// removed; a directory is not.
func (x *extractor) replace(name string) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return x.mkParent(name)
	}
	if err != nil {
		return fsErr(name, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s: replaces a directory", ErrMalformed, quote(name))
	}
	if err := x.root.Remove(name); err != nil {
		return fmt.Errorf("archive: extract %s: %w", quote(name), err)
	}
	delete(x.links, name)
	return nil
}

func (x *extractor) mkParent(name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return fsErr(name, err)
		}
	}
	return nil
}

func fileMode(m int64) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

func (x *extractor) writeFile(name string, r io.Reader, size int64, perm fs.FileMode) error {
	if size < 0 {
		return fmt.Errorf("%w: %s: negative size", ErrMalformed, quote(name))
	}
	if size > x.lim.MaxFileBytes {
		return fmt.Errorf("%w: %s: %d bytes, more than %d for one file", ErrTooLarge, quote(name), size, x.lim.MaxFileBytes)
	}
	if x.stats.Bytes+size > x.lim.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes in all", ErrTooLarge, x.lim.MaxBytes)
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fsErr(name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	x.stats.Bytes += n
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("archive: extract %s: %w", quote(name), cerr)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("archive: extract %s: %w", quote(name), err)
		}
		return streamErr(err)
	}
	if n != size {
		return fmt.Errorf("%w: %s: truncated", ErrMalformed, quote(name))
	}
	x.stats.Files++
	return nil
}

func (x *extractor) symlink(name, target string) error {
	switch {
	case target == "" || strings.ContainsRune(target, 0):
		return fmt.Errorf("%w: %s: bad symlink target", ErrUnsafe, quote(name))
	case path.IsAbs(target):
		return fmt.Errorf("%w: %s: absolute symlink target", ErrUnsafe, quote(name))
	}
	if !localPath(path.Join(path.Dir(name), target)) {
		return fmt.Errorf("%w: %s: symlink leads outside the tree", ErrUnsafe, quote(name))
	}
	if err := x.replace(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fsErr(name, err)
	}
	x.links[name] = true
	x.stats.Symlinks++
	return nil
}

// localPath reports whether a cleaned slash path stays at or below the root.
func localPath(p string) bool {
	return p == "." || filepath.IsLocal(filepath.FromSlash(p))
}

func (x *extractor) hardlink(name, target string) error {
	t, err := cleanName(target)
	if err != nil {
		return fmt.Errorf("%w: %s: bad hard link target", ErrUnsafe, quote(name))
	}
	if err := x.checkParents(t); err != nil {
		return err
	}
	fi, err := x.root.Lstat(t)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s: hard link to %s, which is not a file extracted earlier", ErrUnsafe, quote(name), quote(t))
	}
	if t == name {
		x.stats.Files++
		return nil
	}
	src, err := x.root.Open(t)
	if err != nil {
		return fmt.Errorf("archive: extract %s: %w", quote(name), err)
	}
	defer src.Close()
	if err := x.replace(name); err != nil {
		return err
	}
	return x.writeFile(name, src, fi.Size(), fi.Mode().Perm())
}

// stripSingleRoot moves the children of the only top-level directory up one level.
func (x *extractor) stripSingleRoot() error {
	if len(x.top) != 1 {
		return nil
	}
	var top string
	for t := range x.top {
		top = t
	}
	fi, err := x.root.Lstat(top)
	if err != nil || !fi.IsDir() {
		return nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".strip-" + hex.EncodeToString(rnd[:])
	if err := x.root.Rename(top, tmp); err != nil {
		return fmt.Errorf("archive: strip %s: %w", quote(top), err)
	}
	d, err := x.root.Open(tmp)
	if err != nil {
		return fmt.Errorf("archive: strip %s: %w", quote(top), err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("archive: strip %s: %w", quote(top), err)
	}
	for _, n := range names {
		if err := x.root.Rename(tmp+"/"+n, n); err != nil {
			return fmt.Errorf("archive: strip %s: %w", quote(top), err)
		}
	}
	if err := x.root.Remove(tmp); err != nil {
		return fmt.Errorf("archive: strip %s: %w", quote(top), err)
	}
	links := make(map[string]bool, len(x.links))
	for l := range x.links {
		if rest, ok := strings.CutPrefix(l, top+"/"); ok {
			links[rest] = true
		}
	}
	x.links = links
	x.stats.StrippedRoot = top
	if x.topDir[top] {
		x.stats.Dirs-- // the root directory is gone
	}
	return nil
}

// checkLinks follows every symlink through the final tree and refuses one that leads outside
// it (a link checked alone can still escape through another link, or through ".." after a
// strip).
func (x *extractor) checkLinks() error {
	names := make([]string, 0, len(x.links))
	for l := range x.links {
		names = append(names, l)
	}
	slices.Sort(names)
	for _, n := range names {
		if x.escapes(n) {
			return fmt.Errorf("%w: %s: symlink leads outside the tree", ErrUnsafe, quote(n))
		}
	}
	return nil
}

// escapes resolves the symlink at name component by component, following links inside the
// root, and reports whether it leaves the root (or loops). Components that do not exist are
// resolved lexically.
func (x *extractor) escapes(name string) bool {
	stack := split(path.Dir(name))
	target, err := x.root.Readlink(name)
	if err != nil {
		return true
	}
	if path.IsAbs(target) {
		return true
	}
	pending := split(target)
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return true
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := strings.Join(append(slices.Clip(stack), c), "/")
		fi, err := x.root.Lstat(p)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			hops++
			t, err := x.root.Readlink(p)
			if hops > maxLinkHops || err != nil || path.IsAbs(t) {
				return true
			}
			pending = append(split(t), pending...)
			continue
		}
		stack = append(stack, c)
	}
	return false
}

func split(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// fsErr wraps a file system error; a path that needs a directory where the archive put a file
// (or the reverse) is the archive's fault: ErrMalformed.
func fsErr(name string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s: file and directory of the same name", ErrMalformed, quote(name))
	}
	return fmt.Errorf("archive: extract %s: %w", quote(name), err)
}

// quote quotes an entry name for an error, cut to a readable length.
func quote(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
