// Package gcs provisions per-tenant workspace buckets in Cloud Storage.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/identity/iam"
	"github.com/runyard/runyard/shared/ids"
	"github.com/runyard/runyard/shared/workspace"
)

// Provisioner creates one bucket per tenant, named Prefix + tenant.
type Provisioner struct {
	client *storage.Client
	// iam edits bucket IAM policies (the gRPC client in production; see WithIAMClient).
	iam      *storage.Client
	project  string
	prefix   string
	location string
}

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,34}$`)

// New returns a Provisioner creating buckets in project at location ("US", "EU", a region).
// prefix + a tenant id must make a bucket name: prefix is 1-35 characters of [a-z0-9-].
func New(client *storage.Client, project, prefix, location string) (*Provisioner, error) {
	if client == nil || project == "" || !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("workspace/gcs: a client, a project and a prefix of [a-z0-9-] (≤ 35) are required")
	}
	if location == "" {
		location = "US"
	}
	return &Provisioner{client: client, iam: client, project: project, prefix: prefix, location: location}, nil
}

// WithIAMClient makes Grant edit bucket policies through c (storage.NewGRPCClient: the
// transport the tests drive against an in-process fake) instead of the bucket client.
func (p *Provisioner) WithIAMClient(c *storage.Client) *Provisioner {
	if c != nil {
		p.iam = c
	}
	return p
}

// RoleObjectUser is what a tenant's runtime identity holds on the tenant's bucket.
const RoleObjectUser = "roles/storage.objectUser"

// maxPolicyAttempts bounds Grant's read-modify-write when the policy keeps changing.
const maxPolicyAttempts = 5

// MarkerCondition keeps the marker object out of a runtime's reach: a runtime could otherwise
// overwrite it and lock its own tenant out of the bucket.
func MarkerCondition(bucket string) *identity.Condition {
	return &identity.Condition{
		Title:       "runyard-workspace-objects",
		Description: "Runyard: the tenant's runtimes use every object but the workspace marker",
		Expression:  fmt.Sprintf("resource.name != %q", "projects/_/buckets/"+bucket+"/objects/"+MarkerObject),
	}
}

// Grant gives member roles/storage.objectUser on the tenant's bucket (conditioned by
// MarkerCondition), and only on it: a bucket that is not the tenant's is refused. Idempotent.
func (p *Provisioner) Grant(ctx context.Context, tenant, bucket, member string) error {
	if !ids.ValidTenant(tenant) || bucket != p.Bucket(tenant) {
		return fmt.Errorf("workspace/gcs: grant on %q: not tenant %q's workspace bucket", bucket, tenant)
	}
	h := p.iam.Bucket(bucket).IAM().V3()
	for attempt := 1; ; attempt++ {
		pol, err := h.Policy(ctx)
		if err != nil {
			return fmt.Errorf("%w: read bucket policy %s: %w", workspace.ErrUnavailable, bucket, err)
		}
		var changed bool
		if pol.Bindings, changed = iam.Bind(pol.Bindings, RoleObjectUser, member, MarkerCondition(bucket)); !changed {
			return nil
		}
		err = h.SetPolicy(ctx, pol)
		if status.Code(err) == codes.Aborted && attempt < maxPolicyAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: set bucket policy %s: %w", workspace.ErrUnavailable, bucket, err)
		}
		return nil
	}
}

// Labels mark Runyard's workspace buckets.
const (
	LabelTenant    = "tenant"
	LabelManagedBy = "managed-by"
	ManagedBy      = "runyard"
)

// Bucket is the name of a tenant's workspace bucket.
func (p *Provisioner) Bucket(tenant string) string { return p.prefix + tenant }

// Ensure creates the tenant's bucket (uniform bucket-level access, public access prevented,
// labelled with the tenant) unless it exists; an existing bucket must carry this tenant's
// labels.
func (p *Provisioner) Ensure(ctx context.Context, tenant string) (string, error) {
	if !ids.ValidTenant(tenant) {
		return "", fmt.Errorf("workspace/gcs: invalid tenant %q", tenant)
	}
	name := p.Bucket(tenant)
	b := p.client.Bucket(name)
	_, err := b.Attrs(ctx)
	switch {
	case err == nil:
		return name, p.checkOwner(ctx, b, tenant)
	case !errors.Is(err, storage.ErrBucketNotExist):
		return "", fmt.Errorf("%w: read bucket %s: %w", workspace.ErrUnavailable, name, err)
	}
	err = b.Create(ctx, p.project, &storage.BucketAttrs{
		Location:                 p.location,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		Labels:                   map[string]string{LabelTenant: tenant, LabelManagedBy: ManagedBy},
		VersioningEnabled:        false,
		SoftDeletePolicy:         nil,
		HierarchicalNamespace:    nil,
	})
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusConflict {
		// Created meanwhile (by a concurrent Ensure, or someone else): check whose it is,
		// giving a concurrent creator a moment to write its marker.
		for try := 0; ; try++ {
			err := p.checkOwner(ctx, b, tenant)
			if err == nil || !errors.Is(err, errNoMarker) || try == 5 {
				return name, err
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: create bucket %s: %w", workspace.ErrUnavailable, name, err)
	}
	// The marker says whose workspace this is; runtimes mount only their own prefix and never
	// see it. Written only if absent, so two creators agree.
	w := b.Object(MarkerObject).If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	_, _ = w.Write([]byte(tenant))
	if err := w.Close(); err != nil && !(errors.As(err, &gerr) && gerr.Code == http.StatusPreconditionFailed) {
		return "", fmt.Errorf("%w: mark bucket %s: %w", workspace.ErrUnavailable, name, err)
	}
	return name, p.checkOwner(ctx, b, tenant)
}

var errNoMarker = errors.New("no workspace marker")

// MarkerObject holds, at a workspace bucket's root, the tenant the bucket belongs to.
const MarkerObject = ".runyard-workspace"

// checkOwner reads the bucket's marker: it must name tenant. A bucket without a marker is not
// Runyard's (or its creation has not finished: a retry sees the marker).
func (p *Provisioner) checkOwner(ctx context.Context, b *storage.BucketHandle, tenant string) error {
	r, err := b.Object(MarkerObject).NewReader(ctx)
	if err != nil {
		if errors.Is(err, storage.ErrObjectNotExist) {
			return fmt.Errorf("%w: %s: %w", workspace.ErrForeign, p.Bucket(tenant), errNoMarker)
		}
		return fmt.Errorf("%w: read marker: %w", workspace.ErrUnavailable, err)
	}
	defer r.Close()
	got := make([]byte, 64)
	n, _ := r.Read(got)
	if string(got[:n]) != tenant {
		return fmt.Errorf("%w: %s", workspace.ErrForeign, p.Bucket(tenant))
	}
	return nil
}
