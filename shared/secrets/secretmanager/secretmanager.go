// Package secretmanager is the Google Secret Manager adapter of the secrets port
// (shared/secrets): one secret per (tenant, name), id rt-<tenant>-<name>, automatic replication,
// labels tenant, name and managed-by=runyard, one version per Put. GrantAccess edits the IAM
// policy of individual secrets only (read-modify-write with the policy etag), never the project's.
//
// RuntimeEnv (inject.go) is the contract the Cloud Run runtime driver uses: it turns secret names
// into Cloud Run env entries that reference Secret Manager versions, so values reach a runtime
// without passing through Runyard. That is why this adapter imports two Google modules,
// secretmanager and run's runpb: the env entry is the Cloud Run shape of a Secret Manager
// reference.
package secretmanager

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/secrets"
)

// DefaultCallTimeout bounds each Secret Manager call when Config.CallTimeout is zero.
const DefaultCallTimeout = 10 * time.Second

// maxPolicyAttempts bounds GrantAccess's read-modify-write loop on one secret when its policy
// keeps changing underneath (SetIamPolicy answers Aborted on a stale etag).
const maxPolicyAttempts = 5

// listPageSize is the page size of ListSecrets and ListSecretVersions.
const listPageSize = 100

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Config configures a Manager.
type Config struct {
	// ProjectID is the Google Cloud project that holds the secrets.
	ProjectID string
	// CallTimeout bounds each Secret Manager call; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
	// Logger receives one line per change (never a value); nil discards.
	Logger *slog.Logger
}

// Manager implements secrets.Manager over Secret Manager.
type Manager struct {
	c       *secretmanager.Client
	owned   bool
	project string
	timeout time.Duration
	log     *slog.Logger
}

var _ secrets.Manager = (*Manager)(nil)

// New connects to Secret Manager for projectID.
func New(ctx context.Context, projectID string, opts ...option.ClientOption) (*Manager, error) {
	return NewWithConfig(ctx, Config{ProjectID: projectID}, opts...)
}

// Or returns m when it is set (tests, runyard dev), else a Manager over Secret Manager for
// projectID: the tenant secrets default of every function that reads or grants them.
func Or(ctx context.Context, m secrets.Manager, projectID string) (secrets.Manager, error) {
	if m != nil {
		return m, nil
	}
	sm, err := New(ctx, projectID)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return sm, nil
}

// NewWithConfig connects to Secret Manager as cfg says. Close releases the client.
func NewWithConfig(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Manager, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("secretmanager: project id is required")
	}
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("secretmanager: secretmanager.NewClient: %w", err)
	}
	m := NewFromClientConfig(c, cfg)
	m.owned = true
	return m, nil
}

// NewFromClient wraps an existing client (which the caller closes) for projectID.
func NewFromClient(c *secretmanager.Client, projectID string) *Manager {
	return NewFromClientConfig(c, Config{ProjectID: projectID})
}

// NewFromClientConfig wraps an existing client (which the caller closes) as cfg says.
func NewFromClientConfig(c *secretmanager.Client, cfg Config) *Manager {
	m := &Manager{c: c, project: cfg.ProjectID, timeout: cfg.CallTimeout, log: cfg.Logger}
	if m.timeout <= 0 {
		m.timeout = DefaultCallTimeout
	}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return m
}

// Close closes the client if New or NewWithConfig created it.
func (m *Manager) Close() error {
	if !m.owned {
		return nil
	}
	if err := m.c.Close(); err != nil {
		return fmt.Errorf("secretmanager: Close: %w", err)
	}
	return nil
}

// Resource returns the Secret Manager resource name of a secret id: projects/P/secrets/ID.
func (m *Manager) Resource(secretID string) string {
	return "projects/" + m.project + "/secrets/" + secretID
}

func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.timeout)
}

// Put implements secrets.Manager. It adds a version first (one call for a rotation) and creates
// the secret only when that answers NotFound; a concurrent creator's AlreadyExists is success.
func (m *Manager) Put(ctx context.Context, tenant, name string, value []byte) (secrets.Version, error) {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return secrets.Version{}, err
	}
	if err := secrets.CheckValue(value); err != nil {
		return secrets.Version{}, err
	}
	res := m.Resource(id)
	v, err := m.addVersion(ctx, res, value)
	if status.Code(err) == codes.NotFound {
		if err := m.create(ctx, id, tenant, name); err != nil {
			return secrets.Version{}, err
		}
		v, err = m.addVersion(ctx, res, value)
	}
	if err != nil {
		return secrets.Version{}, wrap("AddSecretVersion", res, err)
	}
	out := secrets.Version{Name: name, Version: path.Base(v.GetName()), Resource: res, CreatedAt: v.GetCreateTime().AsTime()}
	m.log.InfoContext(ctx, "secret version added", "tenant", tenant, "secret", name, "version", out.Version)
	return out, nil
}

