// Package repos is the domain of repository connections: a tenant connects a GitHub
// repository (tenants/{t}/repos/{id}), gets a webhook URL and a signing secret shown once, and
// pushes to its default branch become prebuilds (tenants/{t}/pushes/{id} records each push
// handled, the idempotency ledger records each webhook delivery).
//
// Two entry points share the records: Service, used by the api function, authorizes a tenant
// caller and audits connect/disconnect in the same transaction as the change; Hooks, used by
// the githubhook function, finds a connection and its signing secret and claims deliveries.
// The webhook signing secret lives only in the secrets backend (Secret Manager) under the
// tenant's reserved name RUNYARD_REPO_<ID>; no record, log line, audit event or listing holds it.
//
// It imports no cloud SDK: the store and the secrets manager are ports.
package repos

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/tenancy"
)

// Collection names under tenants/{tenant}.
const (
	// KindRepos holds the connections: tenants/{t}/repos/{id}.
	KindRepos = "repos"
	// KindRepoURLs indexes connections by URL so a repository is connected once per tenant:
	// tenants/{t}/repourls/{sha256 of the lower-cased URL}.
	KindRepoURLs = "repourls"
	// KindPushes records each handled push: tenants/{t}/pushes/{repo}-{commit}.
	KindPushes = "pushes"
)

// Kinds lists every collection this package writes under a tenant (tenant deletion removes them).
var Kinds = []string{KindRepos, KindRepoURLs, KindPushes}

// Actions of this package, checked through tenancy's permission table.
const (
	// ActList reads connections (GET …/repos[/{id}]): members.
	ActList = tenancy.ActReposList
	// ActWrite connects and disconnects repositories: admins.
	ActWrite = tenancy.ActReposWrite
)

// ProviderGitHub is the only provider so far.
const ProviderGitHub = "github"

// SecretPrefix starts every secret name this package uses in a tenant's secrets; tenant
// secrets (tenancy's PUT /secrets) must not use it.
const SecretPrefix = "RUNYARD_"

// secretNamePrefix names a connection's webhook secret: RUNYARD_REPO_<ID in upper case>.
const secretNamePrefix = SecretPrefix + "REPO_"

// SecretName is the secrets-backend name of connection id's webhook signing secret.
func SecretName(id string) string { return secretNamePrefix + strings.ToUpper(id) }

// Errors callers branch on. Errors that mean the same thing as a tenancy error wrap it too,
// so the api function's error mapping answers them without knowing this package.
var (
	// ErrInvalidURL: the repository URL is not an allowed https://host/owner/name.
	ErrInvalidURL = fmt.Errorf("repos: invalid repository url: %w", tenancy.ErrInvalid)
	// ErrInvalidBranch: the default branch is not a valid branch name.
	ErrInvalidBranch = fmt.Errorf("repos: invalid branch: %w", tenancy.ErrInvalid)
	// ErrNotFound: no such connection (or tenant).
	ErrNotFound = fmt.Errorf("repos: not found: %w", tenancy.ErrNotFound)
	// ErrExists: the repository is already connected to the tenant.
	ErrExists = fmt.Errorf("repos: already connected: %w", tenancy.ErrExists)
	// ErrUnavailable: the secrets backend (or the store) failed transiently; retry.
	ErrUnavailable = fmt.Errorf("repos: backend unavailable: %w", tenancy.ErrUnavailable)
)

// Repo is the document tenants/{t}/repos/{id}.
type Repo struct {
	ID       string `firestore:"id" json:"id"`
	Provider string `firestore:"provider" json:"provider"`
	// RepoURL is https://<host>/<owner>/<name>, normalized (no .git, no trailing slash).
	RepoURL       string    `firestore:"repo_url" json:"repo_url"`
	DefaultBranch string    `firestore:"default_branch" json:"default_branch"`
	CreatedAt     time.Time `firestore:"created_at" json:"created_at"`
	CreatedBy     string    `firestore:"created_by" json:"created_by"`
	// HookSecretRef is the name of the signing secret in the tenant's secrets (never its value).
	HookSecretRef string `firestore:"hook_secret_ref" json:"hook_secret_ref"`
	// HookURL is where GitHub posts; computed from Config, not stored.
	HookURL string `firestore:"-" json:"hook_url"`
}

// repoURLIndex is the document tenants/{t}/repourls/{hash}.
type repoURLIndex struct {
	RepoID  string `firestore:"repo_id"`
	RepoURL string `firestore:"repo_url"`
}

// urlIndexID is the index document id of a normalized URL (owner and name are case-insensitive
// on GitHub, so the index is too).
func urlIndexID(repoURL string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(repoURL)))
	return hex.EncodeToString(sum[:])
}

// PushStatus is the state of a handled push.
type PushStatus string

// Push statuses.
const (
	// PushAccepted: claimed, prebuild not (yet) started.
	PushAccepted PushStatus = "accepted"
	// PushStarted: the prebuild started (or was already cached).
	PushStarted PushStatus = "started"
	// PushFailed: starting the prebuild failed; a redelivery or another push of the commit retries.
	PushFailed PushStatus = "failed"
)

