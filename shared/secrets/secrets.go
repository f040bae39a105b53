// Package secrets is the port to the store of tenant secrets: credentials (LLM keys, Git tokens,
// package registry tokens) a tenant gives its runtimes without Runyard's database, logs or API
// ever holding the plain value.
//
// Each (tenant, name) pair is one secret, SecretID(tenant, name) = "rt-<tenant>-<name>", whose
// versions are the successive values (a rotation is another Put). Names are environment-variable
// safe (ValidName); values are 1 byte to MaxValueBytes. The adapters are subpackages: secretmanager
// (Google Secret Manager, plus the Cloud Run injection contract) and local (an encrypted file for
// the local stack); secretstest holds the conformance suite and a Secret Manager gRPC fake.
//
// Values never appear in an error, a log line or the String/GoString form of anything this
// package or its adapters define; invalid input is described, not echoed, in errors.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"github.com/runyard/runyard/shared/ids"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotFound: the secret (or the version asked for) does not exist or was destroyed.
	ErrNotFound = errors.New("secrets: not found")
	// ErrInvalidName: the secret name is not [A-Z_][A-Z0-9_]* of at most MaxNameLen characters.
	ErrInvalidName = errors.New("secrets: invalid name")
	// ErrInvalidTenant: the tenant id is not a valid tenant id.
	ErrInvalidTenant = errors.New("secrets: invalid tenant")
	// ErrInvalidVersion: the version is neither "latest" nor a positive decimal number.
	ErrInvalidVersion = errors.New("secrets: invalid version")
	// ErrInvalidMember: the IAM member is not of the form "kind:id" (e.g. serviceAccount:…).
	ErrInvalidMember = errors.New("secrets: invalid member")
	// ErrValueTooLarge: the value is longer than MaxValueBytes.
	ErrValueTooLarge = errors.New("secrets: value too large")
	// ErrEmptyValue: the value is empty.
	ErrEmptyValue = errors.New("secrets: empty value")
	// ErrUnavailable: the backend failed transiently (unavailable, overloaded, timed out); a
	// retry may succeed.
	ErrUnavailable = errors.New("secrets: backend unavailable")
	// ErrPermission: the backend refused the call (Runyard's own identity lacks a permission).
	ErrPermission = errors.New("secrets: permission denied")
)

// Limits.
const (
	// MaxNameLen is the longest secret name.
	MaxNameLen = 64
	// MaxValueBytes is the largest value (Secret Manager's payload limit).
	MaxValueBytes = 64 << 10
	// MaxSecretIDLen is Secret Manager's limit on secret ids.
	MaxSecretIDLen = 255
	// Latest names the newest version in Access and EnvRef.
	Latest = "latest"
	// AccessorRole is the IAM role GrantAccess adds.
	AccessorRole = "roles/secretmanager.secretAccessor"
	// SecretIDPrefix starts every secret id.
	SecretIDPrefix = "rt-"
)

// Labels every secret carries.
const (
	LabelTenant    = "tenant"
	LabelName      = "name"
	LabelManagedBy = "managed-by"
	ManagedBy      = "runyard"
)

var (
	nameRE    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	versionRE = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)
	memberRE  = regexp.MustCompile(`^(serviceAccount|user|group|domain|principal|principalSet):[^\s]{1,512}$`)
)

// ValidName reports whether name can name a secret: [A-Z_][A-Z0-9_]*, 1 to MaxNameLen characters,
// so that it is also a valid environment variable name.
func ValidName(name string) bool { return len(name) <= MaxNameLen && nameRE.MatchString(name) }

// ValidTenant reports whether tenant is a valid tenant id (3–27 characters of [a-z0-9-], starting
// with a letter, not ending with '-'); the same rule as tenancy.ValidTenantID.
func ValidTenant(tenant string) bool { return ids.ValidTenant(tenant) }

// CheckName returns ErrInvalidName (wrapped, with the rule but not the input) for a bad name.
func CheckName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: a name is 1-%d characters of A-Z, 0-9 and _, not starting with a digit (got %d characters)",
			ErrInvalidName, MaxNameLen, len(name))
	}
	return nil
}

// CheckTenant returns ErrInvalidTenant (wrapped) for a bad tenant id.
func CheckTenant(tenant string) error {
	if !ValidTenant(tenant) {
		return fmt.Errorf("%w: a tenant id is 3-27 characters of a-z, 0-9 and -", ErrInvalidTenant)
	}
	return nil
}

// CheckValue returns ErrEmptyValue or ErrValueTooLarge (wrapped, with the size only).
func CheckValue(value []byte) error {
	switch {
	case len(value) == 0:
		return ErrEmptyValue
	case len(value) > MaxValueBytes:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), MaxValueBytes)
	}
	return nil
}

// CheckVersion normalises a version argument: "" and "latest" give "latest"; a positive decimal
// number is returned as is; anything else is ErrInvalidVersion.
func CheckVersion(version string) (string, error) {
	switch {
	case version == "" || version == Latest:
		return Latest, nil
	case versionRE.MatchString(version):
		return version, nil
	}
	return "", fmt.Errorf("%w: want %q or a positive number", ErrInvalidVersion, Latest)
}