func (m *Manager) addVersion(ctx context.Context, res string, value []byte) (*secretmanagerpb.SecretVersion, error) {
	ctx, cancel := m.call(ctx)
	defer cancel()
	crc := int64(crc32.Checksum(value, crcTable))
	return m.c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent:  res,
		Payload: &secretmanagerpb.SecretPayload{Data: value, DataCrc32C: &crc},
	})
}

func (m *Manager) create(ctx context.Context, id, tenant, name string) error {
	ctx, cancel := m.call(ctx)
	defer cancel()
	_, err := m.c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent:   "projects/" + m.project,
		SecretId: id,
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{
				Automatic: &secretmanagerpb.Replication_Automatic{},
			}},
			Labels: secrets.Labels(tenant, name),
		},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return wrap("CreateSecret", m.Resource(id), err)
	}
	if err == nil {
		m.log.InfoContext(ctx, "secret created", "tenant", tenant, "secret", name)
	}
	return nil
}

// Access implements secrets.Manager. A destroyed or disabled version is ErrNotFound.
func (m *Manager) Access(ctx context.Context, tenant, name, version string) ([]byte, error) {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return nil, err
	}
	version, err = secrets.CheckVersion(version)
	if err != nil {
		return nil, err
	}
	vname := m.Resource(id) + "/versions/" + version
	ctx, cancel := m.call(ctx)
	defer cancel()
	resp, err := m.c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: vname})
	if status.Code(err) == codes.FailedPrecondition {
		return nil, fmt.Errorf("secretmanager: AccessSecretVersion %s: %w (destroyed or disabled): %w", vname, secrets.ErrNotFound, err)
	}
	if err != nil {
		return nil, wrap("AccessSecretVersion", vname, err)
	}
	data := resp.GetPayload().GetData()
	if c := resp.GetPayload().DataCrc32C; c != nil && uint32(*c) != crc32.Checksum(data, crcTable) {
		return nil, fmt.Errorf("secretmanager: AccessSecretVersion %s: %w: payload checksum mismatch", vname, secrets.ErrUnavailable)
	}
	return data, nil
}

// Delete implements secrets.Manager: it destroys every live version (so the values are gone even
// if the final DeleteSecret fails) and deletes the secret.
func (m *Manager) Delete(ctx context.Context, tenant, name string) error {
	id, err := secrets.Check(tenant, name)
	if err != nil {
		return err
	}
	if err := m.deleteSecret(ctx, m.Resource(id)); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "secret deleted", "tenant", tenant, "secret", name)
	return nil
}

