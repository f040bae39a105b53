package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/local"
	"github.com/runyard/runyard/shared/events/eventstest"
	"github.com/runyard/runyard/shared/sources/localdir"
)

// env is a builder with its recorder and source store.
type env struct {
	b       *local.Builder
	rec     *eventstest.Recorder
	store   *localdir.Store
	workDir string
}

func newEnv(tb testing.TB, mod func(*local.Config)) *env {
	tb.Helper()
	store, err := localdir.New(filepath.Join(tb.TempDir(), "sources"))
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{rec: &eventstest.Recorder{}, store: store, workDir: filepath.Join(tb.TempDir(), "work")}
	cfg := local.Config{WorkDir: e.workDir, Sources: store, Publisher: e.rec}
	if mod != nil {
		mod(&cfg)
	}
	e.b, err = local.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // cancel whatever still runs
		_ = e.b.Close(ctx)
	})
	return e
}

// writeTree writes files (name → content; a name ending in "*" is executable) under a new dir.
func writeTree(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// upload archives a tree into the store and returns the archive URI.
func (e *env) upload(tb testing.TB, tenant, buildID string, files map[string]string) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := archive.CreateTarGz(&buf, writeTree(tb, files)); err != nil {
		tb.Fatal(err)
	}
	uri, _, err := e.store.Put(tb.Context(), tenant, buildID, &buf)
	if err != nil {
		tb.Fatal(err)
	}
	return uri
}

// wait returns the decoded notifications of build id once its terminal one arrived.
func (e *env) wait(tb testing.TB, id string) []*cloudbuildpb.Build {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*time.Minute)
	defer cancel()
	var out []*cloudbuildpb.Build
	_, err := e.rec.Wait(ctx, func(msgs []eventstest.Message) bool {
		out = out[:0]
		for _, m := range msgs {
			if m.Attrs["buildId"] != id {
				continue
			}
			out = append(out, decode(tb, m))
		}
		return len(out) > 0 && isTerminal(out[len(out)-1].GetStatus())
	})
	if err != nil {
		tb.Fatalf("build %s did not finish: %v (got %v)", id, err, statuses(out))
	}
	return out
}

func isTerminal(s cloudbuildpb.Build_Status) bool {
	return s != cloudbuildpb.Build_QUEUED && s != cloudbuildpb.Build_WORKING
}

// decode checks a message is a Cloud Build notification and decodes its Build.
func decode(tb testing.TB, m eventstest.Message) *cloudbuildpb.Build {
	tb.Helper()
	if m.Topic != "cloud-builds" {
		tb.Errorf("published on %q, want cloud-builds", m.Topic)
	}
	var b cloudbuildpb.Build
	if err := protojson.Unmarshal(m.Data, &b); err != nil {
		tb.Fatalf("notification data is not a Build: %v", err)
	}
	if m.Attrs["buildId"] != b.GetId() || m.Attrs["status"] != b.GetStatus().String() || len(m.Attrs) != 2 {
		tb.Errorf("attributes %v do not match build %s %s", m.Attrs, b.GetId(), b.GetStatus())
	}
	return &b
}

func statuses(bs []*cloudbuildpb.Build) []string {
	var s []string
	for _, b := range bs {
		s = append(s, b.GetStatus().String())
	}
	return s
}

