package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// skipDirs are listed (so their presence is known) but never descended into.
var skipDirs = map[string]bool{
	".git": true, "node_modules": true, ".venv": true, "venv": true, "__pycache__": true,
	"target": true, "dist": true, "build": true, ".next": true, ".nuxt": true, ".output": true,
	".gradle": true, ".idea": true, ".vscode": true, ".cache": true, "vendor": true, "_build": true,
	"deps": true, ".yarn": true, ".svelte-kit": true, "bin": true, "obj": true, "out": true,
	".mvn": true, "coverage": true, "tmp": true, ".terraform": true, ".dart_tool": true,
}

type entry struct {
	dir  bool
	link bool // a symlink whose target stays inside the repository
}

// repo is a bounded, read-only view of a repository directory.
type repo struct {
	ctx      context.Context
	root     string // absolute, symlinks resolved
	lim      Limits
	entries  map[string]entry    // relative slash path -> entry, for walked entries
	children map[string][]string // relative dir ("" = root) -> sorted names
	complete map[string]bool     // dirs whose listing is complete
	listed   int
	warnings []string
	warned   map[string]bool
	cache    map[string][]byte
	buf      []byte // hashing buffer
}

func newRepo(ctx context.Context, root string, lim Limits) *repo {
	return &repo{ctx: ctx, root: root, lim: lim, entries: map[string]entry{}, children: map[string][]string{},
		complete: map[string]bool{}, warned: map[string]bool{}, cache: map[string][]byte{}}
}

func (r *repo) warn(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !r.warned[s] {
		r.warned[s] = true
		r.warnings = append(r.warnings, s)
	}
}

// walk lists the tree breadth first, bounded by MaxDepth and MaxEntries.
func (r *repo) walk() error {
	type item struct {
		rel   string
		depth int
	}
	queue := []item{{"", 0}}
	truncated := false
	for len(queue) > 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		it := queue[0]
		queue = queue[1:]
		if r.listed >= r.lim.MaxEntries {
			truncated = true
			break
		}
		f, err := os.Open(filepath.Join(r.root, filepath.FromSlash(it.rel)))
		if err != nil {
			if it.rel == "" {
				return err
			}
			continue
		}
		var names []string
		complete := true
		for {
			budget := r.lim.MaxEntries - r.listed
			if budget <= 0 {
				complete = false
				truncated = true
				break
			}
			ents, err := f.ReadDir(min(budget, 512))
			for _, de := range ents {
				r.listed++
				name := de.Name()
				rel := path.Join(it.rel, name)
				typ := de.Type()
				if typ&fs.ModeSymlink != 0 {
					target, ok := r.resolveLink(rel)
					if !ok {
						r.warn("symlink %s points outside the repository; ignored", rel)
						continue
					}
					st, err := os.Stat(target)
					if err != nil {
						continue
					}
					// Symlinked directories are recorded but not descended into.
					r.entries[rel] = entry{dir: st.IsDir(), link: true}
					names = append(names, name)
					continue
				}
				if !typ.IsDir() && !typ.IsRegular() {
					continue
				}
				e := entry{dir: typ.IsDir()}
				r.entries[rel] = e
				names = append(names, name)
				if e.dir && it.depth < r.lim.MaxDepth && !skipDirs[name] {
					queue = append(queue, item{rel, it.depth + 1})
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					complete = false
				}
				break
			}
		}
		f.Close()
		sort.Strings(names)
		r.children[it.rel] = names
		r.complete[it.rel] = complete
	}
	if truncated {
		r.warn("repository walk stopped after %d entries (limit); detection used what was listed", r.lim.MaxEntries)
	}
	return nil
}

// dirKey maps path.Dir results to the walk's directory keys ("" for the root).
func dirKey(dir string) string {
	if dir == "." {
		return ""
	}
	return dir
}

// resolveLink resolves the symlink at rel and reports whether its target stays inside the root.
func (r *repo) resolveLink(rel string) (string, bool) {
	target, err := filepath.EvalSymlinks(filepath.Join(r.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", false
	}
	rr, err := filepath.Rel(r.root, target)
	if err != nil || !filepath.IsLocal(rr) {
		return "", false
	}
	return target, true
}

// abs returns the absolute path of rel if it exists inside the repository.
func (r *repo) abs(rel string) (string, os.FileInfo, bool) {
	rel = path.Clean(rel)
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", nil, false
	}
	p := filepath.Join(r.root, filepath.FromSlash(rel))
	if e, ok := r.entries[rel]; ok && !e.link {
		// Walked entries are reached without symlinks (symlinked directories are not entered).
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&fs.ModeSymlink != 0 {
			return "", nil, false
		}
		return p, st, true
	}
	// Every component must stay inside the root: resolve symlinks in the whole path.
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", nil, false
	}
	if real != p {
		rr, err := filepath.Rel(r.root, real)
		if err != nil || !filepath.IsLocal(rr) {
			r.warn("%s resolves outside the repository; ignored", rel)
			return "", nil, false
		}
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", nil, false
	}
	return real, st, true
}

