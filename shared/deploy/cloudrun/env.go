package cloudrun

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"strings"

	"cloud.google.com/go/storage"

	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	wsgcs "github.com/runyard/runyard/shared/workspace/gcs"
)

// EnvConfig is what a function that deploys runtimes (api, buildevents) reads from its
// environment (go-envconfig tags).
type EnvConfig struct {
	// Cells are where runtime services go: "name:project:region:limit", comma-separated.
	Cells []string `env:"RUNYARD_CELLS"`
	// ProjectNumbers maps cell projects to their numbers ("project=number"), for IAP.
	ProjectNumbers []string `env:"RUNYARD_PROJECT_NUMBERS"`
	// IngressImage is the runtime ingress sidecar image.
	IngressImage string `env:"RUNTIME_INGRESS_IMAGE"`
	// Identity is who runtimes run as: "tenant" (the default when read from the environment):
	// each tenant's own service account rt-<tenant> in the cell's project (shared/identity);
	// "shared" (or empty, in a hand-built config): ServiceAccount for every tenant, for
	// single-tenant installs only.
	Identity string `env:"RUNTIME_IDENTITY, default=tenant"`
	// ServiceAccount is the identity runtimes run as when Identity is "shared".
	ServiceAccount string `env:"RUNTIME_SERVICE_ACCOUNT"`
	// VertexLocation is where runtimes of tenants with Vertex AI on call it.
	VertexLocation string `env:"VERTEX_LOCATION, default=global"`
	// WorkspaceBucket is mounted into runtimes so their workspace survives pause and archive.
	WorkspaceBucket string `env:"WORKSPACE_BUCKET"`
	// WorkspaceBucketPrefix, when set, gives each tenant its own workspace bucket named
	// prefix+tenant (created on the tenant's first runtime) instead of WorkspaceBucket.
	WorkspaceBucketPrefix string `env:"WORKSPACE_BUCKET_PREFIX"`
	// WorkspaceProject and WorkspaceLocation are where tenant buckets are created.
	WorkspaceProject  string `env:"WORKSPACE_PROJECT"`
	WorkspaceLocation string `env:"WORKSPACE_LOCATION, default=US"`
	// GatewayServiceAccount, when set, is domain mode: the gateway function's service account,
	// the only invoker of runtime services (Config.GatewayInvoker).
	GatewayServiceAccount string `env:"GATEWAY_SERVICE_ACCOUNT"`
	// RuntimeDomain turns on domain mode: runtimes are reached at {runtime}.{RuntimeDomain},
	// vscode-{runtime}.…, work-1-/work-2-{runtime}.…, {port}-{runtime}.… through the gateway
	// (shared/hosts). Empty: direct mode, each runtime at its own run.app URL.
	RuntimeDomain string `env:"RUNTIME_DOMAIN"`
	// RuntimeScheme is the scheme of domain-mode URLs (http only for the local stack).
	RuntimeScheme string `env:"RUNTIME_URL_SCHEME, default=https"`
	// UsageStorageRate is the fraction of a runtime's vCPU and GiB billed while it is paused or
	// stopped (shared/usage); 0 records that time without billing it.
	UsageStorageRate float64 `env:"USAGE_STORAGE_RATE, default=0"`
}

// WorkspaceProvisioner returns the per-tenant workspace provisioner (nil without
// WORKSPACE_BUCKET_PREFIX): buckets and objects over the JSON API, bucket IAM over gRPC.
func (e EnvConfig) WorkspaceProvisioner(ctx context.Context, defaultProject string) (*wsgcs.Provisioner, error) {
	if e.WorkspaceBucketPrefix == "" {
		return nil, nil
	}
	client, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("cloudrun: storage client: %w", err)
	}
	iamClient, err := storage.NewGRPCClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("cloudrun: storage gRPC client: %w", err)
	}
	p, err := wsgcs.New(client, cmp.Or(e.WorkspaceProject, defaultProject), e.WorkspaceBucketPrefix, e.WorkspaceLocation)
	if err != nil {
		return nil, err
	}
	return p.WithIAMClient(iamClient), nil
}

// Validate reports every problem at once.
func (e EnvConfig) Validate() error {
	var p config.Problems
	cells, err := deploy.ParseCells(e.Cells)
	p.Add(err)
	p.Check(err != nil || len(cells) > 0, "RUNYARD_CELLS needs at least one cell (name:project:region:limit)")
	_, err = deploy.ParseProjectNumbers(e.ProjectNumbers)
	p.Add(err)
	p.Check(e.IngressImage != "", "RUNTIME_INGRESS_IMAGE is required (the runtime ingress sidecar image)")
	p.Check(e.Identity == "" || e.Identity == IdentityTenant || e.Identity == IdentityShared,
		"RUNTIME_IDENTITY must be %q or %q, got %q", IdentityTenant, IdentityShared, e.Identity)
	p.Check(e.TenantIdentity() || e.ServiceAccount != "", "RUNTIME_SERVICE_ACCOUNT is required with RUNTIME_IDENTITY=shared (the identity every runtime runs as)")
	if e.RuntimeDomain != "" {
		h, _, err := net.SplitHostPort(e.RuntimeDomain)
		if err != nil {
			h = e.RuntimeDomain
		}
		p.Check(validDomain(h) && strings.ToLower(e.RuntimeDomain) == e.RuntimeDomain,
			"RUNTIME_DOMAIN must be a lower-case DNS name (an optional :port for the local stack), got %q", e.RuntimeDomain)
		p.Check(e.RuntimeScheme == "" || e.RuntimeScheme == "https" || e.RuntimeScheme == "http",
			"RUNTIME_URL_SCHEME must be https or http, got %q", e.RuntimeScheme)
	}
	return p.Err()
}

// Values of EnvConfig.Identity.
const (
	IdentityTenant = "tenant"
	IdentityShared = "shared"
)

// TenantIdentity reports whether each tenant's runtimes run as the tenant's own account.
func (e EnvConfig) TenantIdentity() bool { return e.Identity == IdentityTenant }

// CellList returns the configured cells.
func (e EnvConfig) CellList() ([]deploy.Cell, error) { return deploy.ParseCells(e.Cells) }

// Deployer connects the Cloud Run deployer this configuration describes.
func (e EnvConfig) Deployer(ctx context.Context, opts ...option.ClientOption) (*Deployer, error) {
	numbers, err := deploy.ParseProjectNumbers(e.ProjectNumbers)
	if err != nil {
		return nil, err
	}
	return New(ctx, Config{ProjectNumbers: numbers, WorkspaceBucket: e.WorkspaceBucket, GatewayInvoker: e.GatewayServiceAccount}, opts...)
}

// validDomain: dot-separated labels of [a-z0-9-], each 1-63, not starting or ending with '-'.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}

// Scheme is RuntimeScheme, "https" when empty.
func (e EnvConfig) Scheme() string { return cmp.Or(e.RuntimeScheme, "https") }
