// Package runtimeenv assembles a deployed function's runtime orchestrator from its environment
// settings (cloudrun.EnvConfig): the cells, the Cloud Run deployer, per-tenant workspaces, the
// identity runtimes run as and where their ingress reports activity, and the usage recorder that
// closes and opens usage periods in the transaction of every state change. The api, runtimeapi,
// buildevents and sweeper functions share it; runyard dev assembles its local one itself.
package runtimeenv

import (
	"context"
	"fmt"
	"slices"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/identity"
	identityiam "github.com/runyard/runyard/shared/identity/iam"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/usage"
	"github.com/runyard/runyard/shared/whitelabel"
	wsgcs "github.com/runyard/runyard/shared/workspace/gcs"
)

// Params are what the orchestrator is built from.
type Params struct {
	ProjectID string
	Env       cloudrun.EnvConfig
	Store     store.Store
	Builds    *build.Service
	// Deployer replaces the Cloud Run deployer from Env (tests, runyard dev).
	Deployer deploy.Deployer
	// PublicAPI is the api's public URL: runtimes' ingress reports activity there ("" none).
	PublicAPI string
	// GrantSecrets lets a runtime read the secrets it references (secrets.Manager.GrantAccess).
	GrantSecrets func(ctx context.Context, tenant string, names []string, member string) error
	// Gate refuses runtime starts of tenants that may not start one (billing.Service.Check).
	Gate func(ctx context.Context, tenant string) error
	// Publisher publishes closed usage periods right after each state change; nil leaves them
	// in the outbox for the sweeper's drain.
	Publisher events.Publisher
	// Usage replaces the usage recorder built from Env and Publisher.
	Usage *usage.Service
	// Identity gives runtimes their tenant's own service account. When nil and Env asks for
	// tenant identities, one is built from IdentityManager (default: the IAM adapter).
	Identity *identity.Service
	// IdentityManager replaces the IAM adapter (tests; runyard dev's local one).
	IdentityManager identity.Manager
	// Workspace replaces the workspace provisioner from Env (tests).
	Workspace *wsgcs.Provisioner
}

// Usage returns the usage recorder for p: p.Usage, or one built from Env and Publisher.
func Usage(p Params) (*usage.Service, error) {
	if p.Usage != nil {
		return p.Usage, nil
	}
	return usage.NewService(p.Store, usage.Options{StorageRate: p.Env.UsageStorageRate, Publisher: p.Publisher})
}

// Projects returns the distinct projects of the configured cells: where tenant service
// accounts live.
func Projects(env cloudrun.EnvConfig) ([]string, error) {
	cells, err := env.CellList()
	if err != nil {
		return nil, fmt.Errorf("runtimeenv: cells: %w", err)
	}
	var out []string
	for _, c := range cells {
		out = append(out, c.Project)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// IdentityService returns the identity service Env asks for (nil for a shared identity),
// with authz for the LLM setting endpoints (nil: runtimes only). mgr nil means the IAM adapter.
func IdentityService(ctx context.Context, env cloudrun.EnvConfig, st store.Store, mgr identity.Manager, authz identity.Authorizer) (*identity.Service, error) {
	if !env.TenantIdentity() {
		return nil, nil
	}
	projects, err := Projects(env)
	if err != nil {
		return nil, err
	}
	if mgr == nil {
		if mgr, err = identityiam.New(ctx); err != nil {
			return nil, fmt.Errorf("runtimeenv: identity: %w", err)
		}
	}
	return identity.NewService(st, mgr, authz, identity.Config{Projects: projects, VertexLocation: env.VertexLocation})
}

// Orchestrator returns the orchestrator and the deployer it uses.
func Orchestrator(ctx context.Context, p Params) (*runtime.Orchestrator, deploy.Deployer, error) {
	cells, err := p.Env.CellList()
	if err != nil {
		return nil, nil, fmt.Errorf("runtimeenv: cells: %w", err)
	}
	rts, err := runtime.NewService(p.Store, cells)
	if err != nil {
		return nil, nil, err
	}
	use, err := Usage(p)
	if err != nil {
		return nil, nil, fmt.Errorf("runtimeenv: %w", err)
	}
	rts.SetHook(use)
	dep := p.Deployer
	if dep == nil {
		if dep, err = p.Env.Deployer(ctx); err != nil {
			return nil, nil, fmt.Errorf("runtimeenv: deployer: %w", err)
		}
	}
	ws := p.Workspace
	if ws == nil {
		if ws, err = p.Env.WorkspaceProvisioner(ctx, p.ProjectID); err != nil {
			return nil, nil, err
		}
	}
	publicURL, err := PublicURL(p.Env, p.Store)
	if err != nil {
		return nil, nil, err
	}
	ids := p.Identity
	if ids == nil {
		if ids, err = IdentityService(ctx, p.Env, p.Store, p.IdentityManager, nil); err != nil {
			return nil, nil, err
		}
	}
	cfg := runtime.OrchestratorConfig{
		PublicURL:      publicURL,
		IngressImage:   p.Env.IngressImage,
		ServiceAccount: func(string) string { return p.Env.ServiceAccount },
		ActivityURL:    func(r runtime.Runtime) string { return runtime.ActivityURL(p.PublicAPI, r) },
		GrantSecrets:   p.GrantSecrets,
		Gate:           p.Gate,
	}
	if ws != nil {
		cfg.Workspace = ws.Ensure
		cfg.GrantWorkspace = ws.Grant
	}
	if ids != nil {
		cfg.Identity = ids.ForRuntime
	}
	orch, err := runtime.NewOrchestrator(rts, dep, p.Builds, cfg)
	if err != nil {
		return nil, nil, err
	}
	return orch, dep, nil
}

// PublicURL returns, in domain mode (RUNTIME_DOMAIN set), the function that gives a runtime's
// public agent URL — https://{runtime}.{domain} under its tenant's verified custom domain, else
// the platform's (also when the lookup fails: it serves every tenant) — and nil in direct mode.
// It reads the tenant's domains on every deploy (deploys are rare; nothing is cached), so a
// runtime deployed right after a verification already uses the new domain.
func PublicURL(env cloudrun.EnvConfig, st store.Store) (func(context.Context, runtime.Runtime) string, error) {
	if env.RuntimeDomain == "" {
		return nil, nil
	}
	lk, err := whitelabel.NewLookup(st, whitelabel.LookupConfig{Platform: env.RuntimeDomain})
	if err != nil {
		return nil, err
	}
	scheme := env.Scheme()
	return func(ctx context.Context, r runtime.Runtime) string {
		d, err := lk.RuntimeDomain(ctx, r.Tenant)
		if err != nil || d == "" {
			if err != nil {
				logging.FromContext(ctx).WarnContext(ctx, "runtime domain lookup failed; using the platform's", "tenant", r.Tenant, "error", err)
			}
			d = env.RuntimeDomain
		}
		return hosts.URL(scheme, r.ID, deploy.PortAgent, d)
	}, nil
}
