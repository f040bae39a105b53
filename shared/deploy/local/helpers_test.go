package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/local"
)

// waitFor bounds every wait on a condition; tests never assert durations.
const waitFor = 60 * time.Second

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one driver with a preview server in front of it.
type env struct {
	d       *local.Driver
	workDir string
	preview *httptest.Server
	logs    *syncBuffer
}

// newEnv starts a driver (closed, with its apps, at the end of the test) and a preview server.
func newEnv(tb testing.TB, cfg local.Config) *env {
	tb.Helper()
	e := &env{workDir: tb.TempDir(), logs: &syncBuffer{}}
	cfg.WorkDir = e.workDir
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := local.New(cfg)
	if err != nil {
		tb.Fatalf("local.New: %v", err)
	}
	e.d = d
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	e.preview = httptest.NewServer(d.PreviewHandler("localhost"))
	tb.Cleanup(e.preview.Close)
	return e
}

// appImage is an image directory whose start.sh execs the test app.
func appImage(tb testing.TB) string {
	tb.Helper()
	bin, err := os.Executable()
	if err != nil {
		tb.Fatalf("os.Executable: %v", err)
	}
	dir := tb.TempDir()
	script := "exec '" + strings.ReplaceAll(bin, "'", `'\''`) + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "start.sh"), []byte(script), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// appSpec runs the test app as runtime rt of tenant acme, declaring port 8000.
func appSpec(tb testing.TB, rt string) deploy.Spec {
	tb.Helper()
	return deploy.Spec{
		Tenant:    "acme",
		RuntimeID: rt,
		Image:     "file://" + appImage(tb),
		StartCmd:  "sh start.sh",
		Ports:     []int{8000},
		Env:       map[string]string{"RUNTIME_ID": rt, "RUNYARD_LOCALDEPLOY_TEST_APP": "1"},
	}
}

func service(tb testing.TB, rt string) string {
	tb.Helper()
	s, err := deploy.ServiceName(rt)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (e *env) deploy(tb testing.TB, spec deploy.Spec) deploy.Status {
	tb.Helper()
	st, err := e.d.Deploy(context.Background(), spec)
	if err != nil {
		tb.Fatalf("Deploy(%s): %v", spec.RuntimeID, err)
	}
	return st
}

func (e *env) status(tb testing.TB, svc string) deploy.Status {
	tb.Helper()
	st, err := e.d.Status(context.Background(), deploy.Cell{}, svc)
	if err != nil {
		tb.Fatalf("Status(%s): %v", svc, err)
	}
	return st
}

// waitPhase polls Status until the service reaches phase (failing on another terminal phase).
func (e *env) waitPhase(tb testing.TB, svc string, phase deploy.Phase) deploy.Status {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := e.status(tb, svc)
		if st.Phase == phase {
			return st
		}
		if st.Phase == deploy.PhaseFailed || time.Now().After(deadline) {
			logs, _ := e.d.Logs(svc)
			tb.Fatalf("%s: status %+v, want phase %s; logs:\n%s", svc, st, phase, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// response is what a preview request got.
type response struct {
	status int
	header http.Header
	body   string
}

// get sends GET path to the preview server with the given Host.
func (e *env) get(tb testing.TB, host, path string, header ...string) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.preview.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.preview.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("GET %s%s: read: %v", host, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

// getOK is get that wants a 200 and returns the body.
func (e *env) getOK(tb testing.TB, host, path string) string {
	tb.Helper()
	r := e.get(tb, host, path)
	if r.status != http.StatusOK {
		tb.Fatalf("GET %s%s: %d %s", host, path, r.status, r.body)
	}
	return r.body
}

// pid asks the app of runtime rt for its pid.
func (e *env) pid(tb testing.TB, rt string) int {
	tb.Helper()
	n, err := strconv.Atoi(e.getOK(tb, "8000-"+rt+".localhost", "/pid"))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(tb testing.TB, pid int) bool {
	tb.Helper()
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state …: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// waitGone waits until pid is no live process.
func waitGone(tb testing.TB, pid int) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for alive(tb, pid) {
		if time.Now().After(deadline) {
			tb.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
