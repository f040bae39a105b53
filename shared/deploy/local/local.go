// Package local is the deploy.Deployer of runyard dev: a runtime's service is the start command
// of a locally built image (a directory, file://…/images/<tenant>/<build>, see shared/build/local)
// run as a local process group on a loopback port, instead of a Cloud Run service.
//
// Deploy starts `/bin/sh -c StartCmd` in the image directory with a clean environment (PATH, a
// per-tenant HOME, PORT, HOST=127.0.0.1, the spec's Env and its Secrets read through
// secrets.Manager), captures its output, and answers at once; Status reports ready once the
// port accepts connections. Pause stops the processes and keeps the spec and port, Resume starts
// them again, Delete stops and forgets. PreviewHandler is the local stand-in for the ingress
// sidecar and the gateway: it routes {port}-{runtime}.localhost to the runtime's app.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/secrets"
)

// Defaults and limits.
const (
	DefaultStopTimeout = 5 * time.Second
	// LogBufferBytes is how much of a service's output Logs keeps in memory.
	LogBufferBytes = 1 << 20
	// LogFile is the name of a service's output file under WorkDir/<service>/.
	LogFile = "output.log"
	// Shell runs StartCmd as Shell -c StartCmd.
	Shell = "/bin/sh"
	// Failure reasons hold at most this much of the app's last output.
	reasonLines = 20
	reasonBytes = 2048
	// drainTimeout bounds the wait for the output pipe to close after the app's group is gone
	// (something that left the group may still hold it).
	drainTimeout = 2 * time.Second
	// dialTimeout bounds the readiness probe of Status.
	dialTimeout = time.Second
)

