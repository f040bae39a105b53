// Package local is the build.Builder of runyard dev: it builds on this machine with local
// processes instead of Cloud Build, and publishes the same notifications Cloud Build publishes
// on the cloud-builds topic, so the rest of Runyard cannot tell the difference.
//
// A build materializes its source (an archive from the sources store, or a local directory
// named by a file:// RepoURL), runs the plan's install and build commands in the app directory
// with a clean environment, and on success moves the prepared tree to
// <WorkDir>/images/<tenant>/<build>: that directory is the "image", its digest a hash of the
// tree. There is no container: the local runtime driver runs the start command in it.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/sources"
)

// Defaults of Config.
const (
	DefaultTopic   = "cloud-builds"
	DefaultShell   = "/bin/sh"
	DefaultTimeout = 20 * time.Minute
	// publishTimeout bounds one notification.
	publishTimeout = 30 * time.Second
)

// Config configures New.
type Config struct {
	// WorkDir holds builds/<external id>/ (build.log, the work tree), images/<tenant>/<build>/
	// and home/<tenant>/ (HOME of the commands: a tenant's package caches, never shared).
	WorkDir string
	// Sources opens Request.Source.Archive.
	Sources sources.Store
	// Publisher receives the notifications, on Topic (default "cloud-builds").
	Publisher events.Publisher
	Topic     string
	// Shell runs each command as Shell -c CMD (default /bin/sh).
	Shell string
	// Timeout bounds a whole build (default 20m).
	Timeout time.Duration
	// Limits bound the extraction of sources (zero: archive defaults).
	Limits archive.Limits
	Logger *slog.Logger
}

// Builder implements build.Builder with local processes.
type Builder struct {
	cfg  Config
	log  *slog.Logger
	path string // PATH of the commands

	base context.Context
	stop context.CancelCauseFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	jobs     map[string]*job
	finished map[string]bool

	imageMu sync.Mutex // moves into images/
}

var _ build.Builder = (*Builder)(nil)

// job is one running build.
type job struct {
	id      string
	req     build.Request
	ctx     context.Context
	cancel  context.CancelCauseFunc
	done    chan struct{}
	dir     string // builds/<id>
	logPath string
	image   string // images/<tenant>/<build>
}

// Causes of a build's context ending early.
var (
	errCancelled = errors.New("build cancelled")
	errClosed    = errors.New("builder closed")
	errTimeout   = errors.New("build timed out")
)

