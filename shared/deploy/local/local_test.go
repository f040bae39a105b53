package local_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/local"
	"github.com/runyard/runyard/shared/secrets"
	secretslocal "github.com/runyard/runyard/shared/secrets/local"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     local.Config
		wantErr string
	}{
		{name: "ok", cfg: local.Config{WorkDir: t.TempDir()}},
		{name: "no work dir", cfg: local.Config{}, wantErr: "WorkDir is required"},
		{name: "negative stop timeout", cfg: local.Config{WorkDir: t.TempDir(), StopTimeout: -time.Second}, wantErr: "StopTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := local.New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestLifecycle: deploy, ready, preview, pause, resume, delete — one runtime end to end.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	ctx := context.Background()
	spec := appSpec(t, "rt1")
	svc := service(t, "rt1")

	st := e.deploy(t, spec)
	if st.Phase != deploy.PhaseDeploying {
		t.Errorf("Deploy: phase %s, want deploying", st.Phase)
	}
	u, err := url.Parse(st.URL)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Fatalf("Deploy: URL %q, want http://127.0.0.1:PORT", st.URL)
	}
	ready := e.waitPhase(t, svc, deploy.PhaseReady)
	if diff := cmp.Diff(deploy.Status{Phase: deploy.PhaseReady, URL: st.URL}, ready); diff != "" {
		t.Errorf("ready status (-want +got):\n%s", diff)
	}

	// Every routed port reaches the app; the app sees the preview host.
	for _, host := range []string{
		"8000-rt1.localhost:8080", "8000-rt1.localhost", "8000-RT1.LOCALHOST:8080",
		"rt1.localhost:8080", "12000-rt1.localhost", "12001-rt1.localhost", u.Port() + "-rt1.localhost",
	} {
		if got := e.getOK(t, host, "/"); got != "hello rt1" {
			t.Errorf("GET %s/: %q, want %q", host, got, "hello rt1")
		}
	}
	if got := e.getOK(t, "8000-rt1.localhost:8080", "/host"); got != "8000-rt1.localhost:8080" {
		t.Errorf("the app saw Host %q", got)
	}
	r := e.get(t, "8000-rt1.localhost:8080", "/", "X-Echo", "abc")
	if r.header.Get("X-Echo") != "abc" {
		t.Errorf("X-Echo: %q, want abc", r.header.Get("X-Echo"))
	}

	// Environment, working directory.
	image := strings.TrimPrefix(spec.Image, "file://")
	for _, tc := range []struct{ name, want string }{
		{"PORT", u.Port()},
		{"HOST", "127.0.0.1"},
		{"HOME", filepath.Join(e.workDir, "home", "acme")},
		{"PATH", os.Getenv("PATH")},
		{"RUNTIME_ID", "rt1"},
		{"WORKSPACE", local.WorkspaceDir(e.workDir, "acme", "rt1")},
	} {
		if got := e.getOK(t, "8000-rt1.localhost", "/env?name="+tc.name); got != tc.want {
			t.Errorf("app env %s = %q, want %q", tc.name, got, tc.want)
		}
	}
	allowed := []string{"HOME", "HOST", "PATH", "PORT", "VSCODE_PORT", "RUNTIME_ID", "RUNTIME_URL", "WORKSPACE", "RUNYARD_LOCALDEPLOY_TEST_APP", "PWD", "OLDPWD", "SHLVL", "_"}
	for name := range strings.SplitSeq(e.getOK(t, "8000-rt1.localhost", "/environ"), "\n") {
		if !slices.Contains(allowed, name) {
			t.Errorf("the app's environment has %s, which the driver does not set", name)
		}
	}
	if got := e.getOK(t, "8000-rt1.localhost", "/cwd"); !sameDir(t, got, image) {
		t.Errorf("app cwd %q, want the image directory %q", got, image)
	}

	// Pause: the process is gone, previews answer 503.
	pid := e.pid(t, "rt1")
	if err := e.d.Pause(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	waitGone(t, pid)
	if diff := cmp.Diff(deploy.Status{Phase: deploy.PhasePaused, URL: st.URL}, e.status(t, svc)); diff != "" {
		t.Errorf("paused status (-want +got):\n%s", diff)
	}
	r = e.get(t, "8000-rt1.localhost:8080", "/")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "5" || !strings.Contains(r.body, `"code":"runtime_paused"`) {
		t.Errorf("paused preview: %d Retry-After=%q %s, want 503 Retry-After=5 runtime_paused", r.status, r.header.Get("Retry-After"), r.body)
	}
	if err := e.d.Pause(ctx, deploy.Cell{}, svc); err != nil {
		t.Errorf("Pause again: %v", err)
	}

	// Resume: same URL, a new process.
	if err := e.d.Resume(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if got := e.waitPhase(t, svc, deploy.PhaseReady); got.URL != st.URL {
		t.Errorf("resumed URL %q, want %q", got.URL, st.URL)
	}
	if got := e.getOK(t, "8000-rt1.localhost:8080", "/"); got != "hello rt1" {
		t.Errorf("resumed GET: %q", got)
	}
	if e.pid(t, "rt1") == pid {
		t.Errorf("resumed app has the old pid %d", pid)
	}
	if err := e.d.Resume(ctx, deploy.Cell{}, svc); err != nil {
		t.Errorf("Resume a running service: %v", err)
	}

	// Delete: missing, 404, forgotten; deleting again is fine.
	pid = e.pid(t, "rt1")
	if err := e.d.Delete(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitGone(t, pid)
	if diff := cmp.Diff(deploy.Status{Phase: deploy.PhaseMissing}, e.status(t, svc)); diff != "" {
		t.Errorf("deleted status (-want +got):\n%s", diff)
	}
	r = e.get(t, "8000-rt1.localhost:8080", "/")
	if r.status != http.StatusNotFound || !strings.Contains(r.body, `"code":"runtime_not_found"`) {
		t.Errorf("deleted preview: %d %s, want 404 runtime_not_found", r.status, r.body)
	}
	if _, err := e.d.Logs(svc); !errors.Is(err, deploy.ErrNotFound) {
		t.Errorf("Logs after Delete: %v, want ErrNotFound", err)
	}
	if err := e.d.Delete(ctx, deploy.Cell{}, svc); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	for name, err := range map[string]error{
		"Pause":  e.d.Pause(ctx, deploy.Cell{}, svc),
		"Resume": e.d.Resume(ctx, deploy.Cell{}, svc),
	} {
		if !errors.Is(err, deploy.ErrNotFound) {
			t.Errorf("%s after Delete: %v, want ErrNotFound", name, err)
		}
	}
	// The output file stays.
	if _, err := os.Stat(filepath.Join(e.workDir, svc, local.LogFile)); err != nil {
		t.Errorf("output file: %v", err)
	}
}

func sameDir(tb testing.TB, a, b string) bool {
	tb.Helper()
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func TestFailingStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	spec := appSpec(t, "bad")
	spec.StartCmd = "echo starting; echo boom >&2; exit 3"
	svc := service(t, "bad")

	e.deploy(t, spec)
	st := e.waitFailed(t, svc)
	for _, want := range []string{"exit status 3", "boom", "starting"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("Reason %q lacks %q", st.Reason, want)
		}
	}
	r := e.get(t, "8000-bad.localhost", "/")
	if r.status != http.StatusBadGateway || !strings.Contains(r.body, `"code":"runtime_failed"`) {
		t.Errorf("failed preview: %d %s, want 502 runtime_failed", r.status, r.body)
	}

	// Deploying a fixed spec restarts the failed service.
	e.deploy(t, appSpec(t, "bad"))
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-bad.localhost", "/"); got != "hello bad" {
		t.Errorf("GET after redeploy: %q", got)
	}
}

// waitFailed polls Status until the service failed.
func (e *env) waitFailed(tb testing.TB, svc string) deploy.Status {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := e.status(tb, svc)
		if st.Phase == deploy.PhaseFailed {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: status %+v, want failed", svc, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeployInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		edit    func(*deploy.Spec)
		wantErr error
	}{
		{"registry image", func(s *deploy.Spec) { s.Image = "europe-docker.pkg.dev/p/r/i@sha256:abc" }, deploy.ErrInvalidImage},
		{"relative path", func(s *deploy.Spec) { s.Image = "file://images/acme/b1" }, deploy.ErrInvalidImage},
		{"no image", func(s *deploy.Spec) { s.Image = "" }, deploy.ErrInvalidImage},
		{"missing directory", func(s *deploy.Spec) { s.Image = "file:///no/such/dir" }, deploy.ErrInvalidImage},
		{"not a directory", func(s *deploy.Spec) { s.Image = "file://" + file }, deploy.ErrInvalidImage},
		{"bad runtime id", func(s *deploy.Spec) { s.RuntimeID = "Bad_ID" }, deploy.ErrInvalid},
		{"runtime id starting with -", func(s *deploy.Spec) { s.RuntimeID = "-x" }, deploy.ErrInvalid},
		{"other service", func(s *deploy.Spec) { s.Service = "rt-other" }, deploy.ErrInvalid},
		{"bad tenant", func(s *deploy.Spec) { s.Tenant = "../etc" }, deploy.ErrInvalid},
		{"no start command", func(s *deploy.Spec) { s.StartCmd = "" }, deploy.ErrInvalid},
		{"port out of range", func(s *deploy.Spec) { s.Ports = []int{70000} }, deploy.ErrInvalid},
		{"PORT in env", func(s *deploy.Spec) { s.Env["PORT"] = "1" }, deploy.ErrInvalid},
		{"HOST in env", func(s *deploy.Spec) { s.Env["HOST"] = "0.0.0.0" }, deploy.ErrInvalid},
		{"bad env name", func(s *deploy.Spec) { s.Env["A=B"] = "1" }, deploy.ErrInvalid},
		{"secrets without a manager", func(s *deploy.Spec) {
			s.Secrets = []deploy.SecretRef{{Env: "KEY", Tenant: "acme", Name: "KEY", Version: "latest"}}
		}, deploy.ErrInvalid},
		{"env and secret collide", func(s *deploy.Spec) {
			s.Secrets = []deploy.SecretRef{{Env: "RUNTIME_ID", Tenant: "acme", Name: "KEY", Version: "latest"}}
		}, deploy.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := appSpec(t, "inv")
			tc.edit(&spec)
			_, err := e.d.Deploy(context.Background(), spec)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Deploy: %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Cleanup(func() {
		if st := e.status(t, service(t, "inv")); st.Phase != deploy.PhaseMissing {
			t.Errorf("after invalid deploys: %+v, want missing", st)
		}
	})
}

func TestRedeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	spec := appSpec(t, "re")
	svc := service(t, "re")
	first := e.deploy(t, spec)
	e.waitPhase(t, svc, deploy.PhaseReady)
	pid := e.pid(t, "re")

	// The same spec again: nothing restarts.
	if st := e.deploy(t, spec); st.URL != first.URL || st.Phase != deploy.PhaseReady {
		t.Errorf("Deploy same spec: %+v, want ready at %s", st, first.URL)
	}
	if got := e.pid(t, "re"); got != pid {
		t.Errorf("same spec restarted the app: pid %d, was %d", got, pid)
	}

	// A new spec: restarted, same URL, new environment.
	spec.Env = map[string]string{"RUNTIME_ID": "re", "RUNYARD_LOCALDEPLOY_TEST_APP": "1", "COLOR": "blue"}
	st := e.deploy(t, spec)
	if st.URL != first.URL || st.Phase != deploy.PhaseDeploying {
		t.Errorf("Deploy new spec: %+v, want deploying at %s", st, first.URL)
	}
	waitGone(t, pid)
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-re.localhost", "/env?name=COLOR"); got != "blue" {
		t.Errorf("COLOR = %q after redeploy", got)
	}

	// The driver keeps its own copy: editing the caller's map and deploying again is a change.
	spec.Env["COLOR"] = "green"
	e.deploy(t, spec)
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-re.localhost", "/env?name=COLOR"); got != "green" {
		t.Errorf("COLOR = %q after redeploying an edited spec", got)
	}

	// Deploying a paused service starts it.
	if err := e.d.Pause(context.Background(), deploy.Cell{}, svc); err != nil {
		t.Fatal(err)
	}
	spec.Env["COLOR"] = "red"
	e.deploy(t, spec)
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-re.localhost", "/env?name=COLOR"); got != "red" {
		t.Errorf("COLOR = %q after deploying a paused service", got)
	}
}

