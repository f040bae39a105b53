// Package build is the domain of image builds: a build's request and status, the port to the
// service that runs builds (Builder: Cloud Build, or local processes for runyard dev), and the
// decoded form of the status notifications builders publish on the cloud-builds topic.
//
// It imports no cloud SDK: the Cloud Build adapter (shared/build/cloudbuild) maps these types
// to cloudbuildpb and decodes Cloud Build's Pub/Sub notifications into Event.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"
)

// Status is a build's state. Transitions only go forward: queued → working → a terminal state.
type Status string

// Statuses.
const (
	StatusQueued    Status = "queued"
	StatusWorking   Status = "working"
	StatusSuccess   Status = "success"
	StatusFailure   Status = "failure"
	StatusTimeout   Status = "timeout"
	StatusCancelled Status = "cancelled"
)

// stage orders statuses; terminal ones share the last stage.
func (s Status) stage() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusWorking:
		return 2
	case StatusSuccess, StatusFailure, StatusTimeout, StatusCancelled:
		return 3
	}
	return 0
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s.stage() > 0 }

// Terminal reports whether s is final.
func (s Status) Terminal() bool { return s.stage() == 3 }

// Advances reports whether a build in status cur may move to next: only forward, and never
// out of a terminal status (a redelivered or out-of-order notification changes nothing).
func Advances(cur, next Status) bool {
	return next.Valid() && !cur.Terminal() && next.stage() > cur.stage()
}

// Source is what a build builds: a git repository at a commit (or ref), or an uploaded
// archive (a gs:// object in the cloud, a local path under runyard dev).
type Source struct {
	RepoURL string `firestore:"repo_url,omitempty" json:"repo_url,omitempty"`
	Ref     string `firestore:"ref,omitempty" json:"ref,omitempty"`
	Commit  string `firestore:"commit,omitempty" json:"commit,omitempty"`
	Archive string `firestore:"archive,omitempty" json:"archive,omitempty"`
}

// Strategies a Builder knows (detect.Plan.Strategy).
const (
	StrategyBuildpacks = "buildpacks"
	StrategyDockerfile = "dockerfile"
	StrategyStatic     = "static"
)

// Request is one build for a Builder to start.
type Request struct {
	Tenant   string
	BuildID  string
	CacheKey string
	Source   Source
	// Strategy is buildpacks (the default), dockerfile or static.
	Strategy string
	// Commands are the plan's install and build steps (used by the local builder; Cloud Build
	// with buildpacks detects its own).
	InstallCmd, BuildCmd string
	// AppDir is the app's directory inside the source (monorepos).
	AppDir string
}

// Started is what a Builder answers when it accepted a build.
type Started struct {
	// ExternalID is the builder's id (the Cloud Build build id).
	ExternalID string
	LogURL     string
	Status     Status
	// Image is where the image will be pushed (repository:tag, or a local directory).
	Image string
}

// Builder runs builds. Implementations: shared/build/cloudbuild, shared/build/local.
type Builder interface {
	Start(ctx context.Context, r Request) (Started, error)
	Cancel(ctx context.Context, externalID string) error
}

// Errors builders return.
var (
	// ErrQuota: the builder refused for quota; retry later.
	ErrQuota = errors.New("build: builder quota exceeded")
	// ErrUnavailable: the builder failed transiently; retry.
	ErrUnavailable = errors.New("build: builder unavailable")
	// ErrInvalid: the builder rejected the request.
	ErrInvalid = errors.New("build: invalid build request")
	// ErrNotFound: no such build at the builder.
	ErrNotFound = errors.New("build: not found")
)

// Event is one status notification of a build, decoded from what the builder published.
type Event struct {
	ExternalID string
	Status     Status
	Tenant     string
	BuildID    string
	Image      string
	Digest     string
	LogURL     string
	StartTime  time.Time
	FinishTime time.Time
	// Detail is the builder's failure detail, if any.
	Detail string
}

// Tags carry a build's identity through the builder and back in its notifications.
const (
	TagRunyard      = "runyard"
	tagTenantPrefix = "tenant-"
	tagBuildPrefix  = "build-"
)

// Tags returns the builder tags that identify a build (Cloud Build tags: [\w][\w.-]{0,127}).
func Tags(tenant, buildID string) []string {
	return []string{TagRunyard, tagTenantPrefix + tenant, tagBuildPrefix + buildID}
}

// ParseTags finds the tenant and build id in a notification's tags; ok is false unless the
// build is one of ours.
func ParseTags(tags []string) (tenant, buildID string, ok bool) {
	ours := false
	for _, t := range tags {
		switch {
		case t == TagRunyard:
			ours = true
		case strings.HasPrefix(t, tagTenantPrefix):
			tenant = strings.TrimPrefix(t, tagTenantPrefix)
		case strings.HasPrefix(t, tagBuildPrefix):
			buildID = strings.TrimPrefix(t, tagBuildPrefix)
		}
	}
	return tenant, buildID, ours && tenant != "" && buildID != ""
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// ValidCommit reports whether c is a full git commit id (SHA-1 or SHA-256).
func ValidCommit(c string) bool { return commitRE.MatchString(c) }

// GitCacheKey is the cache key of a git source at a full commit: a build of the same
// repository at the same commit is always the same image. It is empty for a ref, which moves.
func GitCacheKey(repoURL, commit string) string {
	if !ValidCommit(commit) {
		return ""
	}
	sum := sha256.Sum256([]byte("git\x00" + repoURL + "\x00" + commit))
	return "git:" + hex.EncodeToString(sum[:])
}

// ImageKey is the document id of a tenant's cached image for a cache key (images/{id}). The
// tenant is part of it: an image holds a tenant's dependencies and is never shared with
// another tenant, whatever their lockfiles.
func ImageKey(tenant, cacheKey string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + cacheKey))
	return tenant + ":" + hex.EncodeToString(sum[:16])
}