// New checks cfg, creates WorkDir and returns a builder.
func New(cfg Config) (*Builder, error) {
	var errs []error
	if cfg.WorkDir == "" {
		errs = append(errs, errors.New("no WorkDir"))
	}
	if cfg.Sources == nil {
		errs = append(errs, errors.New("no Sources"))
	}
	if cfg.Publisher == nil {
		errs = append(errs, errors.New("no Publisher"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build/local: config: %w", err)
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Shell == "" {
		cfg.Shell = DefaultShell
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	wd, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("build/local: %w", err)
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return nil, fmt.Errorf("build/local: create work dir: %w", err)
	}
	cfg.WorkDir = wd
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	base, stop := context.WithCancelCause(context.Background())
	return &Builder{
		cfg: cfg, log: cfg.Logger, path: path, base: base, stop: stop,
		jobs: map[string]*job{}, finished: map[string]bool{},
	}, nil
}

// Start accepts a build and answers at once (status queued); the build runs in the background
// and reports through notifications.
//
// Sources: Archive (a URI of the sources store, which must be the requesting tenant's), or a
// RepoURL "file:///abs/dir" naming a local directory, copied as it is on disk (Ref and Commit are
// ignored; it goes through the same archive checks and limits). Git remotes are not supported
// locally: build.ErrInvalid. Strategy is not used: every build prepares a tree.
func (b *Builder) Start(ctx context.Context, r build.Request) (build.Started, error) {
	if err := b.check(r); err != nil {
		return build.Started{}, err
	}
	id, err := newID()
	if err != nil {
		return build.Started{}, fmt.Errorf("build/local: start: %w: %w", build.ErrUnavailable, err)
	}
	j := &job{
		id:    id,
		req:   r,
		done:  make(chan struct{}),
		dir:   filepath.Join(b.cfg.WorkDir, "builds", id),
		image: filepath.Join(b.cfg.WorkDir, "images", r.Tenant, r.BuildID),
	}
	j.logPath = filepath.Join(j.dir, "build.log")
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return build.Started{}, fmt.Errorf("build/local: start: %w: %w", build.ErrUnavailable, err)
	}
	if err := os.WriteFile(j.logPath, nil, 0o644); err != nil {
		return build.Started{}, fmt.Errorf("build/local: start: %w: %w", build.ErrUnavailable, err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = os.RemoveAll(j.dir)
		return build.Started{}, fmt.Errorf("build/local: start: %w: builder closed", build.ErrUnavailable)
	}
	j.ctx, j.cancel = context.WithCancelCause(b.base)
	b.jobs[id] = j
	b.wg.Go(func() { b.run(j) })
	b.log.InfoContext(ctx, "local build started", "tenant", r.Tenant, "build_id", r.BuildID, "external_id", id)
	return build.Started{
		ExternalID: id,
		LogURL:     fileURL(j.logPath),
		Status:     build.StatusQueued,
		Image:      fileURL(j.image),
	}, nil
}

// check validates a request: ids that name directories, exactly one usable source, a local
// app dir.
func (b *Builder) check(r build.Request) error {
	var errs []error
	if !ids.ValidTenant(r.Tenant) {
		errs = append(errs, errors.New("bad tenant id"))
	}
	if !sources.ValidBuildID(r.BuildID) {
		errs = append(errs, errors.New("bad build id"))
	}
	switch {
	case r.Source.Archive != "" && r.Source.RepoURL != "":
		errs = append(errs, errors.New("both an archive and a repository"))
	case r.Source.Archive != "":
		if tenant, _, ok := sources.Owner(r.Source.Archive); !ok || tenant != r.Tenant {
			errs = append(errs, errors.New("the archive is not the tenant's"))
		}
	case r.Source.RepoURL != "":
		if _, err := localRepo(r.Source.RepoURL); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, errors.New("no source"))
	}
	if r.AppDir != "" && !filepath.IsLocal(r.AppDir) {
		errs = append(errs, errors.New("app dir is not a relative path inside the source"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("build/local: start: %w: %w", build.ErrInvalid, err)
	}
	return nil
}

// localRepo returns the directory of a file:// RepoURL.
func localRepo(repoURL string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "file" || u.Host != "" || !filepath.IsAbs(u.Path) {
		return "", errors.New("only file:///abs/dir repositories build locally (git remotes need Cloud Build)")
	}
	fi, err := os.Stat(u.Path)
	if err != nil || !fi.IsDir() {
		return "", errors.New("the file:// repository is not a directory")
	}
	return filepath.Clean(u.Path), nil
}

// Cancel stops a build: its commands' process group is killed and it ends CANCELLED. Cancelling
// a finished build does nothing; an unknown id is build.ErrNotFound.
func (b *Builder) Cancel(_ context.Context, externalID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if j, ok := b.jobs[externalID]; ok {
		j.cancel(errCancelled)
		return nil
	}
	if b.finished[externalID] {
		return nil
	}
	return fmt.Errorf("build/local: cancel %s: %w", externalID, build.ErrNotFound)
}

// Close refuses new builds and waits for the running ones. When ctx ends first, the running
// builds are cancelled (they end CANCELLED), Close waits for them to wind up and returns
// ctx's error.
func (b *Builder) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		b.stop(errClosed)
		return nil
	case <-ctx.Done():
		select {
		case <-done: // finished as ctx ended: nothing was cut short
			b.stop(errClosed)
			return nil
		default:
		}
		b.stop(errClosed)
		<-done
		return fmt.Errorf("build/local: close: %w", ctx.Err())
	}
}

func fileURL(p string) string { return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String() }

// newID returns a random UUID (version 4), the shape of Cloud Build ids.
func newID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
