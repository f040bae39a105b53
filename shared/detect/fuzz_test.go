package detect

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// corpusManifests returns the kept contents of files with the given base name from the corpus,
// as fuzz seeds (at most limit, in a stable order).
var corpusFiles = sync.OnceValue(func() map[string][]string {
	out := map[string][]string{}
	f, err := os.Open(filepath.Join("testdata", "cases.json.gz"))
	if err != nil {
		return out
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return out
	}
	var doc struct {
		Cases []struct {
			Files map[string]*string `json:"files"`
		} `json:"cases"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		return out
	}
	seen := map[string]bool{}
	for _, c := range doc.Cases {
		for rel, content := range c.Files {
			if content == nil || seen[*content] {
				continue
			}
			seen[*content] = true
			base := path.Base(rel)
			out[base] = append(out[base], *content)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
})

func addSeeds(f *testing.F, base string, limit int, extra ...string) {
	f.Helper()
	for _, s := range extra {
		f.Add([]byte(s))
	}
	for i, s := range corpusFiles()[base] {
		if i >= limit {
			break
		}
		f.Add([]byte(s))
	}
}

func FuzzParsePackageJSON(f *testing.F) {
	addSeeds(f, "package.json", 40, `{}`, `{"workspaces":{"packages":["a/*"]},"engines":{"node":1}}`, `{"scripts":null}`, `[]`, `null`)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePackageJSON(b)
		if err == nil && p == nil {
			t.Fatal("nil plan without error")
		}
		if p != nil {
			_ = p.dep("next")
		}
	})
}

func FuzzParsePyproject(f *testing.F) {
	addSeeds(f, "pyproject.toml", 40, "", "[project]\nname = 1\n", "[tool.poetry.dependencies]\npython = [1]\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parsePyproject(b)
	})
}

func FuzzParseGoMod(f *testing.F) {
	addSeeds(f, "go.mod", 30, "", "module x\n\ngo 1.22\ntoolchain go1.22.3\n", "go 1.x\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseGoMod(b)
	})
}

func FuzzParseGemfile(f *testing.F) {
	addSeeds(f, "Gemfile", 30, "", "ruby '3.2.1'\ngem 'rails', '~> 7'\n", "gem(\"x\")\nruby(\"~> 3.3\")")
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGemfile(b)
		if g == nil {
			t.Fatalf("nil gemfile (err %v)", err)
		}
	})
}

func FuzzParseComposer(f *testing.F) {
	addSeeds(f, "composer.json", 30, `{}`, `{"require":{"php":8}}`, `{"scripts":[1,2]}`, `"x"`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseComposer(b)
	})
}

func FuzzParsePom(f *testing.F) {
	addSeeds(f, "pom.xml", 30, "", "<project><properties><java.version>17</java.version></properties></project>", "<project><parent>")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parsePom(b)
	})
}

func FuzzCleanVersion(f *testing.F) {
	for _, s := range []string{"v18", "18.x", ">=3.11", "~> 3.2.0", "^8.1 || ^8.2", "lts/*", "python-3.11.4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = cleanVersion(s)
	})
}

// fuzzManifestNames are the files FuzzDetect writes fuzzed content to.
var fuzzManifestNames = []string{"package.json", "pyproject.toml", "go.mod", "Gemfile", "composer.json", "pom.xml", "Cargo.toml",
	"runyard.toml", "project.toml", "Procfile", "nixpacks.toml", "railpack.json", "mix.exs", ".nvmrc", ".tool-versions", "Package.swift",
	"package.json5", "deno.jsonc", "build.gradle", "requirements.txt", "Pipfile", "shard.yml", "pubspec.yaml", "app.yaml"}

// FuzzDetect runs the whole detector on a repository with one fuzzed manifest next to a main.py.
func FuzzDetect(f *testing.F) {
	f.Add(uint8(0), []byte(`{"scripts":{"start":"node x"},"workspaces":["a/*"]}`))
	f.Add(uint8(7), []byte("app_dir = \"../..\"\n"))
	f.Add(uint8(7), []byte("app_dir = \"sub\"\nport = 1\n"))
	f.Add(uint8(9), []byte("web: ruby app.rb\n"))
	f.Fuzz(func(t *testing.T, which uint8, content []byte) {
		dir := t.TempDir()
		name := fuzzManifestNames[int(which)%len(fuzzManifestNames)]
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.py"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Detect(t.Context(), dir, Options{})
		if err == nil && (p == nil || p.CacheKey == "" || p.Warnings == nil) {
			t.Fatalf("incomplete plan without error: %+v", p)
		}
	})
}
