package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/archive"
)

// ent is one tar entry for a test archive.
type ent struct {
	name string
	typ  byte
	body string
	link string
	mode int64
	size int64 // header size when it differs from len(body)
}

func file(name, body string) ent   { return ent{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) ent          { return ent{name: name, typ: tar.TypeDir} }
func symlink(name, to string) ent  { return ent{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) ent { return ent{name: name, typ: tar.TypeLink, link: to} }

// tarGz builds a .tar.gz of es.
func tarGz(tb testing.TB, es ...ent) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		size := int64(len(e.body))
		if e.typ != tar.TypeReg {
			size = 0
		}
		if e.size != 0 {
			size = e.size
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: mode, Size: size}
		if e.typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: e.typ, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatalf("WriteHeader(%q): %v", e.name, err)
		}
		if e.body != "" {
			if _, err := io.WriteString(tw, e.body); err != nil && e.size == 0 {
				tb.Fatalf("write %q: %v", e.name, err)
			}
		}
	}
	// Errors from short bodies (size tests) are expected: Close as far as it goes.
	_ = tw.Close()
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// gzBytes gzips raw bytes.
func gzBytes(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(raw); err != nil {
		tb.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// tree lists dir as path → "d", "f:<content>:<mode>" or "l:<target>".
func tree(tb testing.TB, root string) map[string]string {
	tb.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			got[rel] = "d"
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[rel] = "l:" + t
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, _ := d.Info()
			got[rel] = "f:" + string(b) + ":" + fi.Mode().Perm().String()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func TestExtractTarGz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		data      func(tb testing.TB) []byte
		lim       archive.Limits
		want      map[string]string
		wantStats archive.Stats
		wantErr   error
	}{
		{
			name: "files dirs and links",
			data: func(tb testing.TB) []byte {
				return tarGz(tb,
					ent{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
					dir("./"),
					dir("src/"),
					file("src/main.js", "hi"),
					ent{name: "run.sh", typ: tar.TypeReg, body: "#!/bin/sh", mode: 0o4775},
					file("implicit/dir/a.txt", "a"),
					symlink("README", "src/main.js"),
					symlink("src/up", "../run.sh"),
					symlink("src/self", "."),
					hardlink("copy.js", "src/main.js"),
				)
			},
			want: map[string]string{
				"src": "d", "src/main.js": "f:hi:-rw-r--r--", "run.sh": "f:#!/bin/sh:-rwxr-xr-x",
				"implicit": "d", "implicit/dir": "d", "implicit/dir/a.txt": "f:a:-rw-r--r--",
				"README": "l:src/main.js", "src/up": "l:../run.sh", "src/self": "l:.",
				"copy.js": "f:hi:-rw-r--r--",
			},
			wantStats: archive.Stats{Files: 4, Dirs: 1, Symlinks: 3, Bytes: 14},
		},
		{
			name: "later entry replaces earlier",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, file("a", "1"), symlink("b", "a"), file("a", "2"), file("b", "3"))
			},
			want:      map[string]string{"a": "f:2:-rw-r--r--", "b": "f:3:-rw-r--r--"},
			wantStats: archive.Stats{Files: 3, Symlinks: 1, Bytes: 3},
		},
		{
			name: "strip single root",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, dir("repo-abc/"), file("repo-abc/index.html", "x"), dir("repo-abc/repo-abc/"),
					symlink("repo-abc/l", "index.html"))
			},
			lim:       archive.Limits{StripSingleRoot: true},
			want:      map[string]string{"index.html": "f:x:-rw-r--r--", "repo-abc": "d", "l": "l:index.html"},
			wantStats: archive.Stats{Files: 1, Dirs: 1, Symlinks: 1, Bytes: 1, StrippedRoot: "repo-abc"},
		},
		{
			name:      "single root kept unless asked",
			data:      func(tb testing.TB) []byte { return tarGz(tb, dir("repo/"), file("repo/a", "x")) },
			want:      map[string]string{"repo": "d", "repo/a": "f:x:-rw-r--r--"},
			wantStats: archive.Stats{Files: 1, Dirs: 1, Bytes: 1},
		},
		{
			name:      "two roots not stripped",
			data:      func(tb testing.TB) []byte { return tarGz(tb, file("a/x", "1"), file("b", "2")) },
			lim:       archive.Limits{StripSingleRoot: true},
			want:      map[string]string{"a": "d", "a/x": "f:1:-rw-r--r--", "b": "f:2:-rw-r--r--"},
			wantStats: archive.Stats{Files: 2, Bytes: 2},
		},
		{
			name:      "single root file not stripped",
			data:      func(tb testing.TB) []byte { return tarGz(tb, file("only", "1")) },
			lim:       archive.Limits{StripSingleRoot: true},
			want:      map[string]string{"only": "f:1:-rw-r--r--"},
			wantStats: archive.Stats{Files: 1, Bytes: 1},
		},
		{
			name:    "directory where a file is",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a", "1"), dir("a/")) },
			wantErr: archive.ErrMalformed,
		},
		{
			name:    "file under a file",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a", "1"), file("a/b", "2")) },
			wantErr: archive.ErrMalformed,
		},
		{
			name:    "file where a directory is",
			data:    func(tb testing.TB) []byte { return tarGz(tb, dir("a/"), file("a/x", "1"), file("a", "2")) },
			wantErr: archive.ErrMalformed,
		},
		{
			name:    "absolute path",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("/etc/passwd", "x")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "dot dot",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("../escape", "x")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "dot dot inside",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a/../../b", "x")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "dot dot that stays inside is still refused",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a/../b", "x")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "absolute symlink",
			data:    func(tb testing.TB) []byte { return tarGz(tb, symlink("l", "/etc/passwd")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "symlink escaping",
			data:    func(tb testing.TB) []byte { return tarGz(tb, symlink("a/l", "../../etc")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "symlink chain escaping",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, symlink("d1/d2/b", ".."), symlink("a", "d1/d2/b/../.."))
			},
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "symlink chain escaping through a later link",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, symlink("a", "d1/d2/b/../.."), symlink("d1/d2/b", ".."))
			},
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "write through symlink",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, dir("sub/"), symlink("l", "sub"), file("l/x", "x"))
			},
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "directory over symlink",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, dir("sub/"), symlink("l", "sub"), dir("l/"))
			},
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "strip makes a link escape",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, dir("root/"), symlink("root/l", "../outside"))
			},
			lim:     archive.Limits{StripSingleRoot: true},
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "hard link outside",
			data:    func(tb testing.TB) []byte { return tarGz(tb, hardlink("l", "../../etc/passwd")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "hard link absolute",
			data:    func(tb testing.TB) []byte { return tarGz(tb, hardlink("l", "/etc/passwd")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "hard link to nothing",
			data:    func(tb testing.TB) []byte { return tarGz(tb, hardlink("l", "missing")) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "hard link to symlink",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, file("f", "x"), symlink("s", "f"), hardlink("l", "s"))
			},
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "char device",
			data:    func(tb testing.TB) []byte { return tarGz(tb, ent{name: "null", typ: tar.TypeChar}) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "block device",
			data:    func(tb testing.TB) []byte { return tarGz(tb, ent{name: "sda", typ: tar.TypeBlock}) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name:    "fifo",
			data:    func(tb testing.TB) []byte { return tarGz(tb, ent{name: "p", typ: tar.TypeFifo}) },
			wantErr: archive.ErrUnsafe,
		},
		{
			name: "too many files",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, file("a", "1"), file("b", "2"), dir("c/"), file("d", "4"))
			},
			lim:     archive.Limits{MaxFiles: 3},
			wantErr: archive.ErrTooLarge,
		},
		{
			name:    "file too large",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a", "123456")) },
			lim:     archive.Limits{MaxFileBytes: 5},
			wantErr: archive.ErrTooLarge,
		},
		{
			name:    "total too large",
			data:    func(tb testing.TB) []byte { return tarGz(tb, file("a", "1234"), file("b", "1234")) },
			lim:     archive.Limits{MaxBytes: 7},
			wantErr: archive.ErrTooLarge,
		},
		{
			name: "hard link copies count",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, file("a", "1234"), hardlink("b", "a"))
			},
			lim:     archive.Limits{MaxBytes: 7},
			wantErr: archive.ErrTooLarge,
		},
		{
			name: "gzip bomb",
			data: func(tb testing.TB) []byte {
				return tarGz(tb, file("zeros", strings.Repeat("\x00", 8<<20)))
			},
			lim:     archive.Limits{MaxBytes: 1 << 20},
			wantErr: archive.ErrTooLarge,
		},
		{
			name: "bomb of trailing zeros",
			data: func(tb testing.TB) []byte {
				raw := tarRaw(tb, file("a", "x"))
				return gzBytes(tb, append(raw, make([]byte, 24<<20)...))
			},
			lim:     archive.Limits{MaxBytes: 1 << 10, MaxFiles: 10},
			wantErr: archive.ErrTooLarge,
		},
		{
			name:    "not gzip",
			data:    func(tb testing.TB) []byte { return []byte("PK\x03\x04 a zip file") },
			wantErr: archive.ErrMalformed,
		},
		{
			name:    "gzip of not a tar",
			data:    func(tb testing.TB) []byte { return gzBytes(tb, bytes.Repeat([]byte("hello"), 200)) },
			wantErr: archive.ErrMalformed,
		},
		{
			name: "truncated",
			data: func(tb testing.TB) []byte {
				b := tarGz(tb, file("a", strings.Repeat("abcdefgh", 4096)))
				return b[:len(b)/2]
			},
			wantErr: archive.ErrMalformed,
		},
		{
			name: "truncated file body",
			data: func(tb testing.TB) []byte {
				raw := tarRaw(tb, file("a", strings.Repeat("x", 2048)))
				return gzBytes(tb, raw[:1024])
			},
			wantErr: archive.ErrMalformed,
		},
		{
			name: "bad checksum",
			data: func(tb testing.TB) []byte {
				b := tarGz(tb, file("a", "x"))
				b[len(b)-8] ^= 0xff // CRC-32 in the gzip trailer
				return b
			},
			wantErr: archive.ErrMalformed,
		},
		{
			name:    "empty input",
			data:    func(tb testing.TB) []byte { return nil },
			wantErr: archive.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			st, err := archive.ExtractTarGz(bytes.NewReader(tt.data(t)), dst, tt.lim)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ExtractTarGz() error = %v, want %v", err, tt.wantErr)
				}
				nothingOutside(t, parent)
				return
			}
			if err != nil {
				t.Fatalf("ExtractTarGz() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, tree(t, dst)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStats, st); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
}

// tarRaw is an uncompressed tar of es.
func tarRaw(tb testing.TB, es ...ent) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tarGz(tb, es...)))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// nothingOutside checks that parent holds nothing but dst.
func nothingOutside(tb testing.TB, parent string) {
	tb.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "dst" {
			tb.Errorf("%s written outside the destination", e.Name())
		}
	}
}

func TestExtractTarGzDestinationNotEmpty(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := archive.ExtractTarGz(bytes.NewReader(tarGz(t, file("a", "1"))), dst, archive.Limits{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("ExtractTarGz() error = %v, want not empty", err)
	}
}

func TestCreateTarGzRoundTrip(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>hi</h1>", 0o644)
	write("bin/run", "#!/bin/sh\n", 0o755)
	write("deep/er/x.txt", "x", 0o600)
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../index.html", filepath.Join(src, "deep", "link")); err != nil {
		t.Fatal(err)
	}

	var a, b bytes.Buffer
	if err := archive.CreateTarGz(&a, src); err != nil {
		t.Fatal(err)
	}
	if err := archive.CreateTarGz(&b, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("CreateTarGz is not deterministic")
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := archive.ExtractTarGz(&a, dst, archive.Limits{}); err != nil {
		t.Fatal(err)
	}
	want := tree(t, src)
	want["deep/er/x.txt"] = "f:x:-rw-r--r--" // modes normalize to 0644/0755
	if diff := cmp.Diff(want, tree(t, dst)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
