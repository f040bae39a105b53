package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/secrets"
)

// Environment variables the driver owns: a spec may not set them.
var reservedEnv = []string{"PORT", "HOST", "VSCODE_PORT"}

// defaultPath is the app's PATH when the driver has none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// process is one run of a service's start command.
type process struct {
	pid  int
	cmd  *exec.Cmd
	done chan struct{} // closed once the app's group is gone and its output drained
	// stopping: the driver stopped it (pause, redeploy, delete), so the exit is no failure.
	stopping atomic.Bool
	// Set before done is closed.
	reason string
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitedProcess is a start that failed: it reports reason as a failure.
func exitedProcess(reason string) *process {
	p := &process{done: make(chan struct{}), reason: reason}
	close(p.done)
	return p
}

// checkEnv refuses environment names that are not NAME without '=' or NUL, that the driver
// owns, or that Env and Secrets both set (Cloud Run refuses these too).
func checkEnv(spec deploy.Spec) error {
	seen := map[string]bool{}
	check := func(name string) error {
		switch {
		case name == "" || strings.ContainsAny(name, "=\x00"):
			return fmt.Errorf("%w: invalid environment variable name %q", deploy.ErrInvalid, name)
		case slices.Contains(reservedEnv, name):
			return fmt.Errorf("%w: environment variable %s is set by the runtime", deploy.ErrInvalid, name)
		case seen[name]:
			return fmt.Errorf("%w: environment variable %s is set twice", deploy.ErrInvalid, name)
		}
		seen[name] = true
		return nil
	}
	for name, v := range spec.Env {
		if err := check(name); err != nil {
			return err
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: environment variable %s holds a NUL byte", deploy.ErrInvalid, name)
		}
	}
	for _, ref := range spec.Secrets {
		if err := check(ref.Env); err != nil {
			return err
		}
	}
	return nil
}

// resolveSecrets reads spec.Secrets as NAME=value entries. A reference to another tenant's
// secret is deploy.ErrPermission. Errors name the variable, never a value.
func (d *Driver) resolveSecrets(ctx context.Context, spec deploy.Spec) ([]string, error) {
	if len(spec.Secrets) == 0 {
		return nil, nil
	}
	if d.cfg.Secrets == nil {
		return nil, fmt.Errorf("%w: the spec has secrets and the local driver has no secrets manager", deploy.ErrInvalid)
	}
	env := make([]string, 0, len(spec.Secrets))
	for _, ref := range spec.Secrets {
		tenant := ref.Tenant
		if tenant == "" {
			tenant = spec.Tenant
		}
		if tenant != spec.Tenant {
			return nil, fmt.Errorf("%w: secret for %s belongs to another tenant", deploy.ErrPermission, ref.Env)
		}
		v, err := d.cfg.Secrets.Access(ctx, tenant, ref.Name, ref.Version)
		if err != nil {
			return nil, fmt.Errorf("%w: secret for %s: %w", secretErr(err), ref.Env, err)
		}
		if strings.ContainsRune(string(v), 0) {
			return nil, fmt.Errorf("%w: secret for %s holds a NUL byte and cannot be an environment value", deploy.ErrInvalid, ref.Env)
		}
		env = append(env, ref.Env+"="+string(v))
	}
	return env, nil
}

// secretErr maps a secrets error to the deploy sentinel the api answers with.
func secretErr(err error) error {
	switch {
	case errors.Is(err, secrets.ErrPermission):
		return deploy.ErrPermission
	case errors.Is(err, secrets.ErrNotFound), errors.Is(err, secrets.ErrInvalidName),
		errors.Is(err, secrets.ErrInvalidTenant), errors.Is(err, secrets.ErrInvalidVersion):
		return deploy.ErrInvalid
	}
	return deploy.ErrUnavailable
}

// environ is the app's whole environment.
func (d *Driver) environ(s snapshot, home string, secretEnv []string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path, "HOME=" + home}
	for _, k := range slices.Sorted(maps.Keys(s.spec.Env)) {
		env = append(env, k+"="+s.spec.Env[k])
	}
	env = append(env, secretEnv...)
	return append(env, "HOST=127.0.0.1", "PORT="+strconv.Itoa(s.port), "VSCODE_PORT="+strconv.Itoa(s.vscode),
		"RUNTIME_ID="+s.spec.RuntimeID, "RUNTIME_URL="+cmp.Or(s.spec.PublicURL, s.url()))
}

