// Package stripemock installs and runs stripe-mock (github.com/stripe/stripe-mock), Stripe's
// official mock of its HTTP API, for tests and benchmarks: `runyard testenv` starts one and
// hands its URL to the command as STRIPE_MOCK_URL.
//
// The binary is built once with `go install` at the pinned Version into a per-user cache
// directory (so a fresh machine needs only Go and the module proxy), then reused. stripe-mock
// binds 127.0.0.1 on a port the kernel picks and reports it in its log; Start reads the port from
// there, so there is no race between picking a free port and binding it.
package stripemock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Module and Version pin the stripe-mock that is installed.
const (
	Module  = "github.com/stripe/stripe-mock"
	Version = "v0.203.0"
)

// EnvURL is the variable that carries a running stripe-mock's base URL to tests.
const EnvURL = "STRIPE_MOCK_URL"

// Dir is where the pinned binary is installed: $XDG_CACHE_HOME (or ~/.cache)/runyard/stripe-mock-VERSION.
func Dir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("stripemock: cache dir: %w", err)
	}
	return filepath.Join(cache, "runyard", "stripe-mock-"+Version), nil
}

// Ensure returns the path of the pinned stripe-mock binary, building it with `go install` into
// Dir when it is not there yet. Concurrent callers in one process build it once; across
// processes `go install` writes the binary atomically.
func Ensure(ctx context.Context, log io.Writer) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stripe-mock")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	installMu.Lock()
	defer installMu.Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("stripemock: %w", err)
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "stripemock: installing %s@%s into %s\n", Module, Version, dir)
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("stripemock: go install %s@%s: %w\n%s", Module, Version, err, out)
	}
	return bin, nil
}

var installMu sync.Mutex

// Server is a running stripe-mock.
type Server struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	once   sync.Once
}

// listenRE matches stripe-mock's log line naming its HTTP address.
var listenRE = regexp.MustCompile(`Listening for HTTP at address: (127\.0\.0\.1:\d+)`)

// Start installs stripe-mock if needed and starts it on 127.0.0.1 (HTTP and HTTPS, each on a
// port the kernel picks), returning once it answers. Its output goes to log (nil discards).
func Start(ctx context.Context, log io.Writer) (*Server, error) {
	bin, err := Ensure(ctx, log)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stripemock: start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(s.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			if m := listenRE.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.exited:
		return nil, errors.New("stripemock: stripe-mock exited before it listened")
	case <-ctx.Done():
		return nil, errors.Join(fmt.Errorf("stripemock: stripe-mock did not listen: %w", ctx.Err()), s.Stop())
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// waitReady polls until stripe-mock answers an authenticated request.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stripemock: not ready: %w", ctx.Err())
		case <-s.exited:
			return errors.New("stripemock: stripe-mock exited before it was ready")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the base URL of the HTTP listener, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Env returns STRIPE_MOCK_URL=URL.
func (s *Server) Env() []string { return []string{EnvURL + "=" + s.url} }

// Stop terminates stripe-mock (SIGTERM, then SIGKILL) and waits for it. Safe to call twice.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				err = fmt.Errorf("stripemock: pid %d did not exit", s.cmd.Process.Pid)
			}
		}
	})
	return err
}