// Push is the document tenants/{t}/pushes/{repo}-{commit}: one commit of one connection handled
// by the webhook. Its existence is the commit-level replay guard.
type Push struct {
	ID         string     `firestore:"id" json:"id"`
	Repo       string     `firestore:"repo" json:"repo"`
	RepoURL    string     `firestore:"repo_url" json:"repo_url"`
	Ref        string     `firestore:"ref" json:"ref"`
	Commit     string     `firestore:"commit" json:"commit"`
	Delivery   string     `firestore:"delivery" json:"delivery"`
	Actor      string     `firestore:"actor" json:"actor"`
	Status     PushStatus `firestore:"status" json:"status"`
	BuildID    string     `firestore:"build_id,omitempty" json:"build_id,omitempty"`
	Cached     bool       `firestore:"cached" json:"cached"`
	Error      string     `firestore:"error,omitempty" json:"error,omitempty"`
	ReceivedAt time.Time  `firestore:"received_at" json:"received_at"`
	UpdatedAt  time.Time  `firestore:"updated_at" json:"updated_at"`
}

// PushID is the id of the push record of commit on connection repo.
func PushID(repo, commit string) string { return repo + "-" + commit }

// Config is the repository connections' configuration, embedded in the configs of the
// functions that use it (api, githubhook).
type Config struct {
	// AllowedHosts are the git hosts a connection may point at.
	AllowedHosts []string `env:"RUNYARD_REPO_HOSTS, default=github.com"`
	// HookBaseURL is the public URL of the githubhook function, without a trailing slash:
	// its Cloud Run URL, or <base>/githubhook behind a load balancer and under runyard dev.
	// Hook URLs are <HookBaseURL>/v1/hooks/<tenant>/<repo id>.
	HookBaseURL string `env:"RUNYARD_HOOK_BASE_URL"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(len(c.AllowedHosts) > 0, "RUNYARD_REPO_HOSTS needs at least one host")
	for _, h := range c.AllowedHosts {
		p.Check(hostRE.MatchString(h), "RUNYARD_REPO_HOSTS: %q is not a lower-case host name", h)
	}
	u, err := url.Parse(c.HookBaseURL)
	p.Check(c.HookBaseURL != "" && err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.User == nil && u.RawQuery == "" && u.Fragment == "" && !strings.HasSuffix(c.HookBaseURL, "/"),
		"RUNYARD_HOOK_BASE_URL must be an http(s) URL without query, fragment or trailing slash")
	return p.Err()
}

// HookURL is the webhook URL of connection id of tenant.
func (c *Config) HookURL(tenant, id string) string {
	return c.HookBaseURL + "/v1/hooks/" + tenant + "/" + id
}

// Limits.
const (
	MaxURLLen    = 512
	MaxBranchLen = 255
	// DefaultBranch is used when a connection names none.
	DefaultBranch = "main"
)

var (
	hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$`)
	// ownerRE: GitHub user and organization names.
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,38})$`)
	// nameRE: GitHub repository names.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	idRE   = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	// branchRE is a conservative subset of git's ref name rules; the rest are checked in code.
	branchRE = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
)

// ValidID reports whether id can be a connection id.
func ValidID(id string) bool { return idRE.MatchString(id) }

// NormalizeURL validates a repository URL and returns its canonical form
// https://<host>/<owner>/<name>. It applies build.ValidateRepoURL (https only, the host in
// allowed and not an IP or local name, no user info, query, fragment or port), so a connected
// URL is always one a build may fetch, and then narrows the path to exactly owner/name (a
// trailing "/" or ".git" is dropped) of printable ASCII. Errors wrap ErrInvalidURL and never
// echo the URL.
func NormalizeURL(raw string, allowed []string) (string, error) {
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %s", ErrInvalidURL, why) }
	if raw == "" || len(raw) > MaxURLLen {
		return bad(fmt.Sprintf("must be 1-%d characters", MaxURLLen))
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f || r == '%' || r == '\\' || r > 0x7e {
			return bad("must be printable ASCII without spaces, '%' or '\\'")
		}
	}
	if strings.ContainsAny(raw, "?#") {
		return bad("must not have a query or fragment")
	}
	canonical, err := build.ValidateRepoURL(raw, allowed)
	if err != nil {
		return bad(strings.TrimPrefix(strings.TrimPrefix(err.Error(), build.ErrRepoURL.Error()), ": "))
	}
	if orig, err := url.Parse(raw); err != nil || strings.Contains(orig.Host, ":") {
		return bad("must not name a port") // build.ValidateRepoURL lets an empty port (host:) through
	}
	u, err := url.Parse(canonical)
	if err != nil {
		return bad("not a URL")
	}
	owner, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || !ownerRE.MatchString(owner) || !nameRE.MatchString(name) || name == "." || name == ".." ||
		strings.HasSuffix(owner, "-") {
		return bad("the path must be /owner/name")
	}
	return "https://" + u.Host + "/" + owner + "/" + name, nil
}

// SameRepo reports whether two normalized URLs name the same repository (GitHub owner and
// repository names are case-insensitive).
func SameRepo(a, b string) bool { return strings.EqualFold(a, b) }

// CheckBranch validates a branch name (a subset of git check-ref-format) and returns it, or
// DefaultBranch when empty.
func CheckBranch(b string) (string, error) {
	if b == "" {
		return DefaultBranch, nil
	}
	bad := func() (string, error) {
		return "", fmt.Errorf("%w: a branch is 1-%d characters of A-Z, a-z, 0-9 and ._/+-, without '..', '//' or a leading '-', '/' or '.'", ErrInvalidBranch, MaxBranchLen)
	}
	if len(b) > MaxBranchLen || !branchRE.MatchString(b) || strings.Contains(b, "..") || strings.Contains(b, "//") ||
		strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasPrefix(b, ".") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "/.") || b == "HEAD" {
		return bad()
	}
	return b, nil
}

// now is the time records carry: UTC, at Firestore's microsecond precision, so a record
// returned equals the record read back.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// errorIs is errors.Is over several targets.
func errorIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