// memSecrets is a secrets.Manager holding values in memory (Access is all the driver uses).
type memSecrets struct {
	secrets.Manager // nil: other methods panic
	values          map[string]string
	err             error
}

func (m memSecrets) Access(_ context.Context, tenant, name, version string) ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	v, ok := m.values[tenant+"/"+name+"/"+version]
	if !ok {
		return nil, secrets.ErrNotFound
	}
	return []byte(v), nil
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-VALUE-7f2a9"
	sm, err := secretslocal.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sm.Put(ctx, "acme", "API_KEY", []byte(value)); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, local.Config{Secrets: sm})
	spec := appSpec(t, "sec")
	spec.Secrets = []deploy.SecretRef{{Env: "LLM_KEY", Tenant: "acme", Name: "API_KEY", Version: "latest"}}
	svc := service(t, "sec")
	e.deploy(t, spec)
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-sec.localhost", "/env?name=LLM_KEY"); got != value {
		t.Errorf("the app sees LLM_KEY=%q, want the secret", got)
	}

	// A failing redeploy of the running service leaves it running.
	for _, tc := range []struct {
		name    string
		refs    []deploy.SecretRef
		wantErr []error
	}{
		{"other tenant", []deploy.SecretRef{{Env: "K", Tenant: "other", Name: "API_KEY", Version: "latest"}}, []error{deploy.ErrPermission}},
		{"missing secret", []deploy.SecretRef{{Env: "K", Tenant: "acme", Name: "NOPE", Version: "latest"}}, []error{deploy.ErrInvalid, secrets.ErrNotFound}},
		{"bad version", []deploy.SecretRef{{Env: "K", Tenant: "acme", Name: "API_KEY", Version: "v1"}}, []error{deploy.ErrInvalid, secrets.ErrInvalidVersion}},
	} {
		s := spec
		s.Secrets = tc.refs
		_, err := e.d.Deploy(ctx, s)
		for _, want := range tc.wantErr {
			if !errors.Is(err, want) {
				t.Errorf("%s: Deploy: %v, want %v", tc.name, err, want)
			}
		}
	}
	if st := e.status(t, svc); st.Phase != deploy.PhaseReady {
		t.Errorf("after failed redeploys: %+v, want ready", st)
	}

	// Resume reads the secret again: a rotation is picked up.
	if err := e.d.Pause(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatal(err)
	}
	const rotated = "r0tated-VALUE-c41d"
	if _, err := sm.Put(ctx, "acme", "API_KEY", []byte(rotated)); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Resume(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(t, svc, deploy.PhaseReady)
	if got := e.getOK(t, "8000-sec.localhost", "/env?name=LLM_KEY"); got != rotated {
		t.Errorf("after Resume the app sees LLM_KEY=%q, want the rotated value", got)
	}

	// Neither the logs, nor the output file, nor the driver's log, nor a status holds a value.
	logs, err := e.d.Logs(svc)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(e.workDir, svc, local.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	st := e.status(t, svc)
	for what, text := range map[string]string{
		"Logs": string(logs), "output file": string(file), "driver log": e.logs.String(), "status": st.Reason + st.URL,
	} {
		for _, v := range []string{value, rotated} {
			if strings.Contains(text, v) {
				t.Errorf("%s holds a secret value", what)
			}
		}
	}
}

func TestSecretsBackendErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		wantErr error
	}{
		{"unavailable", secrets.ErrUnavailable, deploy.ErrUnavailable},
		{"permission", secrets.ErrPermission, deploy.ErrPermission},
		{"other", errors.New("boom"), deploy.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, local.Config{Secrets: memSecrets{err: tc.err}})
			spec := appSpec(t, "sb")
			spec.Secrets = []deploy.SecretRef{{Env: "K", Name: "K", Version: "latest"}}
			_, err := e.d.Deploy(context.Background(), spec)
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, tc.err) {
				t.Fatalf("Deploy: %v, want %v wrapping %v", err, tc.wantErr, tc.err)
			}
			if st := e.status(t, service(t, "sb")); st.Phase != deploy.PhaseMissing {
				t.Errorf("status %+v, want missing", st)
			}
		})
	}
}