func (r *repo) has(rel string) bool {
	rel = path.Clean(rel)
	if e, ok := r.entries[rel]; ok {
		_ = e
		return true
	}
	if r.complete[dirKey(path.Dir(rel))] {
		return false
	}
	_, _, ok := r.abs(rel)
	return ok
}

func (r *repo) isDir(rel string) bool {
	rel = path.Clean(rel)
	if e, ok := r.entries[rel]; ok {
		return e.dir
	}
	if r.complete[dirKey(path.Dir(rel))] {
		return false
	}
	_, st, ok := r.abs(rel)
	return ok && st.IsDir()
}

// read returns a manifest's content, bounded by MaxManifestBytes.
func (r *repo) read(rel string) ([]byte, bool) {
	rel = path.Clean(rel)
	if b, ok := r.cache[rel]; ok {
		return b, b != nil
	}
	if !r.has(rel) {
		return nil, false
	}
	p, st, ok := r.abs(rel)
	if !ok || st.IsDir() {
		r.cache[rel] = nil
		return nil, false
	}
	if st.Size() > r.lim.MaxManifestBytes {
		r.warn("%s is %d bytes, over the %d-byte manifest limit; not read", rel, st.Size(), r.lim.MaxManifestBytes)
		r.cache[rel] = nil
		return nil, false
	}
	f, err := os.Open(p)
	if err != nil {
		r.cache[rel] = nil
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, r.lim.MaxManifestBytes+1))
	if err != nil || int64(len(b)) > r.lim.MaxManifestBytes {
		r.cache[rel] = nil
		return nil, false
	}
	if b == nil {
		b = []byte{}
	}
	r.cache[rel] = b
	return b, true
}

// hashFile returns the hex sha256 of a file, reading at most MaxHashBytes.
func (r *repo) hashFile(rel string) (string, bool) {
	p, st, ok := r.abs(rel)
	if !ok || st.IsDir() {
		return "", false
	}
	f, err := os.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
	h := sha256.New()
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
	}
	n, err := io.CopyBuffer(h, io.LimitReader(f, r.lim.MaxHashBytes), r.buf)
	if err != nil {
		return "", false
	}
	if n >= r.lim.MaxHashBytes {
		r.warn("%s is larger than %d bytes; the cache key hashes its first %d bytes and its size", rel, r.lim.MaxHashBytes, r.lim.MaxHashBytes)
		fmt.Fprintf(h, "size=%d", st.Size())
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// app is the repository seen from an app directory.
type app struct {
	*repo
	prefix string // "" for the root, else "apps/web"
}

func (r *repo) sub(dir string) *app {
	dir = strings.Trim(path.Clean(dir), "/")
	if dir == "." {
		dir = ""
	}
	return &app{repo: r, prefix: dir}
}

func (a *app) rel(name string) string {
	if a.prefix == "" {
		return path.Clean(name)
	}
	return path.Join(a.prefix, name)
}

func (a *app) has(name string) bool            { return a.repo.has(a.rel(name)) }
func (a *app) isDir(name string) bool          { return a.repo.isDir(a.rel(name)) }
func (a *app) read(name string) ([]byte, bool) { return a.repo.read(a.rel(name)) }
func (a *app) readString(name string) string {
	b, _ := a.read(name)
	return string(b)
}

// list returns the names in the app directory dir ("" for the app root), as walked.
func (a *app) list(dir string) []string {
	d := a.rel(dir)
	if d == "." {
		d = ""
	}
	return a.repo.children[d]
}

// files returns the walked files under the app directory (relative to it), in order.
func (a *app) files(match func(rel string) bool) []string {
	var out []string
	pre := a.prefix
	for rel, e := range a.repo.entries {
		if e.dir {
			continue
		}
		if pre != "" {
			if !strings.HasPrefix(rel, pre+"/") {
				continue
			}
			rel = rel[len(pre)+1:]
		}
		if match(rel) {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// rootFilesWithExt returns names in the app root ending in ext.
func (a *app) rootFilesWithExt(ext string) []string {
	var out []string
	for _, n := range a.list("") {
		if strings.HasSuffix(strings.ToLower(n), ext) && !a.isDir(n) {
			out = append(out, n)
		}
	}
	return out
}

// firstLine returns the first line of a file (for shebangs), bounded.
func (a *app) firstLine(name string) string {
	b, ok := a.read(name)
	if !ok {
		return ""
	}
	if i := strings.IndexByte(string(b), '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}
