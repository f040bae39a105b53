package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/build"
)

// Failure detail: the last lines of the build log, bounded.
const (
	tailLines = 20
	tailBytes = 2048
)

// fetchError marks a failure to materialize the source (FETCH_SOURCE_FAILED).
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "fetch source: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// run is one build, from QUEUED to its terminal notification.
func (b *Builder) run(j *job) {
	defer close(j.done)
	ctx, cancel := context.WithTimeoutCause(j.ctx, b.cfg.Timeout, errTimeout)
	defer cancel()

	bpb := &cloudbuildpb.Build{
		Id:         j.id,
		Status:     cloudbuildpb.Build_QUEUED,
		Tags:       build.Tags(j.req.Tenant, j.req.BuildID),
		Images:     []string{fileURL(j.image)},
		LogUrl:     fileURL(j.logPath),
		CreateTime: timestamppb.Now(),
		Timeout:    durationpb.New(b.cfg.Timeout),
	}
	b.publish(j, bpb)
	bpb.Status, bpb.StartTime = cloudbuildpb.Build_WORKING, timestamppb.Now()
	b.publish(j, bpb)

	digest, err := b.execute(ctx, j)
	bpb.FinishTime = timestamppb.Now()
	switch cause := context.Cause(ctx); {
	case err == nil:
		bpb.Status = cloudbuildpb.Build_SUCCESS
		bpb.Results = &cloudbuildpb.Results{Images: []*cloudbuildpb.BuiltImage{{Name: fileURL(j.image), Digest: digest}}}
	case ctx.Err() != nil && errors.Is(cause, errTimeout):
		bpb.Status = cloudbuildpb.Build_TIMEOUT
		bpb.StatusDetail = fmt.Sprintf("build timed out after %v", b.cfg.Timeout)
		bpb.FailureInfo = &cloudbuildpb.Build_FailureInfo{Detail: bpb.StatusDetail + "\n" + logTail(j.logPath)}
	case ctx.Err() != nil:
		bpb.Status = cloudbuildpb.Build_CANCELLED
		bpb.StatusDetail = cause.Error()
	default:
		bpb.Status = cloudbuildpb.Build_FAILURE
		typ := cloudbuildpb.Build_FailureInfo_USER_BUILD_STEP
		var fe *fetchError
		if errors.As(err, &fe) {
			typ = cloudbuildpb.Build_FailureInfo_FETCH_SOURCE_FAILED
		}
		b.logf(j, "ERROR: %v", err)
		bpb.StatusDetail = err.Error()
		bpb.FailureInfo = &cloudbuildpb.Build_FailureInfo{Type: typ, Detail: logTail(j.logPath)}
	}
	if err != nil {
		_ = os.RemoveAll(filepath.Join(j.dir, "src"))
	}

	b.mu.Lock()
	delete(b.jobs, j.id)
	b.finished[j.id] = true
	b.mu.Unlock()
	b.publish(j, bpb)
	b.log.Info("local build finished", "tenant", j.req.Tenant, "build_id", j.req.BuildID,
		"external_id", j.id, "status", bpb.Status.String())
}

// publish sends one notification; a failure is logged (Cloud Build's notifications are not
// guaranteed either: consumers reconcile).
func (b *Builder) publish(j *job, bpb *cloudbuildpb.Build) {
	attrs, data, err := cloudbuild.EncodeNotification(bpb)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), publishTimeout)
		_, err = b.cfg.Publisher.Publish(ctx, b.cfg.Topic, data, attrs)
		cancel()
	}
	if err != nil {
		b.log.Error("local build: publish notification", "external_id", j.id,
			"status", bpb.Status.String(), "error", err.Error())
	}
}

