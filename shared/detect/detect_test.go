package detect_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/detect"
)

// writeTree creates files (path -> content) under a new temporary directory and returns it.
func writeTree(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func mustDetect(tb testing.TB, dir string, opts detect.Options) *detect.Plan {
	tb.Helper()
	p, err := detect.Detect(context.Background(), dir, opts)
	if err != nil {
		tb.Fatalf("Detect(%s): %v", dir, err)
	}
	return p
}

func s(v string) *string { return &v }

// summary is the part of a plan the table tests compare.
type summary struct {
	Provider, Language, Strategy, AppDir string
	Framework, PackageManager, Runtime   *string
	RuntimeSource, Start                 *string
}

func summarize(p *detect.Plan) summary {
	return summary{Provider: p.Provider, Language: p.Language, Strategy: p.Strategy, AppDir: p.AppDir, Framework: p.Framework,
		PackageManager: p.PackageManager, Runtime: p.RuntimeVersion, RuntimeSource: p.RuntimeVersionSource, Start: p.StartCmd}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  summary
	}{
		{
			name:  "node with nvmrc and start script",
			files: map[string]string{"package.json": `{"scripts":{"start":"node server.js"}}`, "package-lock.json": "{}", ".nvmrc": "v20.11.1\n"},
			want: summary{Provider: "node", Language: "javascript", Strategy: "buildpacks", AppDir: ".", PackageManager: s("npm"),
				Runtime: s("20.11.1"), RuntimeSource: s(".nvmrc"), Start: s("npm run start")},
		},
		{
			name:  "dockerfile wins the strategy",
			files: map[string]string{"Dockerfile": "FROM scratch\n", "go.mod": "module x\n\ngo 1.22\n", "main.go": "package main\n"},
			want: summary{Provider: "go", Language: "go", Strategy: "dockerfile", AppDir: ".", PackageManager: s("gomod"),
				Runtime: s("1.22"), RuntimeSource: s("go.mod go directive"), Start: s("./out")},
		},
		{
			name:  "dockerfile only",
			files: map[string]string{"Containerfile": "FROM scratch\n"},
			want:  summary{Provider: "docker", Language: "dockerfile", Strategy: "dockerfile", AppDir: "."},
		},
		{
			name:  "compose",
			files: map[string]string{"compose.yaml": "services: {}\n", "requirements.txt": "flask\n", "app.py": ""},
			want: summary{Provider: "python", Language: "python", Strategy: "compose", AppDir: ".", Framework: s("flask"), PackageManager: s("pip"),
				Runtime: s("3.13"), RuntimeSource: s("default"), Start: s("python app.py")},
		},
		{
			name:  "runyard.toml overrides",
			files: map[string]string{"runyard.toml": "start_cmd = \"./run\"\nruntime_version = \"3.12\"\n", "requirements.txt": "x\n", "main.py": ""},
			want: summary{Provider: "python", Language: "python", Strategy: "buildpacks", AppDir: ".", PackageManager: s("pip"),
				Runtime: s("3.12"), RuntimeSource: s("runyard.toml"), Start: s("./run")},
		},
		{
			name:  "runyard.toml supplies the missing start command",
			files: map[string]string{"runyard.toml": "start_cmd = \"bundle exec ruby main.rb\"\n", "Gemfile": "source 'https://rubygems.org'\n", "main.rb": ""},
			want: summary{Provider: "ruby", Language: "ruby", Strategy: "buildpacks", AppDir: ".", PackageManager: s("bundler"),
				Runtime: s("3.4"), RuntimeSource: s("default"), Start: s("bundle exec ruby main.rb")},
		},
		{
			name:  "project.toml env entrypoint",
			files: map[string]string{"project.toml": "[[io.buildpacks.build.env]]\nname = \"GOOGLE_ENTRYPOINT\"\nvalue = \"python custom.py\"\n", "requirements.txt": "x\n", "custom.py": ""},
			want: summary{Provider: "python", Language: "python", Strategy: "buildpacks", AppDir: ".", PackageManager: s("pip"),
				Runtime: s("3.13"), RuntimeSource: s("default"), Start: s("python custom.py")},
		},
		{
			name:  "monorepo with one app",
			files: map[string]string{"README.md": "", "services/api/go.mod": "module api\n\ngo 1.23.2\n", "services/api/main.go": "package main\n"},
			want: summary{Provider: "go", Language: "go", Strategy: "buildpacks", AppDir: "services/api", PackageManager: s("gomod"),
				Runtime: s("1.23.2"), RuntimeSource: s("go.mod go directive"), Start: s("./out")},
		},
		{
			name:  "env start command",
			files: map[string]string{"Gemfile": "gem 'sinatra'\n", "main.rb": ""},
			env:   map[string]string{"NIXPACKS_START_CMD": "ruby main.rb"},
			want: summary{Provider: "ruby", Language: "ruby", Strategy: "buildpacks", AppDir: ".", PackageManager: s("bundler"),
				Runtime: s("3.4"), RuntimeSource: s("default"), Start: s("ruby main.rb")},
		},
		{
			name:  "static site",
			files: map[string]string{"index.html": "<html></html>"},
			want: summary{Provider: "staticfile", Language: "static", Strategy: "static", AppDir: ".",
				Start: s("caddy run --config Caddyfile --adapter caddyfile 2>&1")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustDetect(t, writeTree(t, tc.files), detect.Options{Env: tc.env})
			if diff := cmp.Diff(tc.want, summarize(p)); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		wantIs  error
		wantErr string
	}{
		{name: "empty", files: map[string]string{"README.md": "hi"}, wantIs: detect.ErrNotDetected, wantErr: "looked for package.json"},
		{name: "python without entrypoint", files: map[string]string{"requirements.txt": "x", "custom.py": ""}, wantIs: detect.ErrNoStartCommand, wantErr: "main.py"},
		{name: "ruby without config.ru", files: map[string]string{"Gemfile": "", "main.rb": ""}, wantIs: detect.ErrNoStartCommand, wantErr: "config.ru"},
		{name: "two go mains", files: map[string]string{"go.mod": "module x\n", "cmd/a/main.go": "package main", "cmd/b/main.go": "package main"}, wantIs: detect.ErrNoStartCommand, wantErr: "cmd/a, cmd/b"},
		{name: "several app candidates", files: map[string]string{"a/package.json": "{}", "b/go.mod": "module b\n"}, wantIs: detect.ErrNotDetected, wantErr: "a, b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := detect.Detect(context.Background(), writeTree(t, tc.files), detect.Options{})
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantErr) || p != nil {
				t.Errorf("Detect = %v, %v; want nil and an error wrapping %v containing %q", p, err, tc.wantIs, tc.wantErr)
			}
		})
	}
	if _, err := detect.Detect(context.Background(), filepath.Join(t.TempDir(), "missing"), detect.Options{}); err == nil {
		t.Error("Detect(missing dir) succeeded")
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"package.json":      `{"scripts":{"start":"node index.js"},"dependencies":{"express":"^4"}}`,
		"package-lock.json": `{"lockfileVersion":3}`,
		"index.js":          "console.log(1)",
	}
	dir := writeTree(t, files)
	base := mustDetect(t, dir, detect.Options{})
	if !strings.HasPrefix(base.CacheKey, "sha256:") {
		t.Fatalf("cache key %q lacks the sha256: prefix", base.CacheKey)
	}
	if diff := cmp.Diff([]string{"package-lock.json", "package.json"}, base.CacheInputs); diff != "" {
		t.Errorf("cache inputs (-want +got):\n%s", diff)
	}
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.js", "console.log(2)")
	write("other.js", "new source file")
	if got := mustDetect(t, dir, detect.Options{}).CacheKey; got != base.CacheKey {
		t.Errorf("changing source changed the cache key: %s -> %s", base.CacheKey, got)
	}
	write("package-lock.json", `{"lockfileVersion":3,"packages":{}}`)
	if got := mustDetect(t, dir, detect.Options{}).CacheKey; got == base.CacheKey {
		t.Error("changing the lockfile kept the cache key")
	}
	// A second repository with the same lockfiles shares the key.
	if got := mustDetect(t, writeTree(t, files), detect.Options{}).CacheKey; got != base.CacheKey {
		t.Errorf("same lockfiles, different key: %s vs %s", got, base.CacheKey)
	}
}

