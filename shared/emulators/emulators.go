// Package emulators starts and stops the official Google Cloud emulators (Firestore and Pub/Sub)
// as child Java processes for tests and local mode.
//
// The emulators come from the google-cloud-cli packages on the machine image
// (google-cloud-cli-firestore-emulator, google-cloud-cli-pubsub-emulator). Java is run directly,
// never through `gcloud emulators … start`, because the gcloud wrapper does not exec java and
// killing it leaves java running. There is no fallback: a missing jar or java is an error that
// names the package to install.
//
// Each emulator binds to 127.0.0.1 on a free port, is ready when `GET /` answers `Ok`, and is
// stopped with `POST /shutdown` (Firestore) or SIGTERM (Pub/Sub), then SIGTERM and SIGKILL of
// its process group if it lingers.
package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind names an emulator.
type Kind string

// The emulators this package runs.
const (
	Firestore Kind = "firestore"
	PubSub    Kind = "pubsub"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultStartTimeout     = 60 * time.Second
	DefaultFirestoreMaxHeap = "1g"
	DefaultPubSubMaxHeap    = "512m"
	// stopGrace is how long Stop waits for the process to exit after each step (shutdown
	// request, SIGTERM) before moving on to the next, harsher one.
	stopGrace = 10 * time.Second
)

// ErrNotInstalled is wrapped by the error returned when java or an emulator jar is missing.
var ErrNotInstalled = errors.New("emulator not installed")

// Options configures an emulator. The zero value starts an emulator on a free port with its
// output discarded.
type Options struct {
	// Port to listen on at 127.0.0.1; 0 picks a free port.
	Port int

	// DataDir is an optional directory for the emulator's log file and, for Firestore, its data:
	// each project in Projects (and each project exported there before) is imported on start
	// and exported on Stop, so a restart with the same DataDir keeps the data. The Pub/Sub
	// emulator keeps everything in memory; for it DataDir only holds the log.
	DataDir string

	// Projects are the Firestore project ids exported to DataDir on Stop. Required with
	// DataDir for Firestore: the emulator exports one database at a time and cannot list them.
	Projects []string

	// Stdout and Stderr receive the emulator's output. When nil, output goes to
	// DataDir/<kind>.log if DataDir is set, else it is discarded. The last part of it is
	// always kept for error messages.
	Stdout, Stderr io.Writer

	// MaxHeap is the Java -Xmx value, such as "512m" or "1g". Defaults: DefaultFirestoreMaxHeap,
	// DefaultPubSubMaxHeap.
	MaxHeap string

	// StartTimeout bounds the wait for readiness; default DefaultStartTimeout.
	StartTimeout time.Duration

	// Java is the java executable; default "java" from PATH.
	Java string

	// Jar overrides the emulator jar location; by default it is found in the Cloud SDK.
	Jar string
}

// Emulator is a running emulator process.
type Emulator struct {
	kind     Kind
	host     string
	dataDir  string
	projects []string
	cmd      *exec.Cmd
	tail     *tailBuffer
	logFile  *os.File

	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// StartFirestore starts the Firestore emulator and waits until it is ready.
func StartFirestore(ctx context.Context, opts Options) (*Emulator, error) {
	if opts.DataDir != "" && len(opts.Projects) == 0 {
		return nil, errors.New("emulators: StartFirestore: Options.Projects is required with DataDir (the emulator exports one project at a time)")
	}
	for _, p := range opts.Projects {
		if !projectIDRE.MatchString(p) {
			return nil, fmt.Errorf("emulators: StartFirestore: invalid project id %q", p)
		}
	}
	e, err := start(ctx, Firestore, opts)
	if err != nil {
		return nil, err
	}
	if opts.DataDir != "" {
		if err := e.importData(ctx); err != nil {
			return nil, errors.Join(err, e.kill())
		}
	}
	return e, nil
}

// StartPubSub starts the Pub/Sub emulator and waits until it is ready.
func StartPubSub(ctx context.Context, opts Options) (*Emulator, error) {
	return start(ctx, PubSub, opts)
}

// Kind reports which emulator this is.
func (e *Emulator) Kind() Kind { return e.kind }

// Host is the emulator's address, "127.0.0.1:PORT".
func (e *Emulator) Host() string { return e.host }

// PID is the process id of the emulator's java process.
func (e *Emulator) PID() int { return e.cmd.Process.Pid }

// EnvVar is the environment variable the Google client libraries read for this emulator:
// FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST.
func (e *Emulator) EnvVar() string {
	if e.kind == Firestore {
		return "FIRESTORE_EMULATOR_HOST"
	}
	return "PUBSUB_EMULATOR_HOST"
}

// Env returns the environment entries ("NAME=VALUE") that point clients at the emulator.
func (e *Emulator) Env() []string { return []string{e.EnvVar() + "=" + e.host} }

// Exited is closed when the emulator process has exited, for whatever reason.
func (e *Emulator) Exited() <-chan struct{} { return e.exited }

// LogTail returns the last part of the emulator's output.
func (e *Emulator) LogTail() string { return e.tail.String() }

// Stop shuts the emulator down: for Firestore with a DataDir it first exports each project,
// then it asks the emulator to shut down and waits for the java process to exit, escalating
// to SIGTERM and SIGKILL of the process group. It is safe to call more than once; later calls
// return the first result. ctx bounds the export and the polite waits; the final kill always
// happens.
func (e *Emulator) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.stop(ctx) })
	return e.stopErr
}

