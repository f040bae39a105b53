// Package cloudbuild is the Cloud Build adapter of the build port (build.Builder): it turns a
// build.Request into a Cloud Build build (a pack step with the Google buildpacks builder and a
// per-tenant cache image, or a docker build for a Dockerfile), starts it without waiting, and
// cancels it. It also decodes (and, for the local builder and tests, encodes) the notifications
// Cloud Build publishes on the cloud-builds Pub/Sub topic into build.Event.
//
// See README.md for the build shape and why the digest of a pack build comes back through a
// build step output rather than through Build.Images.
package cloudbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runyard/runyard/shared/build"
)

// Step ids of the builds this package makes. The decoder finds the digest of a pack build in
// the output of the DigestStepID step.
const (
	PullStepID   = "pull-cache"
	BuildStepID  = "build"
	DigestStepID = "digest"
)

// digestScript writes the digest of the image named by $IMAGE to the step's output, which
// Cloud Build reports in Build.Results.BuildStepOutputs. "$$" is Cloud Build's escape for a
// literal "$" (a bare $VAR in args would be taken for a substitution).
const digestScript = `gcloud artifacts docker images describe "$$IMAGE" --format='value(image_summary.digest)' > "$$BUILDER_OUTPUT/output"`

// Builder starts and cancels builds on Cloud Build. It implements build.Builder.
type Builder struct {
	c      *cloudbuild.Client
	owned  bool
	cfg    Config
	cfgErr error
	mt     cloudbuildpb.BuildOptions_MachineType
}

var _ build.Builder = (*Builder)(nil)

// New validates cfg and connects to Cloud Build. Close releases the client.
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := cloudbuild.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudbuild: cloudbuild.NewClient: %w", err)
	}
	b := NewFromClient(c, cfg)
	b.owned = true
	return b, nil
}

// NewFromClient wraps an existing client (which the caller closes). An invalid cfg makes every
// Start fail with cfg's validation error.
func NewFromClient(c *cloudbuild.Client, cfg Config) *Builder {
	b := &Builder{c: c, cfg: cfg.withDefaults(), cfgErr: cfg.Validate()}
	b.mt, _ = machineType(b.cfg.MachineType)
	return b
}

// Close closes the client if New created it.
func (b *Builder) Close() error {
	if !b.owned {
		return nil
	}
	if err := b.c.Close(); err != nil {
		return fmt.Errorf("cloudbuild: Close: %w", err)
	}
	return nil
}

// Image is where a build's image is pushed: <ArtifactRepo>/<tenant>:<buildID>.
func (b *Builder) Image(tenant, buildID string) string {
	return b.cfg.ArtifactRepo + "/" + tenant + ":" + buildID
}

// CacheImage is a tenant's build cache image: <ArtifactRepo>/<tenant>-cache:latest.
func (b *Builder) CacheImage(tenant string) string {
	return b.cfg.ArtifactRepo + "/" + tenant + "-cache:latest"
}

// CacheTag is the Cloud Build tag that marks a build of cacheKey: "ck-" and the first 32 hex
// digits of the key's SHA-256 (a cache key is free-form; its hash always makes a valid tag).
// It is empty for an empty key.
func CacheTag(cacheKey string) string {
	if cacheKey == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(cacheKey))
	return "ck-" + hex.EncodeToString(sum[:])[:32]
}