// CheckMember returns ErrInvalidMember (wrapped) unless member is an IAM principal such as
// "serviceAccount:rt-acme@P.iam.gserviceaccount.com". allUsers and allAuthenticatedUsers are
// refused: a secret is never public.
func CheckMember(member string) error {
	if !memberRE.MatchString(member) {
		return fmt.Errorf("%w: want kind:id, e.g. serviceAccount:NAME@PROJECT.iam.gserviceaccount.com", ErrInvalidMember)
	}
	return nil
}

// SecretID returns the backend id of tenant's secret name: "rt-<tenant>-<name>". The tenant has
// no upper case or '_' and the name no lower case or '-', so the id is unambiguous. It does not
// validate; Check does.
func SecretID(tenant, name string) string { return SecretIDPrefix + tenant + "-" + name }

// Check validates a (tenant, name) pair and returns its secret id.
func Check(tenant, name string) (string, error) {
	if err := CheckTenant(tenant); err != nil {
		return "", err
	}
	if err := CheckName(name); err != nil {
		return "", err
	}
	id := SecretID(tenant, name)
	if len(id) > MaxSecretIDLen {
		return "", fmt.Errorf("%w: secret id longer than %d characters", ErrInvalidName, MaxSecretIDLen)
	}
	return id, nil
}

// ParseSecretID splits a secret id made by SecretID. ok is false for any other string.
func ParseSecretID(id string) (tenant, name string, ok bool) {
	rest, found := strings.CutPrefix(id, SecretIDPrefix)
	i := strings.LastIndexByte(rest, '-')
	if !found || i < 0 {
		return "", "", false
	}
	tenant, name = rest[:i], rest[i+1:]
	if !ValidTenant(tenant) || !ValidName(name) {
		return "", "", false
	}
	return tenant, name, true
}

// Labels returns the labels of tenant's secret name. Label values are at most 63 lower-case
// characters, so the name label is the lower-cased name cut to 63 characters; the secret id, not
// the label, is the exact name.
func Labels(tenant, name string) map[string]string {
	l := strings.ToLower(name)
	if len(l) > 63 {
		l = l[:63]
	}
	return map[string]string{LabelTenant: tenant, LabelName: l, LabelManagedBy: ManagedBy}
}

// Version describes one stored version of a secret. It never holds the value.
type Version struct {
	// Name is the secret's name (e.g. "OPENAI_API_KEY").
	Name string `json:"name"`
	// Version is the version number: "1", "2", …
	Version string `json:"version"`
	// Resource is the secret's backend resource: projects/P/secrets/ID in Secret Manager,
	// local/secrets/ID in the local adapter.
	Resource string `json:"resource"`
	// CreatedAt is when the version was added.
	CreatedAt time.Time `json:"created_at"`
}

// Manager stores tenant secrets. Implementations are safe for concurrent use.
type Manager interface {
	// Put stores value as a new version of tenant's secret name, creating the secret (labelled
	// tenant, name, managed-by=runyard) on first use; a rotation is another Put. Concurrent first
	// Puts of one name all succeed, each adding a version.
	Put(ctx context.Context, tenant, name string, value []byte) (Version, error)
	// Access returns the value of version ("latest", "" or a number) of tenant's secret name.
	// Cloud runtimes never call it: they get references (see secretmanager.RuntimeEnv).
	Access(ctx context.Context, tenant, name, version string) ([]byte, error)
	// Delete destroys every version of tenant's secret name and deletes it; ErrNotFound if absent.
	Delete(ctx context.Context, tenant, name string) error
	// DeleteTenant deletes every secret of tenant and reports how many. Deleting a tenant with no
	// secrets deletes 0 and succeeds.
	DeleteTenant(ctx context.Context, tenant string) (deleted int, err error)
	// GrantAccess gives member roles/secretmanager.secretAccessor on exactly the named secrets of
	// tenant (never more, never at project level). Granting again changes nothing.
	// ErrNotFound if one of them does not exist.
	GrantAccess(ctx context.Context, tenant string, names []string, member string) error
}

// Codes are stable, machine-readable names of the sentinel errors, for API error envelopes.
const (
	CodeInvalidName    = "invalid_secret_name"
	CodeInvalidTenant  = "invalid_tenant"
	CodeInvalidVersion = "invalid_secret_version"
	CodeInvalidMember  = "invalid_member"
	CodeValueTooLarge  = "secret_value_too_large"
	CodeEmptyValue     = "secret_value_empty"
	CodeNotFound       = "secret_not_found"
	CodeUnavailable    = "unavailable"
	CodePermission     = "forbidden"
)

// Code returns the stable code of err's sentinel, or "" when err wraps none of them.
func Code(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrInvalidName, CodeInvalidName},
		{ErrInvalidTenant, CodeInvalidTenant},
		{ErrInvalidVersion, CodeInvalidVersion},
		{ErrInvalidMember, CodeInvalidMember},
		{ErrValueTooLarge, CodeValueTooLarge},
		{ErrEmptyValue, CodeEmptyValue},
		{ErrNotFound, CodeNotFound},
		{ErrUnavailable, CodeUnavailable},
		{ErrPermission, CodePermission},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// VersionNumber parses a version number made by an adapter ("1", "2", …); 0 for anything else.
func VersionNumber(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// Names validates names and returns them sorted without duplicates.
func Names(names []string) ([]string, error) {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}