func (e *Emulator) stop(ctx context.Context) error {
	var errs []error
	select {
	case <-e.exited:
		errs = append(errs, fmt.Errorf("emulators: %s emulator exited before Stop: %v\n%s", e.kind, e.waitErr, e.tailBlock()))
	default:
		if e.kind == Firestore && e.dataDir != "" {
			if err := e.exportData(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if err := e.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if e.logFile != nil {
		if err := e.logFile.Close(); err != nil {
			errs = append(errs, fmt.Errorf("emulators: close log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// shutdown asks politely, then signals the group; it returns once the process has exited.
// Firestore gets POST /shutdown (it exits at once). The Pub/Sub emulator answers /shutdown
// but takes seconds to exit, while SIGTERM runs the same JVM shutdown hooks at once, and it
// has no data to save, so it gets SIGTERM straight away.
func (e *Emulator) shutdown(ctx context.Context) error {
	if e.kind == Firestore {
		reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, "http://"+e.host+"/shutdown", nil); err == nil {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}
		if e.waitExit(ctx, stopGrace) {
			return nil
		}
	}
	_ = signalGroup(e.cmd.Process.Pid, syscall.SIGTERM)
	if e.waitExit(ctx, stopGrace) {
		return nil
	}
	return e.kill()
}

// kill sends SIGKILL to the process group and waits for the process to be reaped.
func (e *Emulator) kill() error {
	if err := signalGroup(e.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		// The group may already be gone; kill the process itself to be sure.
		_ = e.cmd.Process.Kill()
	}
	select {
	case <-e.exited:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("emulators: %s emulator (pid %d) did not exit after SIGKILL", e.kind, e.cmd.Process.Pid)
	}
}

// waitExit reports whether the process exited within d (or before ctx ended).
func (e *Emulator) waitExit(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.exited:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (e *Emulator) tailBlock() string {
	return "--- emulator log tail ---\n" + strings.TrimRight(e.tail.String(), "\n") + "\n--- end of log ---"
}

// start launches kind and waits for readiness. With a picked port it retries a couple of times
// in case another process took the port between picking and binding.
func start(ctx context.Context, kind Kind, opts Options) (*Emulator, error) {
	java, jar, err := locate(kind, opts)
	if err != nil {
		return nil, err
	}
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	var lastErr error
	for range attempts {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		e, portTaken, err := launch(ctx, kind, opts, java, jar, port)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !portTaken || opts.Port != 0 || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func launch(ctx context.Context, kind Kind, opts Options, java, jar string, port int) (e *Emulator, portTaken bool, err error) {
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	heap := opts.MaxHeap
	var args []string
	var readyLine string
	switch kind {
	case Firestore:
		if heap == "" {
			heap = DefaultFirestoreMaxHeap
		}
		args = []string{"-Xmx" + heap, "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
			"start", "--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
		readyLine = "Dev App Server is now running"
	case PubSub:
		if heap == "" {
			heap = DefaultPubSubMaxHeap
		}
		args = []string{"-Xmx" + heap, "-jar", jar, "--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
		readyLine = "Server started, listening on " + strconv.Itoa(port)
	}

	e = &Emulator{
		kind:     kind,
		host:     host,
		dataDir:  opts.DataDir,
		projects: opts.Projects,
		tail:     newTailBuffer(32 << 10),
		exited:   make(chan struct{}),
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil || stderr == nil {
		var def io.Writer = io.Discard
		if opts.DataDir != "" {
			if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
				return nil, false, fmt.Errorf("emulators: data dir: %w", err)
			}
			f, err := os.OpenFile(filepath.Join(opts.DataDir, string(kind)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return nil, false, fmt.Errorf("emulators: log file: %w", err)
			}
			e.logFile = f
			def = f
		}
		if stdout == nil {
			stdout = def
		}
		if stderr == nil {
			stderr = def
		}
	}
	// One lock-protected tail for both streams; exec copies each stream in its own goroutine.
	cmd := exec.Command(java, args...)
	cmd.Stdout = io.MultiWriter(stdout, e.tail)
	cmd.Stderr = io.MultiWriter(stderr, e.tail)
	cmd.SysProcAttr = sysProcAttr()
	if opts.DataDir != "" {
		cmd.Dir = opts.DataDir
	}
	e.cmd = cmd
	if err := cmd.Start(); err != nil {
		e.closeLog()
		return nil, false, fmt.Errorf("emulators: start %s emulator (%s): %w", kind, java, err)
	}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	if err := e.waitReady(ctx, timeout, readyLine); err != nil {
		portTaken = errors.Is(err, errPortTaken)
		killErr := e.kill()
		e.closeLog()
		return nil, portTaken, errors.Join(fmt.Errorf("emulators: %s emulator on %s: %w\n%s", kind, host, err, e.tailBlock()), killErr)
	}
	return e, false, nil
}

func (e *Emulator) closeLog() {
	if e.logFile != nil {
		_ = e.logFile.Close()
	}
}

// errPortTaken means the emulator could not bind its port.
var errPortTaken = errors.New("port already in use")

// waitReady waits until the emulator has logged readyLine and GET / answers "Ok" (both
// emulators serve this on their port). The log line makes sure the answer comes from this
// process and not from another server that took the port; a bind failure in the log fails fast
// (the Pub/Sub emulator keeps running after it).
func (e *Emulator) waitReady(ctx context.Context, timeout time.Duration, readyLine string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		log := e.tail.String()
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("%w", errPortTaken)
		}
		if strings.Contains(log, readyLine) && probe(ctx, client, "http://"+e.host+"/") {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("process exited before it was ready: %v", e.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready (GET / did not answer Ok) within %s: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok"
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulators: pick free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("emulators: pick free port: %w", err)
	}
	return port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	// Start at a line boundary when the buffer was cut.
	if len(b) >= t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
