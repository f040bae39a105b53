package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentPy stands in for the OpenHands agent server: it answers /alive (and everything else).
const agentPy = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

type ohRuntime struct {
	RuntimeID     string `json:"runtime_id"`
	SessionID     string `json:"session_id"`
	URL           string `json:"url"`
	SessionAPIKey string `json:"session_api_key"`
	Status        string `json:"status"`
	PodStatus     string `json:"pod_status"`
}

// TestRuntimeAPILocalFlow drives runtimeapi as the OpenHands V0 client does (start, poll until
// ready, pause, resume, stop, start again after stop), in local mode against the local driver
// with a tiny server standing in for the agent server.
func TestRuntimeAPILocalFlow(t *testing.T) {
	dataDir := t.TempDir()
	base, _ := startDev(t, dataDir, nil)
	var tok bytes.Buffer
	if code := runDevToken([]string{"--email", "oh@example.com", "--data-dir", dataDir}, &tok, io.Discard); code != 0 {
		t.Fatal("dev token")
	}
	token := strings.TrimSpace(tok.String())
	if code, body := call(t, "POST", base+"/api/v1/tenants", token, `{"id":"oh-tenant","name":"OH"}`); code != 201 {
		t.Fatalf("tenant: %d %s", code, body)
	}
	code, body := call(t, "POST", base+"/api/v1/tenants/oh-tenant/apikeys", token, `{"name":"openhands","scopes":["runtimes"]}`)
	if code != 201 {
		t.Fatalf("api key: %d %s", code, body)
	}
	var key struct{ Key string }
	_ = json.Unmarshal([]byte(body), &key)
	agent := t.TempDir()
	if err := os.WriteFile(filepath.Join(agent, "agent.py"), []byte(agentPy), 0o644); err != nil {
		t.Fatal(err)
	}
	oh := func(method, path string, in any) (int, ohRuntime, string) {
		t.Helper()
		var r io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+"/runtimeapi"+path, r)
		req.Header.Set("X-API-Key", key.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out ohRuntime
		_ = json.Unmarshal(data, &out)
		return resp.StatusCode, out, string(data)
	}
	waitReady := func(sid string) ohRuntime {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			code, rt, body := oh("GET", "/sessions/"+sid, nil)
			if code == 200 && rt.PodStatus == "ready" && rt.Status == "running" {
				return rt
			}
			if time.Now().After(deadline) {
				t.Fatalf("session %s not ready: %d %s", sid, code, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if code, _, body := oh("GET", "/sessions/oh-1", nil); code != 404 || !strings.Contains(body, `"detail"`) {
		t.Fatalf("unknown session: %d %s", code, body)
	}
	start := map[string]any{"image": "local:" + agent, "command": []string{"python", "agent.py"}, "session_id": "oh-1", "resource_factor": 1}
	code, started, body := oh("POST", "/start", start)
	if code != 200 || started.RuntimeID == "" || started.SessionAPIKey == "" || started.SessionAPIKey == key.Key {
		t.Fatalf("start: %d %s", code, body)
	}
	rt := waitReady("oh-1")
	if rt.RuntimeID != started.RuntimeID {
		t.Fatalf("runtime changed: %s → %s", started.RuntimeID, rt.RuntimeID)
	}
	if code, rt, body := oh("POST", "/pause", map[string]string{"runtime_id": rt.RuntimeID}); code != 200 || rt.Status != "paused" {
		t.Fatalf("pause: %d %s", code, body)
	}
	if code, _, body := oh("POST", "/resume", map[string]string{"runtime_id": rt.RuntimeID}); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	waitReady("oh-1")
	if code, rt, body := oh("POST", "/stop", map[string]string{"runtime_id": rt.RuntimeID}); code != 200 || rt.Status != "stopped" {
		t.Fatalf("stop: %d %s", code, body)
	}
	// Starting the session again after stop makes a fresh runtime.
	if code, again, body := oh("POST", "/start", start); code != 200 || again.RuntimeID == rt.RuntimeID {
		t.Fatalf("restart after stop: %d %s", code, body)
	}
	if fresh := waitReady("oh-1"); fresh.RuntimeID == rt.RuntimeID {
		t.Errorf("the stopped runtime came back instead of a fresh one")
	}
	if code, _, body := oh("GET", "/list", nil); code != 200 || !strings.Contains(body, "oh-1") {
		t.Errorf("list: %d %s", code, body)
	}
	// The V1 app server polls by runtime id and in batches.
	fresh := waitReady("oh-1")
	if code, byID, body := oh("GET", "/runtime/"+fresh.RuntimeID, nil); code != 200 || byID.SessionID != "oh-1" {
		t.Errorf("runtime by id: %d %s", code, body)
	}
	if code, _, body := oh("GET", "/sessions/batch?ids=oh-1&ids=nope", nil); code != 200 || !strings.Contains(body, fresh.RuntimeID) {
		t.Errorf("batch: %d %s", code, body)
	}
	// The agent SDK sends the command as one string.
	sdk := map[string]any{"image": "local:" + agent, "command": "python agent.py", "session_id": "sdk-1"}
	if code, _, body := oh("POST", "/start", sdk); code != 200 {
		t.Fatalf("sdk start: %d %s", code, body)
	}
	waitReady("sdk-1")
}
