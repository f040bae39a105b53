package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store/firestore"
)

// notePy serves the content of $WORKSPACE/note.txt, writing it on /write.
const notePy = `import http.server, os
ws = os.environ["WORKSPACE"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        p = os.path.join(ws, "note.txt")
        if self.path.startswith("/write"):
            open(p, "w").write("kept")
        body = open(p).read() if os.path.exists(p) else "empty"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// TestSweeperPauseKeepsWorkspace: the sweeper (fed by a real sweeper-tick message) pauses an
// idle runtime; resumed, it has the same URL and the files it wrote to its workspace.
func TestSweeperPauseKeepsWorkspace(t *testing.T) {
	dataDir := t.TempDir()
	base, _ := startDev(t, dataDir, nil)
	dir := t.TempDir()
	writeCorpusCase(t, "railpack:python-bot-only", dir)
	if err := os.WriteFile(filepath.Join(dir, "bot.py"), []byte(notePy), 0o644); err != nil {
		t.Fatal(err)
	}
	var tok bytes.Buffer
	if code := runDevToken([]string{"--email", "grace@example.com", "--data-dir", dataDir}, &tok, io.Discard); code != 0 {
		t.Fatal("dev token")
	}
	token := strings.TrimSpace(tok.String())
	c := &upClient{api: base + "/api", token: token, http: httpClient()}
	rt, err := up(context.Background(), c, dir, "", 0, 2*time.Minute, io.Discard)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	preview := rt.URLs.Previews["8000"]
	if code, body := getPreview(t, base, strings.TrimSuffix(preview, "/")+"/write"); code != 200 || body != "kept" {
		t.Fatalf("write: %d %q", code, body)
	}
	// Make the tenant's idle timeout tiny, then tick the sweeper as Cloud Scheduler would.
	st, err := firestore.New(context.Background(), "dev-test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rts, err := runtime.NewService(st, []deploy.Cell{{Name: "local", Project: "dev-test", Region: "local", Limit: 50}})
	if err != nil {
		t.Fatal(err)
	}
	tenant := tenantFromEmail("grace@example.com")
	if err := rts.SetLifecycle(context.Background(), tenant, runtime.Lifecycle{IdleTimeout: time.Millisecond, ArchiveAfter: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	ps, err := pubsub.NewClient(context.Background(), "dev-test", option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := ps.Publisher(TopicSweeperTick).Publish(context.Background(), &pubsub.Message{Data: []byte("{}")}).Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		got, err := rts.Get(context.Background(), tenant, rt.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == runtime.StatePaused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper did not pause the idle runtime: %s", got.State)
		}
	}
	if code, _ := getPreview(t, base, preview); code != 503 {
		t.Errorf("paused preview: %d", code)
	}
	if err := rts.SetLifecycle(context.Background(), tenant, runtime.DefaultLifecycle); err != nil {
		t.Fatal(err)
	}
	rtURL := base + "/api/v1/tenants/" + tenant + "/runtimes/" + rt.ID
	if code, body := call(t, "POST", rtURL+":resume", token, ""); code != 202 {
		t.Fatalf("resume: %d %s", code, body)
	}
	for {
		_, body := call(t, "GET", rtURL, token, "")
		if strings.Contains(body, `"state":"running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not running after resume: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := getPreview(t, base, preview); code != 200 || body != "kept" {
		t.Errorf("after pause and resume the workspace holds %q (status %d), want the note", body, code)
	}
}