func TestBuild(t *testing.T) {
	t.Parallel()
	static := map[string]string{"index.html": "<h1>hello</h1>"}
	tests := []struct {
		name         string
		files        map[string]string
		req          build.Request
		wantStatuses []string
		wantImage    map[string]string // files of the image and their content
		wantDetail   string            // in FailureInfo.Detail
		wantType     cloudbuildpb.Build_FailureInfo_FailureType
	}{
		{
			name:         "static site",
			files:        static,
			wantStatuses: []string{"QUEUED", "WORKING", "SUCCESS"},
			wantImage:    map[string]string{"index.html": "<h1>hello</h1>"},
		},
		{
			name:  "node-like",
			files: static,
			req: build.Request{
				InstallCmd: "echo installed > installed.txt",
				BuildCmd:   "mkdir -p dist && cp index.html dist/",
			},
			wantStatuses: []string{"QUEUED", "WORKING", "SUCCESS"},
			wantImage: map[string]string{
				"index.html": "<h1>hello</h1>", "installed.txt": "installed\n", "dist/index.html": "<h1>hello</h1>",
			},
		},
		{
			name:         "app dir",
			files:        map[string]string{"apps/web/index.html": "web", "README": "mono"},
			req:          build.Request{AppDir: "apps/web", BuildCmd: "cp index.html copy.html"},
			wantStatuses: []string{"QUEUED", "WORKING", "SUCCESS"},
			wantImage:    map[string]string{"apps/web/copy.html": "web", "README": "mono"},
		},
		{
			name:         "clean environment",
			files:        static,
			req:          build.Request{BuildCmd: `env | cut -d= -f1 | grep -v -x -e PATH -e HOME -e PWD -e SHLVL -e _ -e OLDPWD > extra.txt; true`},
			wantStatuses: []string{"QUEUED", "WORKING", "SUCCESS"},
			wantImage:    map[string]string{"extra.txt": ""},
		},
		{
			name:         "failing build",
			files:        static,
			req:          build.Request{InstallCmd: "echo ok", BuildCmd: "echo compile error in app.js >&2; exit 3"},
			wantStatuses: []string{"QUEUED", "WORKING", "FAILURE"},
			wantDetail:   "compile error in app.js",
			wantType:     cloudbuildpb.Build_FailureInfo_USER_BUILD_STEP,
		},
		{
			name:         "missing app dir",
			files:        static,
			req:          build.Request{AppDir: "nope"},
			wantStatuses: []string{"QUEUED", "WORKING", "FAILURE"},
			wantDetail:   "not a directory",
			wantType:     cloudbuildpb.Build_FailureInfo_FETCH_SOURCE_FAILED,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			req := tt.req
			req.Tenant, req.BuildID = "acme", "b1"
			req.Source.Archive = e.upload(t, "acme", "b1", tt.files)
			started, err := e.b.Start(t.Context(), req)
			if err != nil {
				t.Fatalf("Start() error = %v", err)
			}
			image := filepath.Join(e.workDir, "images", "acme", "b1")
			wantStarted := build.Started{
				ExternalID: started.ExternalID,
				LogURL:     "file://" + filepath.Join(e.workDir, "builds", started.ExternalID, "build.log"),
				Status:     build.StatusQueued,
				Image:      "file://" + image,
			}
			if diff := cmp.Diff(wantStarted, started); diff != "" || started.ExternalID == "" {
				t.Errorf("Start() (-want +got):\n%s", diff)
			}

			got := e.wait(t, started.ExternalID)
			if diff := cmp.Diff(tt.wantStatuses, statuses(got)); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			for _, b := range got {
				tenant, buildID, ok := build.ParseTags(b.GetTags())
				if diff := cmp.Diff([]any{"acme", "b1", true}, []any{tenant, buildID, ok}); diff != "" {
					t.Errorf("%s tags %v (-want +got):\n%s", b.GetStatus(), b.GetTags(), diff)
				}
				if b.GetId() != started.ExternalID || b.GetLogUrl() != started.LogURL {
					t.Errorf("%s: id %q log %q, want %q %q", b.GetStatus(), b.GetId(), b.GetLogUrl(), started.ExternalID, started.LogURL)
				}
			}
			last := got[len(got)-1]
			if last.GetStartTime() == nil || last.GetFinishTime() == nil {
				t.Errorf("terminal notification without start or finish time")
			}
			if tt.wantImage == nil {
				if !strings.Contains(last.GetFailureInfo().GetDetail(), tt.wantDetail) || last.GetFailureInfo().GetType() != tt.wantType {
					t.Errorf("FailureInfo = %v, want type %v and detail with %q", last.GetFailureInfo(), tt.wantType, tt.wantDetail)
				}
				if last.GetResults() != nil {
					t.Errorf("failed build has results %v", last.GetResults())
				}
				return
			}
			images := last.GetResults().GetImages()
			if len(images) != 1 || images[0].GetName() != started.Image {
				t.Fatalf("Results.Images = %v, want one named %s", images, started.Image)
			}
			digest, err := local.TreeDigest(image)
			if err != nil {
				t.Fatal(err)
			}
			if images[0].GetDigest() != digest || !strings.HasPrefix(digest, "sha256:") {
				t.Errorf("digest = %q, tree digest %q", images[0].GetDigest(), digest)
			}
			for name, want := range tt.wantImage {
				b, err := os.ReadFile(filepath.Join(image, name))
				if err != nil {
					t.Errorf("image: %v", err)
					continue
				}
				if string(b) != want {
					t.Errorf("image %s = %q, want %q", name, b, want)
				}
			}
		})
	}
}

func TestSameTreeSameDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	files := map[string]string{"index.html": "same", "bin/run*": "#!/bin/sh\n"}
	req := build.Request{Tenant: "acme", BuildID: "a", BuildCmd: "mkdir -p dist && cp index.html dist/"}
	req.Source.Archive = e.upload(t, "acme", "a", files)
	first := digestOf(t, e, req)

	req.BuildID = "b"
	req.Source = build.Source{RepoURL: "file://" + writeTree(t, files)} // a local directory this time
	second := digestOf(t, e, req)
	if first != second {
		t.Errorf("same tree, digests %s and %s", first, second)
	}

	req.BuildID = "c"
	req.Source = build.Source{RepoURL: "file://" + writeTree(t, map[string]string{"index.html": "other", "bin/run*": "#!/bin/sh\n"})}
	if third := digestOf(t, e, req); third == first {
		t.Errorf("different trees, same digest %s", third)
	}
}

func digestOf(tb testing.TB, e *env, req build.Request) string {
	tb.Helper()
	started, err := e.b.Start(tb.Context(), req)
	if err != nil {
		tb.Fatal(err)
	}
	got := e.wait(tb, started.ExternalID)
	last := got[len(got)-1]
	if last.GetStatus() != cloudbuildpb.Build_SUCCESS {
		tb.Fatalf("build %s: %s %v", req.BuildID, last.GetStatus(), last.GetFailureInfo())
	}
	return last.GetResults().GetImages()[0].GetDigest()
}