func (m *Manager) deleteSecret(ctx context.Context, res string) error {
	live, err := m.liveVersions(ctx, res)
	if err != nil {
		return err
	}
	for _, v := range live {
		cctx, cancel := m.call(ctx)
		_, err := m.c.DestroySecretVersion(cctx, &secretmanagerpb.DestroySecretVersionRequest{Name: v})
		cancel()
		// NotFound / FailedPrecondition: a concurrent Delete got there first.
		if err != nil && status.Code(err) != codes.NotFound && status.Code(err) != codes.FailedPrecondition {
			return wrap("DestroySecretVersion", v, err)
		}
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	if err := m.c.DeleteSecret(cctx, &secretmanagerpb.DeleteSecretRequest{Name: res}); err != nil {
		return wrap("DeleteSecret", res, err)
	}
	return nil
}

// liveVersions lists the names of res's versions that are not destroyed.
func (m *Manager) liveVersions(ctx context.Context, res string) ([]string, error) {
	var out []string
	token := ""
	for {
		cctx, cancel := m.call(ctx)
		var page []*secretmanagerpb.SecretVersion
		it := m.c.ListSecretVersions(cctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: res})
		next, err := iterator.NewPager(it, listPageSize, token).NextPage(&page)
		cancel()
		if err != nil {
			return nil, wrap("ListSecretVersions", res, err)
		}
		for _, v := range page {
			if v.GetState() != secretmanagerpb.SecretVersion_DESTROYED {
				out = append(out, v.GetName())
			}
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

// TenantFilter is the ListSecrets filter that selects tenant's secrets.
func TenantFilter(tenant string) string {
	return fmt.Sprintf("labels.%s=%s AND labels.%s=%s", secrets.LabelTenant, tenant, secrets.LabelManagedBy, secrets.ManagedBy)
}

// DeleteTenant implements secrets.Manager. It lists the secrets labelled with the tenant, keeps
// only those whose labels and id both say they are the tenant's (so a loose filter can never
// widen the deletion), then deletes each. Secrets deleted concurrently are not counted.
func (m *Manager) DeleteTenant(ctx context.Context, tenant string) (int, error) {
	if err := secrets.CheckTenant(tenant); err != nil {
		return 0, err
	}
	names, err := m.tenantSecrets(ctx, tenant)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, res := range names {
		err := m.deleteSecret(ctx, res)
		switch {
		case errors.Is(err, secrets.ErrNotFound):
		case err != nil:
			return deleted, err
		default:
			deleted++
		}
	}
	m.log.InfoContext(ctx, "tenant secrets deleted", "tenant", tenant, "deleted", deleted)
	return deleted, nil
}

func (m *Manager) tenantSecrets(ctx context.Context, tenant string) ([]string, error) {
	parent := "projects/" + m.project
	var out []string
	token := ""
	for {
		cctx, cancel := m.call(ctx)
		var page []*secretmanagerpb.Secret
		it := m.c.ListSecrets(cctx, &secretmanagerpb.ListSecretsRequest{Parent: parent, Filter: TenantFilter(tenant)})
		next, err := iterator.NewPager(it, listPageSize, token).NextPage(&page)
		cancel()
		if err != nil {
			return nil, wrap("ListSecrets", parent, err)
		}
		for _, s := range page {
			l := s.GetLabels()
			t, _, ok := secrets.ParseSecretID(path.Base(s.GetName()))
			if ok && t == tenant && l[secrets.LabelTenant] == tenant && l[secrets.LabelManagedBy] == secrets.ManagedBy &&
				s.GetName() == m.Resource(path.Base(s.GetName())) {
				out = append(out, s.GetName())
			}
		}
		if next == "" {
			slices.Sort(out)
			return out, nil
		}
		token = next
	}
}

// GrantAccess implements secrets.Manager: it reads the IAM policy of every named secret first
// (so a missing one fails the call before any policy changes; ErrNotFound names every missing
// one), then for each adds member to the roles/secretmanager.secretAccessor binding unless it is
// already there and writes the policy back with the etag it was read with, reading again after
// an Aborted (stale etag). Only secret resources are touched, never the project.
func (m *Manager) GrantAccess(ctx context.Context, tenant string, names []string, member string) error {
	if err := secrets.CheckTenant(tenant); err != nil {
		return err
	}
	names, err := secrets.Names(names)
	if err != nil {
		return err
	}
	if err := secrets.CheckMember(member); err != nil {
		return err
	}
	resources := make([]string, len(names))
	policies := make([]*iampb.Policy, len(names))
	var missing []string
	for i, n := range names {
		id, err := secrets.Check(tenant, n)
		if err != nil {
			return err
		}
		resources[i] = m.Resource(id)
		policies[i], err = m.policy(ctx, resources[i])
		switch {
		case errors.Is(err, secrets.ErrNotFound):
			missing = append(missing, n)
		case err != nil:
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("secretmanager: GrantAccess: %w: %s", secrets.ErrNotFound, strings.Join(missing, ", "))
	}
	for i, res := range resources {
		if err := m.grant(ctx, res, policies[i], member); err != nil {
			return err
		}
	}
	if len(names) > 0 {
		m.log.InfoContext(ctx, "secret access granted", "tenant", tenant, "secrets", names, "member", member, "role", secrets.AccessorRole)
	}
	return nil
}

func (m *Manager) policy(ctx context.Context, res string) (*iampb.Policy, error) {
	ctx, cancel := m.call(ctx)
	defer cancel()
	p, err := m.c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
		Resource: res,
		Options:  &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
	})
	if err != nil {
		return nil, wrap("GetIamPolicy", res, err)
	}
	return p, nil
}

// grant adds member to res's policy p (as last read) and writes it, re-reading on Aborted.
func (m *Manager) grant(ctx context.Context, res string, p *iampb.Policy, member string) error {
	for attempt := range maxPolicyAttempts {
		if attempt > 0 {
			var err error
			if p, err = m.policy(ctx, res); err != nil {
				return err
			}
		}
		if !addMember(p, secrets.AccessorRole, member) {
			return nil
		}
		cctx, cancel := m.call(ctx)
		_, err := m.c.SetIamPolicy(cctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: p})
		cancel()
		if status.Code(err) == codes.Aborted {
			m.log.WarnContext(ctx, "secret policy changed concurrently; retrying", "resource", res)
			continue
		}
		if err != nil {
			return wrap("SetIamPolicy", res, err)
		}
		return nil
	}
	return fmt.Errorf("secretmanager: SetIamPolicy %s: %w: the policy kept changing (%d attempts)", res, secrets.ErrUnavailable, maxPolicyAttempts)
}

// addMember adds member to p's unconditional binding of role and reports whether p changed.
func addMember(p *iampb.Policy, role, member string) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() == role && b.GetCondition() == nil {
			if slices.Contains(b.GetMembers(), member) {
				return false
			}
			b.Members = append(b.Members, member)
			return true
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
	return true
}

// wrap names the failed call and resource and adds the sentinel that matches the gRPC code.
func wrap(op, res string, err error) error {
	if s := sentinel(err); s != nil {
		return fmt.Errorf("secretmanager: %s %s: %w: %w", op, res, s, err)
	}
	return fmt.Errorf("secretmanager: %s %s: %w", op, res, err)
}

func sentinel(err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return secrets.ErrNotFound
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Aborted:
		return secrets.ErrUnavailable
	case codes.PermissionDenied, codes.Unauthenticated:
		return secrets.ErrPermission
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return secrets.ErrUnavailable
	}
	return nil
}