// Config configures New.
type Config struct {
	// WorkDir holds <service>/output.log and home/<tenant>/ (HOME of a tenant's apps). Required.
	WorkDir string
	// Secrets resolves Spec.Secrets. Optional: without it a spec with secrets is refused.
	Secrets secrets.Manager
	// Logger gets one line per start, stop and exit (never an environment value).
	Logger *slog.Logger
	// StopTimeout is how long a stopping app gets between SIGTERM and SIGKILL (default 5s).
	StopTimeout time.Duration
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.WorkDir == "" {
		errs = append(errs, errors.New("local: WorkDir is required"))
	}
	if c.StopTimeout < 0 {
		errs = append(errs, errors.New("local: StopTimeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Driver implements deploy.Deployer with local processes. Safe for concurrent use.
type Driver struct {
	cfg       Config
	log       *slog.Logger
	transport *http.Transport // to the apps, shared by the preview proxy
	proxy     http.Handler

	mu       sync.Mutex
	services map[string]*service // by service name
	runtimes map[string]string   // runtime id → service name
	closed   bool
}

var _ deploy.Deployer = (*Driver)(nil)

// service is one runtime's app.
type service struct {
	name string
	logs *ring

	// op serializes the lifecycle operations of the service; it is held while stopping and
	// starting, so Status and the proxy never wait on it.
	op sync.Mutex

	mu      sync.Mutex // guards the fields below
	spec    deploy.Spec
	dir     string // the image directory
	port    int    // the app's loopback port, kept across restarts
	vscode  int    // the loopback port behind the runtime's VS Code port (VSCODE_PORT), kept too
	paused  bool
	deleted bool
	proc    *process // nil while paused, stopping or between a stop and a start
}

// snapshot is what Status and the proxy read of a service.
type snapshot struct {
	spec    deploy.Spec
	port    int
	vscode  int
	paused  bool
	deleted bool
	proc    *process
}

func (s *service) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot{spec: s.spec, port: s.port, vscode: s.vscode, paused: s.paused, deleted: s.deleted, proc: s.proc}
}

func (s snapshot) url() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// New returns a Driver; it starts nothing.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("local: filepath.Abs: %w", err)
	}
	cfg.WorkDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: os.MkdirAll: %w", err)
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Driver{
		cfg:      cfg,
		log:      cfg.Logger,
		services: map[string]*service{},
		runtimes: map[string]string{},
	}
	d.transport = newTransport()
	d.proxy = d.newProxy()
	return d, nil
}

// Deploy starts spec's app, or restarts it when the spec changed, the app exited or the service
// is paused; a running service deployed again with the same spec is left alone. It answers at
// once with the service's status (deploying after a start) and its URL, http://127.0.0.1:PORT,
// which stays the same for the life of the service.
//
// Errors: deploy.ErrInvalid (spec), deploy.ErrInvalidImage (Image is not file://<existing dir>),
// deploy.ErrPermission (a secret of another tenant), deploy.ErrUnavailable (after Close, or the
// secrets backend or the start failed); secret errors also wrap the secrets sentinel.
func (d *Driver) Deploy(ctx context.Context, spec deploy.Spec) (deploy.Status, error) {
	spec, dir, err := checkSpec(spec)
	if err != nil {
		return deploy.Status{}, err
	}
	svc, err := d.lockService(spec.Service)
	if err != nil {
		return deploy.Status{}, err
	}
	defer svc.op.Unlock()

	snap := svc.snapshot()
	if snap.proc != nil && !snap.paused && !snap.proc.exited() && reflect.DeepEqual(snap.spec, spec) {
		return d.status(ctx, snap), nil
	}
	// Everything that can fail before the old app is stopped.
	secretEnv, err := d.resolveSecrets(ctx, spec)
	if err != nil {
		d.forgetIfNew(svc)
		return deploy.Status{}, err
	}
	port, vscode := snap.port, snap.vscode
	if port == 0 {
		if port, err = d.freePort(); err != nil {
			d.forgetIfNew(svc)
			return deploy.Status{}, err
		}
	}
	if vscode == 0 {
		if vscode, err = d.freePort(port); err != nil {
			d.forgetIfNew(svc)
			return deploy.Status{}, err
		}
	}

	svc.mu.Lock()
	old := svc.proc
	svc.proc, svc.spec, svc.dir, svc.port, svc.vscode, svc.paused = nil, spec, dir, port, vscode, false
	svc.mu.Unlock()
	d.mu.Lock()
	d.runtimes[spec.RuntimeID] = spec.Service
	d.mu.Unlock()

	d.stop(ctx, old)
	p, err := d.start(svc, secretEnv)
	svc.mu.Lock()
	svc.proc = p
	snap = snapshot{spec: svc.spec, port: svc.port, vscode: svc.vscode, proc: p}
	svc.mu.Unlock()
	if err != nil {
		return d.status(ctx, snap), err
	}
	return deploy.Status{Phase: deploy.PhaseDeploying, URL: snap.url()}, nil
}

// Status reports the service: missing (unknown or deleted), paused, failed (the app exited;
// Reason holds its exit status and last output lines), ready (its port accepts connections) or
// deploying. cell is ignored.
func (d *Driver) Status(ctx context.Context, _ deploy.Cell, name string) (deploy.Status, error) {
	svc := d.lookup(name)
	if svc == nil {
		return deploy.Status{Phase: deploy.PhaseMissing}, nil
	}
	return d.status(ctx, svc.snapshot()), nil
}

func (d *Driver) status(ctx context.Context, s snapshot) deploy.Status {
	switch {
	case s.deleted:
		return deploy.Status{Phase: deploy.PhaseMissing}
	case s.paused:
		return deploy.Status{Phase: deploy.PhasePaused, URL: s.url()}
	case s.proc == nil: // between a stop and a start
		return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.url()}
	case s.proc.exited() && s.proc.stopping.Load():
		// The driver stopped it on purpose and a restart is under way: not a failure.
		return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.url()}
	case s.proc.exited():
		return deploy.Status{Phase: deploy.PhaseFailed, URL: s.url(), Reason: s.proc.reason}
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	if err != nil {
		return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.url()}
	}
	_ = c.Close()
	if s.proc.exited() { // it listened, then died (or was stopped for a restart)
		if s.proc.stopping.Load() {
			return deploy.Status{Phase: deploy.PhaseDeploying, URL: s.url()}
		}
		return deploy.Status{Phase: deploy.PhaseFailed, URL: s.url(), Reason: s.proc.reason}
	}
	return deploy.Status{Phase: deploy.PhaseReady, URL: s.url()}
}