// startSleeper starts a build that sleeps and returns once its command runs.
func startSleeper(tb testing.TB, e *env) build.Started {
	tb.Helper()
	req := build.Request{Tenant: "acme", BuildID: "slow", BuildCmd: "touch started; sleep 60"}
	req.Source.Archive = e.upload(tb, "acme", "slow", map[string]string{"index.html": "x"})
	started, err := e.b.Start(tb.Context(), req)
	if err != nil {
		tb.Fatal(err)
	}
	marker := filepath.Join(e.workDir, "builds", started.ExternalID, "src", "started")
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	for {
		if _, err := os.Stat(marker); err == nil {
			return started
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the build command never started: %v", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	started := startSleeper(t, e)
	if err := e.b.Cancel(t.Context(), started.ExternalID); err != nil {
		t.Fatalf("Cancel() error = %v", err)
	}
	got := e.wait(t, started.ExternalID)
	if diff := cmp.Diff([]string{"QUEUED", "WORKING", "CANCELLED"}, statuses(got)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if err := e.b.Cancel(t.Context(), started.ExternalID); err != nil {
		t.Errorf("Cancel() of a finished build error = %v, want nil", err)
	}
	if err := e.b.Cancel(t.Context(), "no-such-build"); !errors.Is(err, build.ErrNotFound) {
		t.Errorf("Cancel(unknown) error = %v, want %v", err, build.ErrNotFound)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *local.Config) { c.Timeout = 3 * time.Second }) // the build sleeps 60 s
	req := build.Request{Tenant: "acme", BuildID: "slow", BuildCmd: "sleep 60"}
	req.Source.Archive = e.upload(t, "acme", "slow", map[string]string{"index.html": "x"})
	started, err := e.b.Start(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := e.wait(t, started.ExternalID)
	if diff := cmp.Diff([]string{"QUEUED", "WORKING", "TIMEOUT"}, statuses(got)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestCloseCancelsWhenContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	started := startSleeper(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := e.b.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close() error = %v, want %v", err, context.Canceled)
	}
	// Close returned: the build has already published its end.
	msgs := e.rec.Messages()
	last := decode(t, msgs[len(msgs)-1])
	if last.GetId() != started.ExternalID || last.GetStatus() != cloudbuildpb.Build_CANCELLED {
		t.Errorf("last notification %s %s, want %s CANCELLED", last.GetId(), last.GetStatus(), started.ExternalID)
	}
}

func TestStartAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	req := build.Request{Tenant: "acme", BuildID: "b1"}
	req.Source.Archive = e.upload(t, "acme", "b1", map[string]string{"index.html": "x"})
	if _, err := e.b.Start(t.Context(), req); !errors.Is(err, build.ErrUnavailable) {
		t.Errorf("Start() after Close error = %v, want %v", err, build.ErrUnavailable)
	}
}

func TestPublishFailureDoesNotStopTheBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.rec.FailNext(errors.New("pubsub down"))
	req := build.Request{Tenant: "acme", BuildID: "b1"}
	req.Source.Archive = e.upload(t, "acme", "b1", map[string]string{"index.html": "x"})
	started, err := e.b.Start(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"WORKING", "SUCCESS"}, statuses(e.wait(t, started.ExternalID))); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestStartInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	acme := e.upload(t, "acme", "b1", map[string]string{"index.html": "x"})
	other := e.upload(t, "other", "b1", map[string]string{"index.html": "x"})
	tests := []struct {
		name string
		req  build.Request
	}{
		{"bad tenant", build.Request{Tenant: "../acme", BuildID: "b1", Source: build.Source{Archive: acme}}},
		{"bad build id", build.Request{Tenant: "acme", BuildID: "../b1", Source: build.Source{Archive: acme}}},
		{"another tenant's archive", build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{Archive: other}}},
		{"git remote", build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{RepoURL: "https://github.com/x/y"}}},
		{"missing directory", build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{RepoURL: "file:///no/such/dir"}}},
		{"no source", build.Request{Tenant: "acme", BuildID: "b1"}},
		{"two sources", build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{Archive: acme, RepoURL: "file:///tmp"}}},
		{"app dir outside", build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{Archive: acme}, AppDir: "../x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := e.b.Start(t.Context(), tt.req); !errors.Is(err, build.ErrInvalid) {
				t.Errorf("Start() error = %v, want %v", err, build.ErrInvalid)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	_, err := local.New(local.Config{})
	for _, want := range []string{"WorkDir", "Sources", "Publisher"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(empty) error = %v, want it to name %s", err, want)
		}
	}
}

func TestTreeDigest(t *testing.T) {
	t.Parallel()
	base := map[string]string{"a.txt": "a", "d/b.txt": "b", "run*": "#!"}
	digest := func(files map[string]string) string {
		d, err := local.TreeDigest(writeTree(t, files))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	with := func(k, v string, drop ...string) map[string]string {
		m := map[string]string{}
		for n, c := range base {
			if !slices.Contains(drop, n) {
				m[n] = c
			}
		}
		m[k] = v
		return m
	}
	want := digest(base)
	if got := digest(base); got != want {
		t.Errorf("same tree: %s, %s", got, want)
	}
	for name, files := range map[string]map[string]string{
		"content":  with("a.txt", "A"),
		"new file": with("c.txt", ""),
		"renamed":  with("e/b.txt", "b", "d/b.txt"),
		"exec bit": with("run", "#!", "run*"),
		"framing":  with("a.txt", "a\x00Fd/b.txt"),
	} {
		if got := digest(files); got == want {
			t.Errorf("%s: digest unchanged", name)
		}
	}
}
