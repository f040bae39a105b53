package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"

	archivepkg "github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/localevents"
)

// probe is a trivial event function: it fails its first delivery and records the rest.
type probe struct {
	mu       sync.Mutex
	attempts int
	got      chan event.Event
}

func (p *probe) fn(_ context.Context, e event.Event) error {
	p.mu.Lock()
	p.attempts++
	n := p.attempts
	p.mu.Unlock()
	if n == 1 {
		return errors.New("first delivery fails on purpose")
	}
	p.got <- e
	return nil
}

// startDev runs the local stack until the test ends and returns its base URL.
func startDev(t *testing.T, dataDir string, extra []eventFunction) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- runDev(ctx, devConfig{addr: "127.0.0.1:0", dataDir: dataDir, projectID: "dev-test",
			extraEvents: extra, ready: ready}, io.Discard, &out)
	}()
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("runDev ended before serving: %v", err)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatal("runDev did not become ready")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("runDev: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return base, stop
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDevStack(t *testing.T) {
	dataDir := t.TempDir()
	p := &probe{got: make(chan event.Event, 4)}
	base, stop := startDev(t, dataDir, []eventFunction{{name: "probe", topic: "probe-topic", build: func(context.Context, devEnv) (func(context.Context, event.Event) error, error) { return p.fn, nil }}})

	if code, body := call(t, "GET", base+"/api/healthz", "", ""); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %s", code, body)
	}
	var tok bytes.Buffer
	if code := runDevToken([]string{"--email", "Dev@Example.com", "--data-dir", dataDir}, &tok, io.Discard); code != 0 {
		t.Fatalf("dev token exit %d", code)
	}
	token := strings.TrimSpace(tok.String())
	if code, body := call(t, "POST", base+"/api/v1/tenants", token, `{"id":"local","name":"Local"}`); code != 201 {
		t.Fatalf("create tenant: %d %s", code, body)
	}
	if code, body := call(t, "PUT", base+"/api/v1/tenants/local/secrets/GIT_TOKEN", token, `{"value":"ghp-local-secret"}`); code != 201 || strings.Contains(body, "ghp-local-secret") {
		t.Fatalf("put secret: %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/nothing", "", ""); code != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("unknown function: %d %s", code, body)
	}

	// A message on the topic reaches the event function as Eventarc would send it, and a
	// failed delivery is retried.
	ps, err := pubsub.NewClient(context.Background(), "dev-test", option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	res := ps.Publisher("probe-topic").Publish(context.Background(), &pubsub.Message{Data: []byte(`{"hello":"world"}`), Attributes: map[string]string{"k": "v"}})
	if _, err := res.Get(context.Background()); err != nil {
		t.Fatalf("publish: %v", err)
	}
	select {
	case e := <-p.got:
		if e.Type() != "google.cloud.pubsub.topic.v1.messagePublished" || e.Source() != "//pubsub.googleapis.com/projects/dev-test/topics/probe-topic" {
			t.Errorf("event type %q source %q", e.Type(), e.Source())
		}
		var d localevents.MessagePublishedData
		if err := json.Unmarshal(e.Data(), &d); err != nil || string(d.Message.Data) != `{"hello":"world"}` || d.Message.Attributes["k"] != "v" {
			t.Errorf("event data %s (%v)", e.Data(), err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("event not delivered")
	}
	p.mu.Lock()
	if p.attempts != 2 {
		t.Errorf("attempts = %d, want 2 (one failure, one redelivery)", p.attempts)
	}
	p.mu.Unlock()

	// A sample app from the detection corpus builds end to end: upload → detect → local
	// builder → cloud-builds notification → buildevents → record; the second upload is cached.
	archive := corpusArchive(t, "railpack:shell-script")
	code, body := upload(t, base+"/api/v1/tenants/local/builds", token, archive)
	if code != 202 {
		t.Fatalf("upload build: %d %s", code, body)
	}
	var b struct {
		ID, Status, Digest, Image string
		CacheKey                  string `json:"cache_key"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for b.Status != "success" {
		if b.Status == "failure" || b.Status == "timeout" || b.Status == "cancelled" || time.Now().After(deadline) {
			t.Fatalf("local build ended %q: %s", b.Status, body)
		}
		time.Sleep(200 * time.Millisecond)
		_, body = call(t, "GET", base+"/api/v1/tenants/local/builds/"+b.ID, token, "")
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(b.Digest, "sha256:") || !strings.HasPrefix(b.Image, "file://") || b.CacheKey == "" {
		t.Errorf("finished build %s", body)
	}
	code, body = upload(t, base+"/api/v1/tenants/local/builds", token, archive)
	if code != 200 || !strings.Contains(body, `"cached":true`) || !strings.Contains(body, b.Digest) {
		t.Errorf("second upload: %d %s", code, body)
	}

	// A restart with the same data directory keeps the tenant.
	stop()
	base, _ = startDev(t, dataDir, nil)
	if code, body := call(t, "GET", base+"/api/v1/tenants/local", token, ""); code != 200 || !strings.Contains(body, `"Local"`) {
		t.Fatalf("tenant after restart: %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/api/v1/tenants/local/secrets/GIT_TOKEN", token, ""); code != 200 || !strings.Contains(body, `"version":"1"`) {
		t.Fatalf("secret after restart: %d %s", code, body)
	}
}

func TestDevRefusesCloudAndNonLoopback(t *testing.T) {
	if err := loopback("0.0.0.0:8080"); err == nil {
		t.Error("0.0.0.0 accepted")
	}
	if err := loopback("127.0.0.1:0"); err != nil {
		t.Error(err)
	}
	t.Setenv("K_SERVICE", "api")
	if err := runDev(context.Background(), devConfig{addr: "127.0.0.1:0", dataDir: t.TempDir()}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "K_SERVICE") {
		t.Errorf("runDev on Cloud Run: %v", err)
	}
	var out bytes.Buffer
	if code := runDevToken([]string{"--email", "a@b.test", "--data-dir", t.TempDir()}, &out, io.Discard); code == 0 || out.Len() > 0 {
		t.Errorf("dev token on Cloud Run: exit %d, printed %q", code, out.String())
	}
}

// corpusArchive returns a .tar.gz of one example app of the detection corpus.
func corpusArchive(t *testing.T, id string) []byte {
	t.Helper()
	f, err := os.Open("../../../shared/detect/testdata/cases.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			ID       string             `json:"id"`
			Files    map[string]*string `json:"files"`
			Snippets map[string]string  `json:"snippets"`
		} `json:"cases"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range doc.Cases {
		if c.ID != id {
			continue
		}
		for rel, content := range c.Files {
			data := []byte(c.Snippets[rel])
			if content != nil {
				data = []byte(*content)
			}
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := archivepkg.CreateTarGz(&buf, dir); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	t.Fatalf("no corpus case %s", id)
	return nil
}

func upload(t *testing.T, url, token string, archive []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func extractInto(tgz []byte, dir string) error {
	_, err := archivepkg.ExtractTarGz(bytes.NewReader(tgz), dir, archivepkg.Limits{})
	return err
}
