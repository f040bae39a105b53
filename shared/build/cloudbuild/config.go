package cloudbuild

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
)

// Defaults.
const (
	DefaultRegion      = "global"
	DefaultBuilder     = "gcr.io/buildpacks/builder"
	DefaultPackImage   = "gcr.io/k8s-skaffold/pack"
	DefaultTimeout     = 20 * time.Minute
	DefaultCallTimeout = 30 * time.Second

	// DockerImage runs the Dockerfile strategy's steps.
	DockerImage = "gcr.io/cloud-builders/docker"
	// GcloudImage runs the step that reports the digest of the image pack published.
	GcloudImage = "gcr.io/cloud-builders/gcloud"

	// MaxTimeout is Cloud Build's upper bound on a build's timeout.
	MaxTimeout = 24 * time.Hour
)

// Config says where and how builds run.
type Config struct {
	// ProjectID is the project that runs the builds (required).
	ProjectID string
	// Region is the Cloud Build region; "global" (the default) uses projects/P, anything else
	// projects/P/locations/R.
	Region string
	// ArtifactRepo is the Artifact Registry repository the images are pushed to, without a
	// trailing slash, e.g. "us-central1-docker.pkg.dev/P/runyard-images" (required).
	ArtifactRepo string
	// Builder is the buildpacks builder image (default DefaultBuilder).
	Builder string
	// PackImage is the image of the step that runs pack (default DefaultPackImage).
	PackImage string
	// ServiceAccount, if set, runs builds as projects/P/serviceAccounts/EMAIL; builds then log
	// to Cloud Logging only (the default logs bucket refuses user-specified accounts).
	ServiceAccount string
	// MachineType is a cloudbuildpb.BuildOptions_MachineType name, e.g. "E2_HIGHCPU_8"; empty
	// is Cloud Build's default.
	MachineType string
	// Timeout bounds a build, counted from its start (default DefaultTimeout).
	Timeout time.Duration
	// CallTimeout bounds each Cloud Build API call (default DefaultCallTimeout).
	CallTimeout time.Duration
}

var (
	projectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z][a-z0-9.-]*:[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	// repoRE: HOST[:PORT]/path with lowercase docker path components, no tag or digest.
	repoRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	// imageRE: a builder image reference: repository with an optional tag or digest.
	imageRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
	saRE    = regexp.MustCompile(`^projects/[^/\s]+/serviceAccounts/[^/\s@]+@[^/\s@]+$`)
)

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Builder == "" {
		c.Builder = DefaultBuilder
	}
	if c.PackImage == "" {
		c.PackImage = DefaultPackImage
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	c.ArtifactRepo = strings.TrimSuffix(c.ArtifactRepo, "/")
	return c
}

// Validate reports every problem with c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !projectRE.MatchString(c.ProjectID) {
		errs = append(errs, fmt.Errorf("cloudbuild: project id %q is not a project id", c.ProjectID))
	}
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("cloudbuild: region %q is not a region", c.Region))
	}
	if !repoRE.MatchString(c.ArtifactRepo) {
		errs = append(errs, fmt.Errorf("cloudbuild: artifact repo %q is not HOST/PROJECT/REPOSITORY", c.ArtifactRepo))
	}
	if !imageRE.MatchString(c.Builder) {
		errs = append(errs, fmt.Errorf("cloudbuild: builder %q is not an image reference", c.Builder))
	}
	if !imageRE.MatchString(c.PackImage) {
		errs = append(errs, fmt.Errorf("cloudbuild: pack image %q is not an image reference", c.PackImage))
	}
	if c.ServiceAccount != "" && !saRE.MatchString(c.ServiceAccount) {
		errs = append(errs, fmt.Errorf("cloudbuild: service account %q is not projects/P/serviceAccounts/EMAIL", c.ServiceAccount))
	}
	if _, err := machineType(c.MachineType); err != nil {
		errs = append(errs, err)
	}
	if c.Timeout <= 0 || c.Timeout > MaxTimeout || c.Timeout%time.Second != 0 {
		errs = append(errs, fmt.Errorf("cloudbuild: timeout %s is not whole seconds in (0, %s]", c.Timeout, MaxTimeout))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("cloudbuild: call timeout %s is not positive", c.CallTimeout))
	}
	return errors.Join(errs...)
}

// machineType parses a MachineType name; empty is UNSPECIFIED.
func machineType(name string) (cloudbuildpb.BuildOptions_MachineType, error) {
	if name == "" {
		return cloudbuildpb.BuildOptions_UNSPECIFIED, nil
	}
	v, ok := cloudbuildpb.BuildOptions_MachineType_value[name]
	if !ok || v == int32(cloudbuildpb.BuildOptions_UNSPECIFIED) {
		return 0, fmt.Errorf("cloudbuild: machine type %q is not a Cloud Build machine type", name)
	}
	return cloudbuildpb.BuildOptions_MachineType(v), nil
}

// Parent is the resource name builds are created under: projects/P, or
// projects/P/locations/R outside the global region.
func (c Config) Parent() string {
	c = c.withDefaults()
	if c.Region == DefaultRegion {
		return "projects/" + c.ProjectID
	}
	return "projects/" + c.ProjectID + "/locations/" + c.Region
}

// EnvConfig is the part of a function's configuration that selects Cloud Build, read from the
// environment (go-envconfig tags). Functions that start builds embed it.
type EnvConfig struct {
	// ArtifactRepo is the Artifact Registry repository images go to.
	ArtifactRepo string `env:"BUILD_ARTIFACT_REPO"`
	// Region of Cloud Build ("global" or a region).
	Region string `env:"BUILD_REGION, default=global"`
	// ServiceAccount runs the builds (projects/P/serviceAccounts/EMAIL); empty = Cloud Build's default.
	ServiceAccount string `env:"BUILD_SERVICE_ACCOUNT"`
	// MachineType of build workers, e.g. E2_HIGHCPU_8; empty = default.
	MachineType string `env:"BUILD_MACHINE_TYPE"`
	// Timeout of one build.
	Timeout time.Duration `env:"BUILD_TIMEOUT, default=20m"`
}

// Config returns the builder Config for projectID.
func (e EnvConfig) Config(projectID string) Config {
	return Config{ProjectID: projectID, Region: e.Region, ArtifactRepo: e.ArtifactRepo,
		ServiceAccount: e.ServiceAccount, MachineType: e.MachineType, Timeout: e.Timeout}
}
