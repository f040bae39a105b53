package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// botPy fills the corpus app's elided bot.py with a tiny server on $PORT.
const botPy = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from runyard " + os.environ.get("RUNTIME_ID", "").encode())
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// getPreview fetches a preview URL through the dev server (the URL's host names the runtime).
func getPreview(t *testing.T, base, preview string) (int, string) {
	t.Helper()
	u, err := url.Parse(preview)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+u.Path, nil)
	req.Host = u.Host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestUpRunsACorpusApp: with the local stack going, runyard up creates the user's tenant and a
// runtime from a folder, which serves through the preview proxy; pause, resume and stop work.
func TestUpRunsACorpusApp(t *testing.T) {
	dataDir := t.TempDir()
	base, _ := startDev(t, dataDir, nil)
	dir := t.TempDir()
	writeCorpusCase(t, "railpack:python-bot-only", dir)
	if err := os.WriteFile(filepath.Join(dir, "bot.py"), []byte(botPy), 0o644); err != nil {
		t.Fatal(err)
	}
	var tok bytes.Buffer
	if code := runDevToken([]string{"--email", "ada@example.com", "--data-dir", dataDir}, &tok, io.Discard); code != 0 {
		t.Fatal("dev token")
	}
	t.Setenv("RUNYARD_TOKEN", strings.TrimSpace(tok.String()))
	t.Setenv("RUNYARD_API", base+"/api")
	var out, errOut bytes.Buffer
	if code := runUp(context.Background(), []string{"--timeout", "2m", dir}, &out, &errOut); code != 0 {
		t.Fatalf("runyard up exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	t.Log(out.String())
	var preview string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, after, ok := strings.Cut(line, "preview 8000: "); ok {
			preview = strings.TrimSpace(after)
		}
	}
	if !strings.HasPrefix(preview, "http://8000-") || !strings.Contains(out.String(), "created tenant ada-dev") {
		t.Fatalf("runyard up printed:\n%s", out.String())
	}
	if code, body := getPreview(t, base, preview); code != 200 || !strings.HasPrefix(body, "hello from runyard ") {
		t.Fatalf("preview: %d %q", code, body)
	}
	id := strings.TrimPrefix(strings.Split(strings.TrimPrefix(preview, "http://"), ".")[0], "8000-")
	token := os.Getenv("RUNYARD_TOKEN")
	rt := base + "/api/v1/tenants/ada-dev/runtimes/" + id
	if code, body := call(t, "POST", rt+":pause", token, ""); code != 202 || !strings.Contains(body, `"state":"paused"`) {
		t.Fatalf("pause: %d %s", code, body)
	}
	if code, _ := getPreview(t, base, preview); code != 503 {
		t.Errorf("paused preview answered %d, want 503", code)
	}
	if code, body := call(t, "POST", rt+":resume", token, ""); code != 202 {
		t.Fatalf("resume: %d %s", code, body)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, body := call(t, "GET", rt, token, "")
		if strings.Contains(body, `"state":"running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not running again after resume: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := getPreview(t, base, preview); code != 200 || !strings.HasPrefix(body, "hello from runyard") {
		t.Errorf("preview after resume: %d %q", code, body)
	}
	if code, body := call(t, "GET", rt+"/logs", token, ""); code != 200 {
		t.Errorf("logs: %d %s", code, body)
	}
	if code, body := call(t, "POST", rt+":stop", token, ""); code != 202 || !strings.Contains(body, `"state":"stopped"`) {
		t.Fatalf("stop: %d %s", code, body)
	}
	if code, _ := getPreview(t, base, preview); code == 200 {
		t.Error("a stopped runtime still serves its preview")
	}
}

// writeCorpusCase writes one example app of the detection corpus into dir.
func writeCorpusCase(t *testing.T, id, dir string) {
	t.Helper()
	data := corpusArchive(t, id)
	if err := extractInto(data, dir); err != nil {
		t.Fatal(err)
	}
}