// execute materializes the source, runs the commands and moves the tree to the image
// directory, returning its digest.
func (b *Builder) execute(ctx context.Context, j *job) (string, error) {
	logf, err := os.OpenFile(j.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", err
	}
	defer logf.Close()

	src := filepath.Join(j.dir, "src")
	b.logf(j, "Fetching source")
	if err := b.materialize(ctx, j.req.Source, src); err != nil {
		return "", &fetchError{err}
	}
	appDir, err := appDir(src, j.req.AppDir)
	if err != nil {
		return "", &fetchError{err}
	}
	home := filepath.Join(b.cfg.WorkDir, "home", j.req.Tenant)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", err
	}
	steps := []struct{ name, cmd string }{{"install", j.req.InstallCmd}, {"build", j.req.BuildCmd}}
	n := 0
	for _, s := range steps {
		if strings.TrimSpace(s.cmd) == "" {
			continue
		}
		b.logf(j, "Step #%d - %q: $ %s", n, s.name, s.cmd)
		if err := b.command(ctx, appDir, home, s.cmd, logf); err != nil {
			return "", fmt.Errorf("step #%d %q: %w", n, s.name, err)
		}
		n++
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	digest, err := TreeDigest(src)
	if err != nil {
		return "", err
	}
	if err := b.publishImage(src, j.image); err != nil {
		return "", err
	}
	b.logf(j, "DONE %s", digest)
	return digest, nil
}

// materialize writes the source tree into src (which must not exist).
func (b *Builder) materialize(ctx context.Context, s build.Source, src string) error {
	if s.Archive != "" {
		rc, err := b.cfg.Sources.Open(ctx, s.Archive)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = archive.ExtractTarGz(ctxReader{ctx, rc}, src, b.cfg.Limits)
		return err
	}
	dir, err := localRepo(s.RepoURL)
	if err != nil {
		return err
	}
	// Copy through an archive: the same containment checks and limits as an upload.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.CreateTarGz(pw, dir)) }()
	_, err = archive.ExtractTarGz(ctxReader{ctx, pr}, src, b.cfg.Limits)
	pr.CloseWithError(errors.New("extraction ended"))
	return err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// appDir returns the app directory inside src; it must be a directory of the tree (links inside
// the tree were checked on extraction, and os.Root refuses any way out).
func appDir(src, rel string) (string, error) {
	if rel == "" || rel == "." {
		return src, nil
	}
	root, err := os.OpenRoot(src)
	if err != nil {
		return "", err
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("app dir %q is not a directory of the source", rel)
	}
	return filepath.Join(src, rel), nil
}

// command runs cmd with Shell -c in dir, output appended to the log, environment PATH and HOME
// only. Its process group is killed when ctx ends, and after it exits (no background process
// outlives its step).
func (b *Builder) command(ctx context.Context, dir, home, cmd string, log *os.File) error {
	c := exec.CommandContext(ctx, b.cfg.Shell, "-c", cmd)
	c.Dir = dir
	c.Env = []string{"PATH=" + b.path, "HOME=" + home}
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = sysProcAttr()
	c.Cancel = func() error { return killGroup(c.Process.Pid) }
	c.WaitDelay = 5 * time.Second
	err := c.Run()
	if c.Process != nil {
		_ = killGroup(c.Process.Pid)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			return fmt.Errorf("exit status %d", ee.ExitCode())
		}
		return err
	}
	return nil
}

// publishImage moves the prepared tree to the image directory, replacing an earlier one.
func (b *Builder) publishImage(src, image string) error {
	b.imageMu.Lock()
	defer b.imageMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(image), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(image); err != nil {
		return err
	}
	return os.Rename(src, image)
}

// logf appends one line of the builder's own to the build log.
func (b *Builder) logf(j *job, format string, args ...any) {
	f, err := os.OpenFile(j.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// logTail is the end of the log: at most tailLines lines and tailBytes bytes, valid UTF-8.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-tailBytes, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	buf = bytes.TrimRight(buf, "\n")
	lines := bytes.Split(buf, []byte("\n"))
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line was cut
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	s := string(bytes.Join(lines, []byte("\n")))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
