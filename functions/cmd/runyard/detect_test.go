package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeRepo(tb testing.TB, files map[string]string) string {
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

func TestRunDetect(t *testing.T) {
	t.Parallel()
	node := writeRepo(t, map[string]string{"package.json": `{"scripts":{"start":"node index.js"}}`, "index.js": ""})
	empty := writeRepo(t, map[string]string{"README.md": "nothing here"})
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "json", args: []string{node}, wantCode: 0, wantStdout: `"start_cmd": "npm run start"`},
		{name: "human", args: []string{"--human", node}, wantCode: 0, wantStdout: "start:    npm run start"},
		{name: "not detected", args: []string{empty}, wantCode: 2, wantStderr: "no supported stack detected"},
		{name: "bad path", args: []string{filepath.Join(empty, "missing")}, wantCode: 2, wantStderr: "runyard detect:"},
		{name: "no path", args: nil, wantCode: 2, wantStderr: "usage: runyard detect"},
		{name: "bad flag", args: []string{"--nope", node}, wantCode: 2, wantStderr: "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := runDetect(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
			if tc.wantCode == 2 && tc.name != "no path" && tc.name != "bad flag" && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("stderr has more than one line: %q", stderr.String())
			}
		})
	}
}

func TestRunDetectJSONShape(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, map[string]string{"go.mod": "module example.com/x\n\ngo 1.24\n", "main.go": "package main\n"})
	var stdout, stderr bytes.Buffer
	if code := runDetect(context.Background(), []string{dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	want := map[string]any{
		"provider": "go", "language": "go", "framework": nil, "package_manager": "gomod", "runtime_version": "1.24",
		"runtime_version_source": "go.mod go directive", "install_cmd": "go mod download",
		"build_cmd": "go build -o out", "start_cmd": "./out", "port": nil, "strategy": "buildpacks", "app_dir": ".",
		"warnings": []any{},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"strategy_reason", "cache_key"} {
		if s, _ := got[k].(string); s == "" {
			t.Errorf("%s is empty", k)
		}
	}
}