// start runs the service's start command. svc.op is held. On error the returned process is
// already exited, with the error as its reason.
func (d *Driver) start(svc *service, secretEnv []string) (*process, error) {
	s := svc.snapshot()
	svc.mu.Lock()
	dir := svc.dir
	svc.mu.Unlock()
	fail := func(err error) (*process, error) {
		err = fmt.Errorf("%w: local: start %s: %w", deploy.ErrUnavailable, svc.name, err)
		fmt.Fprintf(svc.logs, "runyard: %v\n", err)
		return exitedProcess(err.Error()), err
	}

	home := filepath.Join(d.cfg.WorkDir, "home", s.spec.Tenant)
	logDir := filepath.Join(d.cfg.WorkDir, svc.name)
	workspace := WorkspaceDir(d.cfg.WorkDir, s.spec.Tenant, s.spec.RuntimeID)
	for _, dir := range []string{home, logDir, workspace} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(err)
		}
	}
	logFile, err := os.OpenFile(filepath.Join(logDir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	out := &tee{ring: svc.logs, file: logFile}
	fmt.Fprintf(out, "runyard: $ %s (port %d)\n", s.spec.StartCmd, s.port)

	// Our own pipe, not cmd's: Wait must not wait for output held open by a stray child.
	pr, pw, err := os.Pipe()
	if err != nil {
		_ = logFile.Close()
		return fail(err)
	}
	cmd := exec.Command(Shell, "-c", s.spec.StartCmd)
	cmd.Dir = dir
	cmd.Env = append(d.environ(s, home, secretEnv), "WORKSPACE="+workspace)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	cmd.Env = nil // the secret values are no longer needed
	_ = pw.Close()
	if err != nil {
		_ = pr.Close()
		fmt.Fprintf(out, "runyard: start failed: %v\n", err)
		_ = logFile.Close()
		return fail(err)
	}

	p := &process{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	mark := svc.logs.Total()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(out, pr)
	}()
	go func() {
		werr := cmd.Wait()
		_ = killGroup(p.pid) // whatever the app left behind
		select {
		case <-drained:
		case <-time.After(drainTimeout):
			_ = pr.Close()
			<-drained
		}
		_ = pr.Close()
		exit := "exited"
		if werr != nil {
			exit = werr.Error()
		} else if cmd.ProcessState != nil {
			exit = cmd.ProcessState.String()
		}
		if p.stopping.Load() {
			fmt.Fprintf(out, "runyard: stopped (%s)\n", exit)
		} else {
			p.reason = exit
			if t := tail(svc.logs.Since(mark), reasonLines, reasonBytes); t != "" {
				p.reason += "; last output:\n" + t
			}
			fmt.Fprintf(out, "runyard: app %s\n", exit)
			d.log.Warn("runtime app exited", "service", svc.name, "runtime_id", s.spec.RuntimeID, "exit", exit)
		}
		_ = logFile.Close()
		close(p.done)
	}()
	d.log.Info("runtime app started", "service", svc.name, "runtime_id", s.spec.RuntimeID, "port", s.port, "pid", p.pid)
	return p, nil
}

// stop stops p's process group: SIGTERM, then SIGKILL after StopTimeout or when ctx ends. It
// returns once the group is gone. A nil or exited process is fine.
func (d *Driver) stop(ctx context.Context, p *process) {
	if p == nil || p.exited() {
		return
	}
	p.stopping.Store(true)
	if err := terminateGroup(p.pid); err != nil {
		d.log.Warn("runtime app: SIGTERM failed", "pid", p.pid, "error", err)
	}
	t := time.NewTimer(d.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	if err := killGroup(p.pid); err != nil {
		d.log.Warn("runtime app: SIGKILL failed", "pid", p.pid, "error", err)
	}
	<-p.done
}

// tee writes to the in-memory ring and to the log file; a failing file never blocks the app's
// output (the ring still gets it).
type tee struct {
	ring *ring
	mu   sync.Mutex
	file *os.File
	ferr error
}

func (t *tee) Write(p []byte) (int, error) {
	_, _ = t.ring.Write(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ferr == nil {
		_, t.ferr = t.file.Write(p)
	}
	return len(p), nil
}

// WorkspaceDir is a runtime's workspace: it outlives the runtime's processes, so files written
// there survive pause, stop (archive) and resume, as the Cloud Storage workspace does in the
// cloud. The app finds it in $WORKSPACE.
func WorkspaceDir(workDir, tenant, runtimeID string) string {
	return filepath.Join(workDir, "workspaces", tenant, runtimeID)
}