func TestBoundedAndMalformed(t *testing.T) {
	t.Parallel()
	t.Run("malformed manifest warns", func(t *testing.T) {
		t.Parallel()
		p := mustDetect(t, writeTree(t, map[string]string{"package.json": "{not json", "index.js": ""}), detect.Options{})
		if len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "package.json") {
			t.Errorf("warnings = %q, want one about package.json", p.Warnings)
		}
	})
	t.Run("oversize manifest warns", func(t *testing.T) {
		t.Parallel()
		big := `{"scripts":{"start":"node a.js"},"x":"` + strings.Repeat("a", 4096) + `"}`
		p, err := detect.Detect(context.Background(), writeTree(t, map[string]string{"package.json": big, "index.html": ""}),
			detect.Options{Limits: detect.Limits{MaxManifestBytes: 1024}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(p.Warnings, "\n"), "manifest limit") {
			t.Errorf("warnings = %q, want the manifest limit", p.Warnings)
		}
	})
	t.Run("symlink out of the repo is not followed", func(t *testing.T) {
		t.Parallel()
		outside := writeTree(t, map[string]string{"package.json": `{"scripts":{"start":"node x"}}`})
		dir := writeTree(t, map[string]string{"README.md": ""})
		if err := os.Symlink(filepath.Join(outside, "package.json"), filepath.Join(dir, "package.json")); err != nil {
			t.Skip("symlinks unsupported:", err)
		}
		_, err := detect.Detect(context.Background(), dir, detect.Options{})
		if !errors.Is(err, detect.ErrNotDetected) {
			t.Errorf("Detect followed a symlink out of the repo: err = %v", err)
		}
	})
	t.Run("entry limit", func(t *testing.T) {
		t.Parallel()
		files := map[string]string{"go.mod": "module x\n", "main.go": "package main\n"}
		for i := range 50 {
			files[filepath.Join("src", strings.Repeat("d", i%5+1), "f"+string(rune('a'+i%26))+".txt")] = ""
		}
		p, err := detect.Detect(context.Background(), writeTree(t, files), detect.Options{Limits: detect.Limits{MaxEntries: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Provider != "go" || !strings.Contains(strings.Join(p.Warnings, "\n"), "limit") {
			t.Errorf("provider %q warnings %q; want go and a limit warning", p.Provider, p.Warnings)
		}
	})
}

func TestWorkspaceCandidates(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"package.json":          `{"workspaces":["apps/*","packages/ui"],"scripts":{"start":"turbo run start"}}`,
		"apps/web/package.json": `{}`, "apps/api/package.json": `{}`, "apps/docs/README.md": "",
		"packages/ui/package.json": `{}`,
	})
	p := mustDetect(t, dir, detect.Options{})
	if diff := cmp.Diff([]string{"apps/api", "apps/web", "packages/ui"}, p.Candidates); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	if p.AppDir != "." {
		t.Errorf("app_dir = %q, want the workspace root", p.AppDir)
	}
}

func TestPlanJSONFields(t *testing.T) {
	t.Parallel()
	p := mustDetect(t, writeTree(t, map[string]string{"go.mod": "module x\n", "main.go": "package main\n"}), detect.Options{})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"provider", "language", "framework", "package_manager", "runtime_version", "runtime_version_source",
		"install_cmd", "build_cmd", "start_cmd", "port", "strategy", "strategy_reason", "app_dir", "cache_key", "warnings"} {
		if _, ok := m[k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	if m["framework"] != nil || m["port"] != nil {
		t.Errorf("absent values must be null: framework=%v port=%v", m["framework"], m["port"])
	}
}
