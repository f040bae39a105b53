// Package workspace is the port to where runtimes keep their files: one store per tenant (a
// Cloud Storage bucket in the cloud), in which each runtime mounts its own prefix, so a
// runtime's files survive pause, archive and resume, and a tenant's files never share a bucket
// with another tenant's.
package workspace

import (
	"context"
	"errors"
)

// Errors.
var (
	// ErrForeign: the name is taken by a bucket that is not this tenant's workspace.
	ErrForeign = errors.New("workspace: bucket belongs to someone else")
	// ErrUnavailable: the storage backend failed; retry.
	ErrUnavailable = errors.New("workspace: unavailable")
)

// Provisioner makes sure a tenant's workspace store exists.
type Provisioner interface {
	// Ensure creates the tenant's workspace bucket if needed and returns its name. Idempotent.
	Ensure(ctx context.Context, tenant string) (bucket string, err error)
}
