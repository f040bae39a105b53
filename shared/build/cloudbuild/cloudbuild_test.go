package cloudbuild_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/buildtest"
	"github.com/runyard/runyard/shared/build/cloudbuild"
)

const (
	project = "runyard-test"
	repo    = "us-central1-docker.pkg.dev/runyard-test/runyard-images"
	sa      = "projects/runyard-test/serviceAccounts/builder@runyard-test.iam.gserviceaccount.com"
	commit  = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
	digest  = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func baseConfig() cloudbuild.Config {
	return cloudbuild.Config{ProjectID: project, ArtifactRepo: repo}
}

// newBuilder returns a Builder over a FakeCloudBuild driven by the real client.
func newBuilder(tb testing.TB, cfg cloudbuild.Config) (*buildtest.FakeCloudBuild, *cloudbuild.Builder) {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	fake, c := buildtest.NewFake(tb)
	return fake, cloudbuild.NewFromClient(c, cfg)
}

func packDigestStep(image string) *cloudbuildpb.BuildStep {
	return &cloudbuildpb.BuildStep{
		Id:         "digest",
		Name:       "gcr.io/cloud-builders/gcloud",
		Entrypoint: "bash",
		Env:        []string{"IMAGE=" + image},
		Args:       []string{"-c", `gcloud artifacts docker images describe "$$IMAGE" --format='value(image_summary.digest)' > "$$BUILDER_OUTPUT/output"`},
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	regional := baseConfig()
	regional.Region = "us-central1"
	regional.ServiceAccount = sa
	regional.MachineType = "E2_HIGHCPU_8"
	regional.Timeout = 15 * time.Minute
	regional.Builder = "gcr.io/buildpacks/builder:v1"

	gitKey := build.GitCacheKey("https://github.com/acme/shop.git", commit)
	tests := []struct {
		name string
		cfg  cloudbuild.Config
		req  build.Request
		want *cloudbuildpb.CreateBuildRequest
	}{
		{
			name: "git buildpacks regional with service account",
			cfg:  regional,
			req: build.Request{
				Tenant: "acme", BuildID: "b-01", CacheKey: gitKey,
				Source: build.Source{RepoURL: "https://github.com/acme/shop.git", Ref: "main", Commit: commit},
				AppDir: "apps/web/",
			},
			want: &cloudbuildpb.CreateBuildRequest{
				Parent:    "projects/runyard-test/locations/us-central1",
				ProjectId: project,
				Build: &cloudbuildpb.Build{
					Source: &cloudbuildpb.Source{Source: &cloudbuildpb.Source_GitSource{GitSource: &cloudbuildpb.GitSource{
						Url: "https://github.com/acme/shop.git", Revision: commit,
					}}},
					Steps: []*cloudbuildpb.BuildStep{
						{
							Id: "build", Name: "gcr.io/k8s-skaffold/pack", Entrypoint: "pack",
							Args: []string{"build", repo + "/acme:b-01",
								"--builder", "gcr.io/buildpacks/builder:v1",
								"--network", "cloudbuild",
								"--path", "apps/web",
								"--cache-image", repo + "/acme-cache:latest",
								"--publish"},
						},
						packDigestStep(repo + "/acme:b-01"),
					},
					Tags:           []string{"runyard", "tenant-acme", "build-b-01", cloudbuild.CacheTag(gitKey)},
					Timeout:        durationpb.New(15 * time.Minute),
					ServiceAccount: sa,
					Options: &cloudbuildpb.BuildOptions{
						MachineType: cloudbuildpb.BuildOptions_E2_HIGHCPU_8,
						Logging:     cloudbuildpb.BuildOptions_CLOUD_LOGGING_ONLY,
					},
				},
			},
		},
		{
			name: "archive static global",
			cfg:  baseConfig(),
			req: build.Request{
				Tenant: "globex", BuildID: "b-02", Strategy: build.StrategyStatic,
				Source: build.Source{Archive: "gs://runyard-sources/globex/b-02.tar.gz"},
			},
			want: &cloudbuildpb.CreateBuildRequest{
				Parent:    "projects/runyard-test",
				ProjectId: project,
				Build: &cloudbuildpb.Build{
					Source: &cloudbuildpb.Source{Source: &cloudbuildpb.Source_StorageSource{StorageSource: &cloudbuildpb.StorageSource{
						Bucket: "runyard-sources", Object: "globex/b-02.tar.gz",
					}}},
					Steps: []*cloudbuildpb.BuildStep{
						{
							Id: "build", Name: "gcr.io/k8s-skaffold/pack", Entrypoint: "pack",
							Args: []string{"build", repo + "/globex:b-02",
								"--builder", "gcr.io/buildpacks/builder",
								"--network", "cloudbuild",
								"--path", ".",
								"--cache-image", repo + "/globex-cache:latest",
								"--publish"},
						},
						packDigestStep(repo + "/globex:b-02"),
					},
					Tags:    []string{"runyard", "tenant-globex", "build-b-02"},
					Timeout: durationpb.New(20 * time.Minute),
					Options: &cloudbuildpb.BuildOptions{},
				},
			},
		},
		{
			name: "dockerfile at a ref in a subdirectory",
			cfg:  baseConfig(),
			req: build.Request{
				Tenant: "initech", BuildID: "b-03", Strategy: build.StrategyDockerfile, CacheKey: "lock:npm:abc",
				Source: build.Source{RepoURL: "https://gitlab.com/initech/tps.git", Ref: "refs/heads/release"},
				AppDir: "services/api",
			},
			want: &cloudbuildpb.CreateBuildRequest{
				Parent:    "projects/runyard-test",
				ProjectId: project,
				Build: &cloudbuildpb.Build{
					Source: &cloudbuildpb.Source{Source: &cloudbuildpb.Source_GitSource{GitSource: &cloudbuildpb.GitSource{
						Url: "https://gitlab.com/initech/tps.git", Revision: "refs/heads/release",
					}}},
					Steps: []*cloudbuildpb.BuildStep{
						{
							Id: "pull-cache", Name: "gcr.io/cloud-builders/docker", Entrypoint: "bash",
							Args: []string{"-c", "docker pull " + repo + "/initech-cache:latest || exit 0"},
						},
						{
							Id: "build", Name: "gcr.io/cloud-builders/docker",
							Args: []string{"build",
								"-t", repo + "/initech:b-03",
								"-t", repo + "/initech-cache:latest",
								"--cache-from", repo + "/initech-cache:latest",
								"--build-arg", "BUILDKIT_INLINE_CACHE=1",
								"services/api"},
						},
					},
					Images:  []string{repo + "/initech:b-03", repo + "/initech-cache:latest"},
					Tags:    []string{"runyard", "tenant-initech", "build-b-03", cloudbuild.CacheTag("lock:npm:abc")},
					Timeout: durationpb.New(20 * time.Minute),
					Options: &cloudbuildpb.BuildOptions{},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, b := newBuilder(t, tc.cfg)
			built, err := b.BuildRequest(tc.req)
			if err != nil {
				t.Fatalf("BuildRequest: %v", err)
			}
			if diff := cmp.Diff(tc.want, built, protocmp.Transform()); diff != "" {
				t.Errorf("BuildRequest (-want +got):\n%s", diff)
			}
			got, err := b.Start(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 {
				t.Fatalf("fake received %d CreateBuild requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(tc.want, reqs[0], protocmp.Transform()); diff != "" {
				t.Errorf("CreateBuild request (-want +got):\n%s", diff)
			}
			stored := fake.Builds()
			if len(stored) != 1 || stored[0].GetStatus() != cloudbuildpb.Build_QUEUED {
				t.Fatalf("stored builds = %v, want one QUEUED", stored)
			}
			want := build.Started{
				ExternalID: stored[0].GetId(),
				LogURL:     stored[0].GetLogUrl(),
				Status:     build.StatusQueued,
				Image:      repo + "/" + tc.req.Tenant + ":" + tc.req.BuildID,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Start (-want +got):\n%s", diff)
			}
			if got.ExternalID == "" || got.LogURL == "" {
				t.Errorf("Start = %+v, want an id and a log URL", got)
			}
			if n := fake.Calls("GetOperation"); n != 0 {
				t.Errorf("Start polled the operation %d times, want 0 (it must not wait)", n)
			}
		})
	}
}

func TestStartInvalid(t *testing.T) {
	t.Parallel()
	ok := build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{RepoURL: "https://github.com/acme/shop.git"}}
	with := func(f func(r *build.Request)) build.Request { r := ok; f(&r); return r }
	tests := []struct {
		name    string
		req     build.Request
		wantErr string
	}{
		{"no tenant", with(func(r *build.Request) { r.Tenant = "" }), "tenant"},
		{"uppercase tenant", with(func(r *build.Request) { r.Tenant = "Acme" }), "tenant"},
		{"tenant with slash", with(func(r *build.Request) { r.Tenant = "acme/x" }), "tenant"},
		{"no build id", with(func(r *build.Request) { r.BuildID = "" }), "build id"},
		{"build id with colon", with(func(r *build.Request) { r.BuildID = "b:1" }), "build id"},
		{"build id too long", with(func(r *build.Request) { r.BuildID = strings.Repeat("b", 123) }), "build id"},
		{"no source", with(func(r *build.Request) { r.Source = build.Source{} }), "neither"},
		{"both sources", with(func(r *build.Request) { r.Source.Archive = "gs://b/o" }), "both"},
		{"local archive", with(func(r *build.Request) { r.Source = build.Source{Archive: "/tmp/src.tgz"} }), "gs://"},
		{"archive without object", with(func(r *build.Request) { r.Source = build.Source{Archive: "gs://bucket/"} }), "gs://"},
		{"ssh repo", with(func(r *build.Request) { r.Source.RepoURL = "git@github.com:acme/shop.git" }), "https"},
		{"option as ref", with(func(r *build.Request) { r.Source.Ref = "--upload-pack=x" }), "revision"},
		{"absolute app dir", with(func(r *build.Request) { r.AppDir = "/etc" }), "app dir"},
		{"escaping app dir", with(func(r *build.Request) { r.AppDir = "a/../../x" }), "app dir"},
		{"substitution in app dir", with(func(r *build.Request) { r.AppDir = "$PROJECT_ID" }), "app dir"},
		{"unknown strategy", with(func(r *build.Request) { r.Strategy = "compose" }), "strategy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, b := newBuilder(t, baseConfig())
			_, err := b.Start(t.Context(), tc.req)
			if !errors.Is(err, build.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Start = %v, want ErrInvalid mentioning %q", err, tc.wantErr)
			}
			if n := fake.Calls("CreateBuild"); n != 0 {
				t.Errorf("CreateBuild called %d times for an invalid request", n)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	req := build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{Archive: "gs://bucket/acme/b1.tgz"}}
	tests := []struct {
		name string
		code codes.Code
		want error
	}{
		{"quota", codes.ResourceExhausted, build.ErrQuota},
		{"deadline", codes.DeadlineExceeded, build.ErrUnavailable},
		{"internal", codes.Internal, build.ErrUnavailable},
		{"unavailable", codes.Unavailable, build.ErrUnavailable},
		{"aborted", codes.Aborted, build.ErrUnavailable},
		{"invalid", codes.InvalidArgument, build.ErrInvalid},
		{"precondition", codes.FailedPrecondition, build.ErrInvalid},
		{"not found", codes.NotFound, build.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, b := newBuilder(t, baseConfig())
			fake.FailNext("CreateBuild", tc.code, 1)
			_, err := b.Start(t.Context(), req)
			if !errors.Is(err, tc.want) {
				t.Errorf("Start = %v, want %v", err, tc.want)
			}
			if got := fake.Builds(); len(got) != 0 {
				t.Errorf("a failed CreateBuild left builds: %v", got)
			}
			if n := fake.Calls("CreateBuild"); n != 1 {
				t.Errorf("CreateBuild called %d times, want 1 (no retry)", n)
			}
		})
	}

	t.Run("permission denied has no sentinel", func(t *testing.T) {
		t.Parallel()
		fake, b := newBuilder(t, baseConfig())
		fake.FailNext("CreateBuild", codes.PermissionDenied, 1)
		_, err := b.Start(t.Context(), req)
		for _, s := range []error{build.ErrQuota, build.ErrUnavailable, build.ErrInvalid, build.ErrNotFound} {
			if errors.Is(err, s) {
				t.Errorf("Start = %v, is %v", err, s)
			}
		}
		if err == nil {
			t.Error("Start succeeded")
		}
	})

	t.Run("the fake refuses a service account without cloud logging", func(t *testing.T) {
		t.Parallel()
		fake, c := buildtest.NewFake(t)
		b := cloudbuild.NewFromClient(c, baseConfig())
		r, err := b.BuildRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Build.ServiceAccount = sa
		_, err = c.CreateBuild(t.Context(), r)
		if err == nil || len(fake.Builds()) != 0 {
			t.Errorf("CreateBuild = %v, want InvalidArgument and nothing stored", err)
		}
	})

	t.Run("invalid config", func(t *testing.T) {
		t.Parallel()
		_, c := buildtest.NewFake(t)
		b := cloudbuild.NewFromClient(c, cloudbuild.Config{ProjectID: project})
		if _, err := b.Start(t.Context(), req); err == nil || !strings.Contains(err.Error(), "artifact repo") {
			t.Errorf("Start = %v, want the config error", err)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	req := build.Request{Tenant: "acme", BuildID: "b1", Source: build.Source{Archive: "gs://bucket/acme/b1.tgz"}}
	tests := []struct {
		name    string
		region  string
		prepare func(fake *buildtest.FakeCloudBuild, id string) string // returns the id to cancel
		want    error
		status  cloudbuildpb.Build_Status
	}{
		{
			name:    "queued",
			prepare: func(_ *buildtest.FakeCloudBuild, id string) string { return id },
			status:  cloudbuildpb.Build_CANCELLED,
		},
		{
			name:   "working regional",
			region: "europe-west1",
			prepare: func(fake *buildtest.FakeCloudBuild, id string) string {
				fake.SetStatus(id, cloudbuildpb.Build_WORKING, "")
				return id
			},
			status: cloudbuildpb.Build_CANCELLED,
		},
		{
			name: "already finished is not an error",
			prepare: func(fake *buildtest.FakeCloudBuild, id string) string {
				fake.SetStatus(id, cloudbuildpb.Build_SUCCESS, digest)
				return id
			},
			status: cloudbuildpb.Build_SUCCESS,
		},
		{
			name:    "unknown",
			prepare: func(*buildtest.FakeCloudBuild, string) string { return "00000000-0000-4000-8000-000000000000" },
			want:    build.ErrNotFound,
			status:  cloudbuildpb.Build_QUEUED,
		},
		{
			name: "unavailable",
			prepare: func(fake *buildtest.FakeCloudBuild, id string) string {
				fake.FailNext("CancelBuild", codes.Unavailable, 1)
				return id
			},
			want:   build.ErrUnavailable,
			status: cloudbuildpb.Build_QUEUED,
		},
		{
			name: "invalid argument on a running build",
			prepare: func(fake *buildtest.FakeCloudBuild, id string) string {
				fake.FailNext("CancelBuild", codes.InvalidArgument, 1)
				return id
			},
			want:   build.ErrInvalid,
			status: cloudbuildpb.Build_QUEUED,
		},
		{
			name:    "bad id",
			prepare: func(*buildtest.FakeCloudBuild, string) string { return "a/b" },
			want:    build.ErrInvalid,
			status:  cloudbuildpb.Build_QUEUED,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig()
			cfg.Region = tc.region
			fake, b := newBuilder(t, cfg)
			started, err := b.Start(t.Context(), req)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			err = b.Cancel(t.Context(), tc.prepare(fake, started.ExternalID))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Cancel = %v, want %v", err, tc.want)
			}
			if got := fake.Build(started.ExternalID).GetStatus(); got != tc.status {
				t.Errorf("status after Cancel = %s, want %s", got, tc.status)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     cloudbuild.Config
		wantErr []string
	}{
		{"minimal", baseConfig(), nil},
		{"full", cloudbuild.Config{
			ProjectID: project, Region: "us-central1", ArtifactRepo: repo + "/", Builder: "gcr.io/buildpacks/builder:v1",
			PackImage: "gcr.io/k8s-skaffold/pack@sha256:" + strings.Repeat("a", 64), ServiceAccount: sa,
			MachineType: "E2_HIGHCPU_32", Timeout: time.Hour, CallTimeout: time.Second,
		}, nil},
		{"empty", cloudbuild.Config{}, []string{"project id", "artifact repo"}},
		{"everything wrong", cloudbuild.Config{
			ProjectID: "P", Region: "US Central", ArtifactRepo: "https://repo", Builder: "Builder!", PackImage: " ",
			ServiceAccount: "builder@x.iam.gserviceaccount.com", MachineType: "HUGE", Timeout: 48 * time.Hour, CallTimeout: -1,
		}, []string{"project id", "region", "artifact repo", "builder", "pack image", "service account", "machine type", "timeout", "call timeout"}},
		{"unspecified machine type", cloudbuild.Config{ProjectID: project, ArtifactRepo: repo, MachineType: "UNSPECIFIED"}, []string{"machine type"}},
		{"fractional timeout", cloudbuild.Config{ProjectID: project, ArtifactRepo: repo, Timeout: 1500 * time.Millisecond}, []string{"timeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	if _, err := cloudbuild.New(t.Context(), cloudbuild.Config{ProjectID: project}); err == nil {
		t.Error("New accepted a config without an artifact repo")
	}
}

func TestConfigParent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, region, want string
	}{
		{"default", "", "projects/runyard-test"},
		{"global", "global", "projects/runyard-test"},
		{"regional", "us-central1", "projects/runyard-test/locations/us-central1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig()
			cfg.Region = tc.region
			if got := cfg.Parent(); got != tc.want {
				t.Errorf("Parent = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCacheTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key string
	}{
		{"git", build.GitCacheKey("https://github.com/acme/shop.git", commit)},
		{"odd characters", "lock:npm:é/ü\x00"},
		{"long", strings.Repeat("k", 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := cloudbuild.CacheTag(tc.key)
			if len(tag) != 35 || !strings.HasPrefix(tag, "ck-") || strings.Trim(tag[3:], "0123456789abcdef") != "" {
				t.Errorf("CacheTag(%q) = %q, want ck- and 32 hex digits", tc.key, tag)
			}
			if cloudbuild.CacheTag(tc.key+"x") == tag {
				t.Errorf("CacheTag ignores the key")
			}
		})
	}
	if got := cloudbuild.CacheTag(""); got != "" {
		t.Errorf("CacheTag(\"\") = %q, want empty", got)
	}
}

// TestLifecycle drives a build through the fake and decodes the notifications it would
// publish: what the consumer of the cloud-builds topic sees for each strategy.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		strategy string
	}{
		{"buildpacks", build.StrategyBuildpacks},
		{"dockerfile", build.StrategyDockerfile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, b := newBuilder(t, baseConfig())
			var (
				mu   sync.Mutex
				seen []build.Status
			)
			fake.Watch(func(pb *cloudbuildpb.Build) {
				attrs, data, err := cloudbuild.EncodeNotification(pb)
				if err != nil {
					t.Errorf("EncodeNotification: %v", err)
					return
				}
				ev, err := cloudbuild.DecodeNotification(attrs, data)
				if err != nil {
					t.Errorf("DecodeNotification: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, ev.Status)
			})
			r := build.Request{Tenant: "acme", BuildID: "b9", Strategy: tc.strategy,
				Source: build.Source{RepoURL: "https://github.com/acme/shop.git", Commit: commit}}
			started, err := b.Start(context.Background(), r)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			fake.SetStatus(started.ExternalID, cloudbuildpb.Build_WORKING, "")
			final := fake.SetStatus(started.ExternalID, cloudbuildpb.Build_SUCCESS, digest)

			attrs, data, err := cloudbuild.EncodeNotification(final)
			if err != nil {
				t.Fatalf("EncodeNotification: %v", err)
			}
			ev, err := cloudbuild.DecodeNotification(attrs, data)
			if err != nil {
				t.Fatalf("DecodeNotification: %v", err)
			}
			want := build.Event{
				ExternalID: started.ExternalID, Status: build.StatusSuccess, Tenant: "acme", BuildID: "b9",
				Image: started.Image, Digest: digest, LogURL: started.LogURL,
				StartTime: final.GetStartTime().AsTime(), FinishTime: final.GetFinishTime().AsTime(),
			}
			if diff := cmp.Diff(want, ev); diff != "" {
				t.Errorf("final event (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]build.Status{build.StatusQueued, build.StatusWorking, build.StatusSuccess}, seen); diff != "" {
				t.Errorf("statuses seen (-want +got):\n%s", diff)
			}
		})
	}
}