var (
	// tenantRE: a docker repository path component that also fits a Cloud Build tag.
	tenantRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	// buildIDRE: a docker tag; "build-"+id must also be a Cloud Build tag (≤128).
	buildIDRE = regexp.MustCompile(`^[\w][\w.-]{0,121}$`)
	// appDirRE: the characters allowed in an app directory (no '$', which Cloud Build
	// substitutes, no spaces or shell metacharacters).
	appDirRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	// revisionRE: a commit or a ref git fetch accepts; no leading '-' (an option).
	revisionRE = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./-]*$`)
	// tagRE is the rule Cloud Build applies to build tags.
	tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("cloudbuild: %s: %w", fmt.Sprintf(format, args...), build.ErrInvalid)
}

// appDir checks and cleans r.AppDir; "" and "." mean the source root.
func appDir(dir string) (string, error) {
	if dir == "" || dir == "." {
		return ".", nil
	}
	clean := path.Clean(dir)
	if !appDirRE.MatchString(dir) || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", invalid("app dir %q is not a relative directory inside the source", dir)
	}
	return clean, nil
}

// source maps a build.Source to a Cloud Build source.
func source(s build.Source) (*cloudbuildpb.Source, error) {
	switch {
	case s.RepoURL != "" && s.Archive != "":
		return nil, invalid("source has both a repository and an archive")
	case s.Archive != "":
		rest, ok := strings.CutPrefix(s.Archive, "gs://")
		bucket, object, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || bucket == "" || object == "" || strings.ContainsAny(bucket, " \t\n") {
			return nil, invalid("archive %q is not gs://BUCKET/OBJECT", s.Archive)
		}
		return &cloudbuildpb.Source{Source: &cloudbuildpb.Source_StorageSource{
			StorageSource: &cloudbuildpb.StorageSource{Bucket: bucket, Object: object},
		}}, nil
	case s.RepoURL != "":
		if !strings.HasPrefix(s.RepoURL, "https://") || strings.ContainsAny(s.RepoURL, " \t\n$") {
			return nil, invalid("repository %q is not an https URL", s.RepoURL)
		}
		rev := s.Commit
		if rev == "" {
			rev = s.Ref
		}
		if rev != "" && (!revisionRE.MatchString(rev) || strings.Contains(rev, "..")) {
			return nil, invalid("revision %q is not a commit or ref", rev)
		}
		return &cloudbuildpb.Source{Source: &cloudbuildpb.Source_GitSource{
			GitSource: &cloudbuildpb.GitSource{Url: s.RepoURL, Revision: rev},
		}}, nil
	}
	return nil, invalid("source has neither a repository nor an archive")
}

// BuildRequest is the CreateBuildRequest Start sends for r. Errors wrap build.ErrInvalid when
// r is at fault.
func (b *Builder) BuildRequest(r build.Request) (*cloudbuildpb.CreateBuildRequest, error) {
	if b.cfgErr != nil {
		return nil, b.cfgErr
	}
	if !tenantRE.MatchString(r.Tenant) || !tagRE.MatchString("tenant-"+r.Tenant) {
		return nil, invalid("tenant %q is not a tenant id", r.Tenant)
	}
	if !buildIDRE.MatchString(r.BuildID) {
		return nil, invalid("build id %q is not a build id", r.BuildID)
	}
	src, err := source(r.Source)
	if err != nil {
		return nil, err
	}
	dir, err := appDir(r.AppDir)
	if err != nil {
		return nil, err
	}
	image, cache := b.Image(r.Tenant, r.BuildID), b.CacheImage(r.Tenant)

	bd := &cloudbuildpb.Build{
		Source:  src,
		Tags:    build.Tags(r.Tenant, r.BuildID),
		Timeout: durationpb.New(b.cfg.Timeout),
		Options: &cloudbuildpb.BuildOptions{MachineType: b.mt},
	}
	if t := CacheTag(r.CacheKey); t != "" {
		bd.Tags = append(bd.Tags, t)
	}
	if b.cfg.ServiceAccount != "" {
		bd.ServiceAccount = b.cfg.ServiceAccount
		bd.Options.Logging = cloudbuildpb.BuildOptions_CLOUD_LOGGING_ONLY
	}
	switch r.Strategy {
	case "", build.StrategyBuildpacks, build.StrategyStatic:
		bd.Steps = []*cloudbuildpb.BuildStep{
			{
				Id:         BuildStepID,
				Name:       b.cfg.PackImage,
				Entrypoint: "pack",
				Args: []string{"build", image,
					"--builder", b.cfg.Builder,
					"--network", "cloudbuild",
					"--path", dir,
					"--cache-image", cache,
					"--publish"},
			},
			{
				Id:         DigestStepID,
				Name:       GcloudImage,
				Entrypoint: "bash",
				Env:        []string{"IMAGE=" + image},
				Args:       []string{"-c", digestScript},
			},
		}
	case build.StrategyDockerfile:
		bd.Steps = []*cloudbuildpb.BuildStep{
			{
				Id:         PullStepID,
				Name:       DockerImage,
				Entrypoint: "bash",
				Args:       []string{"-c", "docker pull " + cache + " || exit 0"},
			},
			{
				Id:   BuildStepID,
				Name: DockerImage,
				Args: []string{"build",
					"-t", image,
					"-t", cache,
					"--cache-from", cache,
					"--build-arg", "BUILDKIT_INLINE_CACHE=1",
					dir},
			},
		}
		bd.Images = []string{image, cache}
	default:
		return nil, invalid("strategy %q is not one Cloud Build runs", r.Strategy)
	}
	return &cloudbuildpb.CreateBuildRequest{
		Parent:    b.cfg.Parent(),
		ProjectId: b.cfg.ProjectID,
		Build:     bd,
	}, nil
}

// Start implements build.Builder: it creates the build and answers as soon as Cloud Build
// accepted it (queued), without waiting for the operation.
func (b *Builder) Start(ctx context.Context, r build.Request) (build.Started, error) {
	req, err := b.BuildRequest(r)
	if err != nil {
		return build.Started{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	op, err := b.c.CreateBuild(ctx, req)
	if err != nil {
		return build.Started{}, mapErr("CreateBuild", err)
	}
	meta, err := op.Metadata()
	if err != nil {
		return build.Started{}, fmt.Errorf("cloudbuild: CreateBuild metadata of %s: %w", op.Name(), err)
	}
	if meta.GetBuild().GetId() == "" {
		return build.Started{}, fmt.Errorf("cloudbuild: CreateBuild: operation %s carries no build id", op.Name())
	}
	return build.Started{
		ExternalID: meta.GetBuild().GetId(),
		LogURL:     meta.GetBuild().GetLogUrl(),
		Status:     build.StatusQueued,
		Image:      b.Image(r.Tenant, r.BuildID),
	}, nil
}

// buildName is the resource name of a build: projects/P/builds/ID or
// projects/P/locations/R/builds/ID.
func (b *Builder) buildName(id string) string {
	return b.cfg.Parent() + "/builds/" + id
}

// Cancel implements build.Builder. Cancelling a build that already finished is not an error:
// Cloud Build refuses it (FailedPrecondition or InvalidArgument, an HTTP 400), and Cancel then
// reads the build and answers nil when it is in a terminal status. An unknown id is
// build.ErrNotFound.
func (b *Builder) Cancel(ctx context.Context, externalID string) error {
	if externalID == "" || strings.ContainsAny(externalID, "/ \t\n") {
		return invalid("build id %q is not a Cloud Build id", externalID)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	_, err := b.c.CancelBuild(ctx, &cloudbuildpb.CancelBuildRequest{
		Name: b.buildName(externalID), ProjectId: b.cfg.ProjectID, Id: externalID,
	})
	if err == nil {
		return nil
	}
	if c := status.Code(err); c != codes.FailedPrecondition && c != codes.InvalidArgument {
		return mapErr("CancelBuild", err)
	}
	got, gerr := b.c.GetBuild(ctx, &cloudbuildpb.GetBuildRequest{
		Name: b.buildName(externalID), ProjectId: b.cfg.ProjectID, Id: externalID,
	})
	if gerr == nil && terminal(got.GetStatus()) {
		return nil
	}
	return mapErr("CancelBuild", err)
}

func terminal(s cloudbuildpb.Build_Status) bool {
	switch s {
	case cloudbuildpb.Build_SUCCESS, cloudbuildpb.Build_FAILURE, cloudbuildpb.Build_INTERNAL_ERROR,
		cloudbuildpb.Build_TIMEOUT, cloudbuildpb.Build_CANCELLED, cloudbuildpb.Build_EXPIRED:
		return true
	}
	return false
}

// mapErr wraps err from method with the port's sentinel for its gRPC code.
func mapErr(method string, err error) error {
	var sentinel error
	switch status.Code(err) {
	case codes.ResourceExhausted:
		sentinel = build.ErrQuota
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted:
		sentinel = build.ErrUnavailable
	case codes.InvalidArgument, codes.FailedPrecondition:
		sentinel = build.ErrInvalid
	case codes.NotFound:
		sentinel = build.ErrNotFound
	default:
		if errors.Is(err, context.DeadlineExceeded) {
			sentinel = build.ErrUnavailable
		}
	}
	if sentinel == nil {
		return fmt.Errorf("cloudbuild: %s: %w", method, err)
	}
	return fmt.Errorf("cloudbuild: %s: %w: %w", method, sentinel, err)
}
