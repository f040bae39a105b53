package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runyard/runyard/shared/emulators"
	"github.com/runyard/runyard/shared/stripemock"
)

func init() {
	register("testenv", "run a command with the Firestore and Pub/Sub emulators and stripe-mock started", runTestenv)
}

// Bounds on starting each emulator (generous: CI machines are busy) and on stopping them after
// the command ends.
const (
	testenvStartTimeout = 2 * time.Minute
	testenvStopTimeout  = 60 * time.Second
)

// runTestenv implements `runyard testenv [--] CMD ARGS...`: it starts fresh Firestore and
// Pub/Sub emulators (no data dir, logs in a temporary folder) and stripe-mock (installed at its
// pinned version on first use, see shared/stripemock), runs CMD with FIRESTORE_EMULATOR_HOST,
// PUBSUB_EMULATOR_HOST and STRIPE_MOCK_URL added to the environment, stops them all whatever
// happens, and returns CMD's exit status.
func runTestenv(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: runyard testenv -- CMD [ARGS...]")
		return 2
	}

	tmp, err := os.MkdirTemp("", "runyard-testenv-")
	if err != nil {
		fmt.Fprintf(stderr, "runyard testenv: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	// stripe-mock starts (and, the first time, builds) alongside the emulators.
	type mockResult struct {
		s   *stripemock.Server
		err error
	}
	mockc := make(chan mockResult, 1)
	go func() {
		logFile, err := os.Create(filepath.Join(tmp, "stripe-mock.log"))
		if err != nil {
			mockc <- mockResult{err: fmt.Errorf("stripe-mock log: %w", err)}
			return
		}
		s, err := stripemock.Start(ctx, logFile)
		mockc <- mockResult{s, err}
	}()
	emus, logs, err := startTestEmulators(ctx, tmp)
	mock := <-mockc
	if mock.s != nil {
		defer func() {
			if err := mock.s.Stop(); err != nil {
				fmt.Fprintf(stderr, "runyard testenv: stop stripe-mock: %v\n", err)
			}
		}()
	}
	err = errors.Join(err, mock.err)
	// Stop with a context of its own: ctx may be cancelled by SIGINT, and the emulators must
	// go anyway.
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), testenvStopTimeout)
		defer cancel()
		errs := make([]error, len(emus))
		var wg sync.WaitGroup
		for i, e := range emus {
			wg.Go(func() { errs[i] = e.Stop(stopCtx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				fmt.Fprintf(stderr, "runyard testenv: stop %s emulator: %v\n", emus[i].Kind(), err)
			}
		}
		for _, f := range logs {
			_ = f.Close()
		}
	}()
	if err != nil {
		fmt.Fprintf(stderr, "runyard testenv: %v\n", err)
		return 1
	}

	env := withoutVars(os.Environ(), "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", stripemock.EnvURL)
	for _, e := range emus {
		env = append(env, e.Env()...)
		fmt.Fprintf(stderr, "runyard testenv: %s emulator at %s\n", e.Kind(), e.Host())
	}
	env = append(env, mock.s.Env()...)
	fmt.Fprintf(stderr, "runyard testenv: stripe-mock at %s\n", mock.s.URL())

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin = os.Stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// The command runs in its own process group. On SIGINT/SIGTERM (ctx is cancelled) the whole
	// group gets an interrupt and time to clean up (go test stops its test binaries); whatever
	// is left of the group afterwards is killed, so nothing outlives the emulators.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return exitCode(cmd, err, stderr)
}

// startTestEmulators starts both emulators side by side, each logging to a file in dir. Even
// on error it returns the emulators that did start and the log files, for the caller to stop
// and close.
func startTestEmulators(ctx context.Context, dir string) ([]*emulators.Emulator, []*os.File, error) {
	type result struct {
		e   *emulators.Emulator
		log *os.File
		err error
	}
	starts := []struct {
		name  string
		start func(context.Context, emulators.Options) (*emulators.Emulator, error)
	}{
		{"firestore", emulators.StartFirestore},
		{"pubsub", emulators.StartPubSub},
	}
	results := make([]result, len(starts))
	var wg sync.WaitGroup
	for i, s := range starts {
		wg.Go(func() {
			logFile, err := os.Create(filepath.Join(dir, s.name+".log"))
			if err != nil {
				results[i].err = fmt.Errorf("%s emulator log: %w", s.name, err)
				return
			}
			results[i].log = logFile
			results[i].e, results[i].err = s.start(ctx, emulators.Options{Stdout: logFile, Stderr: logFile, StartTimeout: testenvStartTimeout})
		})
	}
	wg.Wait()
	var emus []*emulators.Emulator
	var logs []*os.File
	var errs []error
	for _, r := range results {
		if r.e != nil {
			emus = append(emus, r.e)
		}
		if r.log != nil {
			logs = append(logs, r.log)
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return emus, logs, errors.Join(errs...)
}

// exitCode maps the result of running the command to an exit status, as a shell would.
func exitCode(cmd *exec.Cmd, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		if code := exitErr.ExitCode(); code >= 0 {
			return code
		}
		return 1
	}
	fmt.Fprintf(stderr, "runyard testenv: %v\n", err)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return 127
	}
	if cmd.ProcessState == nil {
		return 126
	}
	return 1
}

// withoutVars drops NAME=… entries for the given names from env.
func withoutVars(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if name == n {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
