// Package iam is the identity port over Google Cloud IAM: tenant service accounts through the
// IAM admin API, project-level grants (the opt-in Vertex AI role) through Resource Manager's
// project IAM policy, read-modify-write with the policy etag.
package iam

import (
	"context"
	"errors"
	"fmt"
	"time"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/ids"
)

// DefaultCallTimeout bounds each IAM call.
const DefaultCallTimeout = 20 * time.Second

// maxPolicyAttempts bounds a read-modify-write of a project policy that keeps changing
// underneath (SetIamPolicy answers Aborted on a stale etag).
const maxPolicyAttempts = 5

// Manager implements identity.Manager.
type Manager struct {
	admin    *admin.IamClient
	projects *resourcemanager.ProjectsClient
	timeout  time.Duration
}

var _ identity.Manager = (*Manager)(nil)

// New connects the IAM admin and Resource Manager clients; opts go to both.
func New(ctx context.Context, opts ...option.ClientOption) (*Manager, error) {
	a, err := admin.NewIamClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("identity/iam: admin client: %w", err)
	}
	p, err := resourcemanager.NewProjectsClient(ctx, opts...)
	if err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("identity/iam: projects client: %w", err)
	}
	return NewFromClients(a, p), nil
}

// NewFromClients returns a Manager over existing clients (tests point them at fakes).
func NewFromClients(a *admin.IamClient, p *resourcemanager.ProjectsClient) *Manager {
	return &Manager{admin: a, projects: p, timeout: DefaultCallTimeout}
}

func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.timeout)
}

func accountName(tenant, project string) string {
	return "projects/" + project + "/serviceAccounts/" + identity.Email(tenant, project)
}

func check(tenant, project string) error {
	if !ids.ValidTenant(tenant) || project == "" {
		return fmt.Errorf("%w: tenant %q, project %q", identity.ErrInvalid, tenant, project)
	}
	return nil
}

// Ensure creates the tenant's service account (display name and description naming the
// tenant) unless it exists. AlreadyExists, from a concurrent Ensure or an earlier one, is
// success once the existing account is seen to be this tenant's.
func (m *Manager) Ensure(ctx context.Context, tenant, project string) (string, error) {
	if err := check(tenant, project); err != nil {
		return "", err
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	sa, err := m.admin.CreateServiceAccount(cctx, &adminpb.CreateServiceAccountRequest{
		Name:      "projects/" + project,
		AccountId: identity.AccountID(tenant),
		ServiceAccount: &adminpb.ServiceAccount{
			DisplayName: identity.DisplayName(tenant),
			Description: identity.Description(tenant),
		},
	})
	if status.Code(err) == codes.AlreadyExists {
		return m.Lookup(ctx, tenant, project)
	}
	if err != nil {
		return "", mapErr("create service account", err)
	}
	return sa.GetEmail(), nil
}

// Lookup returns the tenant's service account email, or identity.ErrNotFound; an account by
// that id whose display name names another tenant is identity.ErrForeign.
func (m *Manager) Lookup(ctx context.Context, tenant, project string) (string, error) {
	if err := check(tenant, project); err != nil {
		return "", err
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	sa, err := m.admin.GetServiceAccount(cctx, &adminpb.GetServiceAccountRequest{Name: accountName(tenant, project)})
	if err != nil {
		return "", mapErr("get service account", err)
	}
	if sa.GetDisplayName() != identity.DisplayName(tenant) {
		return "", fmt.Errorf("%w: %s", identity.ErrForeign, sa.GetEmail())
	}
	return sa.GetEmail(), nil
}

// Delete deletes the tenant's service account; a missing one is no error.
func (m *Manager) Delete(ctx context.Context, tenant, project string) error {
	if err := check(tenant, project); err != nil {
		return err
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	err := m.admin.DeleteServiceAccount(cctx, &adminpb.DeleteServiceAccountRequest{Name: accountName(tenant, project)})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return mapErr("delete service account", err)
	}
	return nil
}

// SetProjectRole binds member to role on the project under cond.
func (m *Manager) SetProjectRole(ctx context.Context, project, role, member string, cond *identity.Condition) error {
	return m.editProject(ctx, project, func(b []*iampb.Binding) ([]*iampb.Binding, bool) { return Bind(b, role, member, cond) })
}

// RemoveProjectRole removes member's bindings to role on the project.
func (m *Manager) RemoveProjectRole(ctx context.Context, project, role, member string) error {
	return m.editProject(ctx, project, func(b []*iampb.Binding) ([]*iampb.Binding, bool) { return Unbind(b, role, member) })
}

// editProject reads the project's policy (version 3), applies edit and writes it back with the
// etag it read, retrying when someone else wrote meanwhile; an edit that changes nothing writes
// nothing.
func (m *Manager) editProject(ctx context.Context, project string, edit func([]*iampb.Binding) ([]*iampb.Binding, bool)) error {
	if project == "" {
		return fmt.Errorf("%w: project is required", identity.ErrInvalid)
	}
	resource := "projects/" + project
	for attempt := 1; ; attempt++ {
		err := func() error {
			cctx, cancel := m.call(ctx)
			defer cancel()
			pol, err := m.projects.GetIamPolicy(cctx, &iampb.GetIamPolicyRequest{Resource: resource,
				Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
			if err != nil {
				return err
			}
			bindings, changed := edit(pol.GetBindings())
			if !changed {
				return nil
			}
			pol.Bindings = bindings
			if HasConditions(bindings) {
				pol.Version = 3
			}
			_, err = m.projects.SetIamPolicy(cctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: pol})
			return err
		}()
		if status.Code(err) == codes.Aborted && attempt < maxPolicyAttempts {
			continue
		}
		if err != nil {
			return mapErr("project IAM policy", err)
		}
		return nil
	}
}

// mapErr maps a gRPC error to the port's errors.
func mapErr(op string, err error) error {
	var sentinel error
	switch status.Code(err) {
	case codes.NotFound:
		sentinel = identity.ErrNotFound
	case codes.ResourceExhausted:
		sentinel = identity.ErrQuota
	case codes.PermissionDenied, codes.Unauthenticated:
		sentinel = identity.ErrPermission
	case codes.InvalidArgument, codes.FailedPrecondition:
		sentinel = identity.ErrInvalid
	default:
		sentinel = identity.ErrUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		sentinel = identity.ErrUnavailable
	}
	return fmt.Errorf("%w: identity/iam: %s: %w", sentinel, op, err)
}