// Pause stops the app (SIGTERM to its process group, SIGKILL after StopTimeout or when ctx
// ends) and keeps the service, its spec and its port. Pausing a paused service succeeds;
// deploy.ErrNotFound if the service is unknown. cell is ignored.
func (d *Driver) Pause(ctx context.Context, _ deploy.Cell, name string) error {
	svc, err := d.lockExisting(name)
	if err != nil {
		return err
	}
	defer svc.op.Unlock()
	svc.mu.Lock()
	p := svc.proc
	svc.proc, svc.paused = nil, true
	svc.mu.Unlock()
	d.stop(ctx, p)
	return nil
}

// Resume starts a paused service again with the same spec and port (secrets are read again, so
// a rotated "latest" version is picked up). Resuming a service that is not paused does
// nothing; deploy.ErrNotFound if the service is unknown. cell is ignored.
func (d *Driver) Resume(ctx context.Context, _ deploy.Cell, name string) error {
	svc, err := d.lockExisting(name)
	if err != nil {
		return err
	}
	defer svc.op.Unlock()
	snap := svc.snapshot()
	if !snap.paused {
		return nil
	}
	secretEnv, err := d.resolveSecrets(ctx, snap.spec)
	if err != nil {
		return err
	}
	p, err := d.start(svc, secretEnv)
	svc.mu.Lock()
	svc.proc, svc.paused = p, false
	svc.mu.Unlock()
	return err
}

// Delete stops the app and forgets the service (its output file under WorkDir stays). Deleting
// an unknown service succeeds. cell is ignored.
func (d *Driver) Delete(ctx context.Context, _ deploy.Cell, name string) error {
	svc, err := d.lockExisting(name)
	if errors.Is(err, deploy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer svc.op.Unlock()
	d.remove(ctx, svc)
	return nil
}

// remove marks svc deleted, stops it and drops it from the maps. svc.op is held.
func (d *Driver) remove(ctx context.Context, svc *service) {
	svc.mu.Lock()
	p, rt := svc.proc, svc.spec.RuntimeID
	svc.proc, svc.deleted = nil, true
	svc.mu.Unlock()
	d.mu.Lock()
	if d.services[svc.name] == svc {
		delete(d.services, svc.name)
	}
	if d.runtimes[rt] == svc.name {
		delete(d.runtimes, rt)
	}
	d.mu.Unlock()
	d.stop(ctx, p)
}

// Logs returns the service's captured output (stdout and stderr interleaved, the last
// LogBufferBytes, across restarts, with the driver's own start and exit lines);
// deploy.ErrNotFound if the service is unknown.
func (d *Driver) Logs(name string) ([]byte, error) {
	svc := d.lookup(name)
	if svc == nil {
		return nil, fmt.Errorf("%w: %q", deploy.ErrNotFound, name)
	}
	return svc.logs.Bytes(), nil
}

// Close stops every app (SIGKILL at once when ctx ends) and forgets them; afterwards Deploy and
// Resume fail with deploy.ErrUnavailable. Closing again does nothing.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	all := make([]*service, 0, len(d.services))
	for _, s := range d.services {
		all = append(all, s)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, svc := range all {
		wg.Go(func() {
			svc.op.Lock()
			defer svc.op.Unlock()
			d.remove(ctx, svc)
		})
	}
	wg.Wait()
	d.transport.CloseIdleConnections()
	return nil
}

// lookup returns the live service called name, or nil.
func (d *Driver) lookup(name string) *service {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.services[name]
}

// lockService returns the service called name, created if needed, with its op lock held.
func (d *Driver) lockService(name string) (*service, error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, fmt.Errorf("%w: local driver closed", deploy.ErrUnavailable)
		}
		svc := d.services[name]
		if svc == nil {
			svc = &service{name: name, logs: newRing(LogBufferBytes)}
			d.services[name] = svc
		}
		d.mu.Unlock()
		svc.op.Lock()
		if !svc.snapshot().deleted {
			return svc, nil
		}
		svc.op.Unlock() // deleted while we waited: make a new one
	}
}