func TestSecretFromMemory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{Secrets: memSecrets{values: map[string]string{"acme/K/3": "v3"}}})
	spec := appSpec(t, "mem")
	spec.Secrets = []deploy.SecretRef{{Env: "K", Name: "K", Version: "3"}} // Tenant defaults to the spec's
	e.deploy(t, spec)
	e.waitPhase(t, service(t, "mem"), deploy.PhaseReady)
	if got := e.getOK(t, "8000-mem.localhost", "/env?name=K"); got != "v3" {
		t.Errorf("K = %q, want v3", got)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	svc := service(t, "logs")
	e.deploy(t, appSpec(t, "logs"))
	e.waitPhase(t, svc, deploy.PhaseReady)
	// The app prints before it serves, but its output travels through a pipe: wait for it.
	deadline := time.Now().Add(waitFor)
	var logs []byte
	for {
		var err error
		if logs, err = e.d.Logs(svc); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if strings.Contains(string(logs), "app says hi on stderr") && strings.Contains(string(logs), "app listening on") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Logs lack the app's stdout and stderr:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(logs), "runyard: $ sh start.sh") {
		t.Errorf("Logs lack the start line:\n%s", logs)
	}
	file, err := os.ReadFile(filepath.Join(e.workDir, svc, local.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(file), string(logs)) {
		t.Errorf("output file %q does not start with the logs %q", file, logs)
	}
	if _, err := e.d.Logs("rt-nosuch"); !errors.Is(err, deploy.ErrNotFound) {
		t.Errorf("Logs(unknown): %v, want ErrNotFound", err)
	}
}

// TestStopEscalates: an app that ignores SIGTERM, and a child it leaves in the background, are
// killed after StopTimeout.
func TestStopEscalates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{StopTimeout: 100 * time.Millisecond})
	spec := appSpec(t, "stub")
	spec.Env["IGNORE_TERM"] = "1"
	spec.StartCmd = "sleep 300 & echo $! > child.pid; sh start.sh"
	svc := service(t, "stub")
	e.deploy(t, spec)
	e.waitPhase(t, svc, deploy.PhaseReady)
	pid := e.pid(t, "stub")
	b, err := os.ReadFile(filepath.Join(strings.TrimPrefix(spec.Image, "file://"), "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !alive(t, child) {
		t.Fatalf("background child %d is not running", child)
	}
	if err := e.d.Pause(context.Background(), deploy.Cell{}, svc); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	waitGone(t, pid)
	waitGone(t, child)
}

func TestClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	var pids []int
	for _, rt := range []string{"c1", "c2"} {
		e.deploy(t, appSpec(t, rt))
		e.waitPhase(t, service(t, rt), deploy.PhaseReady)
		pids = append(pids, e.pid(t, rt))
	}
	ctx := context.Background()
	if err := e.d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	for _, rt := range []string{"c1", "c2"} {
		if st := e.status(t, service(t, rt)); st.Phase != deploy.PhaseMissing {
			t.Errorf("%s after Close: %+v, want missing", rt, st)
		}
	}
	if _, err := e.d.Deploy(ctx, appSpec(t, "c3")); !errors.Is(err, deploy.ErrUnavailable) {
		t.Errorf("Deploy after Close: %v, want ErrUnavailable", err)
	}
	if err := e.d.Close(ctx); err != nil {
		t.Errorf("Close again: %v", err)
	}
}

// TestConcurrentOps: Status and previews while the service is redeployed, paused, resumed and
// deleted (run with -race). Every answer is one the documented states allow.
func TestConcurrentOps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	spec := appSpec(t, "cc")
	svc := service(t, "cc")
	ctx := context.Background()
	e.deploy(t, spec)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// No Fatal off the test goroutine: plain calls and Errorf.
			st, err := e.d.Status(ctx, deploy.Cell{}, svc)
			if err != nil || st.Phase == deploy.PhaseFailed {
				t.Errorf("Status: %+v, %v", st, err)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.preview.URL+"/", nil)
			req.Host = "8000-cc.localhost"
			res, err := e.preview.Client().Do(req)
			if err != nil {
				t.Errorf("preview: %v", err)
				continue
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			switch res.StatusCode {
			case http.StatusOK, http.StatusServiceUnavailable, http.StatusNotFound:
			default:
				t.Errorf("preview: %s", res.Status)
			}
		}
	}()
	for i := range 3 {
		spec.Env = map[string]string{"RUNTIME_ID": "cc", "RUNYARD_LOCALDEPLOY_TEST_APP": "1", "ROUND": strconv.Itoa(i)}
		e.deploy(t, spec)
		e.waitPhase(t, svc, deploy.PhaseReady)
		if err := e.d.Pause(ctx, deploy.Cell{}, svc); err != nil {
			t.Fatal(err)
		}
		if err := e.d.Resume(ctx, deploy.Cell{}, svc); err != nil {
			t.Fatal(err)
		}
		e.waitPhase(t, svc, deploy.PhaseReady)
	}
	if err := e.d.Delete(ctx, deploy.Cell{}, svc); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
}

// TestPlanStartCommand runs a start command of the kind shared/detect plans.
func TestPlanStartCommand(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	e := newEnv(t, local.Config{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("static hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.deploy(t, deploy.Spec{
		Tenant: "acme", RuntimeID: "py", Image: "file://" + dir, Ports: []int{3000},
		StartCmd: "python3 -m http.server $PORT --bind $HOST",
	})
	e.waitPhase(t, service(t, "py"), deploy.PhaseReady)
	if got := e.getOK(t, "3000-py.localhost:8080", "/index.html"); got != "static hello" {
		t.Errorf("GET /index.html: %q", got)
	}
}