// lockExisting returns the live service called name with its op lock held, or
// deploy.ErrNotFound.
func (d *Driver) lockExisting(name string) (*service, error) {
	svc := d.lookup(name)
	if svc == nil {
		return nil, fmt.Errorf("%w: %q", deploy.ErrNotFound, name)
	}
	svc.op.Lock()
	if s := svc.snapshot(); s.deleted || (s.proc == nil && !s.paused && s.port == 0) {
		svc.op.Unlock()
		return nil, fmt.Errorf("%w: %q", deploy.ErrNotFound, name)
	}
	return svc, nil
}

// forgetIfNew drops svc when its first Deploy failed before anything started. svc.op is held.
func (d *Driver) forgetIfNew(svc *service) {
	svc.mu.Lock()
	fresh := svc.port == 0 && svc.proc == nil
	if fresh {
		svc.deleted = true
	}
	svc.mu.Unlock()
	if !fresh {
		return
	}
	d.mu.Lock()
	if d.services[svc.name] == svc {
		delete(d.services, svc.name)
	}
	d.mu.Unlock()
}

// freePort picks a free loopback port that no other service of this driver holds (a paused
// service keeps its port). Another program may still take it before the app binds it; the app
// then fails and Status says so.
func (d *Driver) freePort(also ...int) (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("%w: local: net.Listen: %w", deploy.ErrUnavailable, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !d.portTaken(port) && !slices.Contains(also, port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("%w: local: no free port", deploy.ErrUnavailable)
}

func (d *Driver) portTaken(port int) bool {
	d.mu.Lock()
	all := make([]*service, 0, len(d.services))
	for _, s := range d.services {
		all = append(all, s)
	}
	d.mu.Unlock()
	for _, s := range all {
		if snap := s.snapshot(); snap.port == port || snap.vscode == port {
			return true
		}
	}
	return false
}

// checkSpec validates spec, fills Service, and returns a copy that shares nothing with the
// caller's, and the image directory.
func checkSpec(spec deploy.Spec) (deploy.Spec, string, error) {
	spec.Ports = slices.Clone(spec.Ports)
	spec.Env = maps.Clone(spec.Env)
	spec.Secrets = slices.Clone(spec.Secrets)
	spec.Members = slices.Clone(spec.Members)
	spec.Labels = maps.Clone(spec.Labels)
	name, err := deploy.ServiceName(spec.RuntimeID)
	if err != nil {
		return spec, "", err
	}
	if !validRuntimeID(spec.RuntimeID) {
		return spec, "", fmt.Errorf("%w: runtime id %q is not [a-z0-9-] starting and ending with a letter or digit", deploy.ErrInvalid, spec.RuntimeID)
	}
	switch spec.Service {
	case "":
		spec.Service = name
	case name:
	default:
		return spec, "", fmt.Errorf("%w: service %q is not %q", deploy.ErrInvalid, spec.Service, name)
	}
	if !ids.ValidTenant(spec.Tenant) {
		return spec, "", fmt.Errorf("%w: invalid tenant id", deploy.ErrInvalid)
	}
	if spec.StartCmd == "" {
		return spec, "", fmt.Errorf("%w: no start command", deploy.ErrInvalid)
	}
	for _, p := range spec.Ports {
		if p < 1 || p > 65535 {
			return spec, "", fmt.Errorf("%w: port %d out of range", deploy.ErrInvalid, p)
		}
	}
	if err := checkEnv(spec); err != nil {
		return spec, "", err
	}
	dir, err := imageDir(spec.Image)
	if err != nil {
		return spec, "", err
	}
	return spec, dir, nil
}

// imageDir returns the directory of a file://<absolute dir> image.
func imageDir(image string) (string, error) {
	dir, ok := strings.CutPrefix(image, "file://")
	if !ok || !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: want file://<absolute directory>, got %q", deploy.ErrInvalidImage, image)
	}
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", deploy.ErrInvalidImage, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", deploy.ErrInvalidImage, dir)
	}
	return dir, nil
}
