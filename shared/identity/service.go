package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Store layout: the tenant's LLM setting is tenants/{t}/settings/llm.
const (
	KindSettings = "settings"
	settingLLM   = "llm"
)

// DefaultVertexLocation is where runtimes call Vertex AI unless configured otherwise.
const DefaultVertexLocation = "global"

// Authorizer checks a caller's right to act on a tenant; *tenancy.Service implements it.
type Authorizer interface {
	Authorize(ctx context.Context, c tenancy.Caller, tenant string, a tenancy.Action, target string) (tenancy.Role, error)
}

// Config configures a Service.
type Config struct {
	// Projects are the projects runtimes run in (the cells' projects): a tenant has a service
	// account in each one it has had a runtime in.
	Projects []string
	// VertexLocation is the Vertex AI location runtimes call (DefaultVertexLocation if empty).
	VertexLocation string
}

// Service gives runtimes their tenant's identity and keeps the tenant's LLM access setting and
// its grant in step.
type Service struct {
	store    store.Store
	mgr      Manager
	authz    Authorizer
	projects []string
	location string
	now      func() time.Time
}

// NewService returns a Service. authz may be nil for a Service that only serves runtimes
// (ForRuntime, DeleteTenant): GetLLM and PutLLM then refuse.
func NewService(st store.Store, mgr Manager, authz Authorizer, cfg Config) (*Service, error) {
	if st == nil || mgr == nil {
		return nil, errors.New("identity.NewService: store and manager are required")
	}
	projects := slices.Clone(cfg.Projects)
	slices.Sort(projects)
	projects = slices.Compact(projects)
	return &Service{store: st, mgr: mgr, authz: authz, projects: projects,
		location: cmp.Or(cfg.VertexLocation, DefaultVertexLocation), now: time.Now}, nil
}

// Manager returns the service account manager.
func (s *Service) Manager() Manager { return s.mgr }

var errNoAuthz = errors.New("identity: this Service serves runtimes only (no authorizer)")

// LLMSetting is a tenant's recorded LLM access setting.
type LLMSetting struct {
	LLM
	// Location is where runtimes call Vertex AI.
	Location  string    `firestore:"-" json:"location"`
	UpdatedAt time.Time `firestore:"updated_at" json:"updated_at,omitzero"`
	UpdatedBy string    `firestore:"updated_by" json:"updated_by,omitempty"`
}

func llmKey(tenant string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindSettings, ID: settingLLM}
}

// readLLM returns the tenant's setting (off when none was recorded).
func (s *Service) readLLM(ctx context.Context, tenant string) (LLMSetting, error) {
	var l LLMSetting
	if _, err := s.store.Get(ctx, llmKey(tenant), &l); err != nil && !errors.Is(err, store.ErrNotFound) {
		return LLMSetting{}, fmt.Errorf("identity: read llm setting: %w", err)
	}
	if l.Models == nil {
		l.Models = []string{}
	}
	l.Location = s.location
	return l, nil
}

// GetLLM returns the tenant's LLM access setting.
func (s *Service) GetLLM(ctx context.Context, c tenancy.Caller, tenant string) (LLMSetting, error) {
	if s.authz == nil {
		return LLMSetting{}, errNoAuthz
	}
	if _, err := s.authz.Authorize(ctx, c, tenant, tenancy.ActLLMRead, settingLLM); err != nil {
		return LLMSetting{}, err
	}
	return s.readLLM(ctx, tenant)
}

// PutLLM records the tenant's LLM access setting (audited in the same transaction), then grants
// or removes roles/aiplatform.user of the tenant's service account in every project where it has
// one. A tenant without a service account yet gets the grant with its first runtime. When the
// grant fails the setting is recorded but the error is returned: repeating the request applies
// it (and every runtime deploy applies an "on" setting again).
func (s *Service) PutLLM(ctx context.Context, c tenancy.Caller, tenant string, in LLM) (LLMSetting, error) {
	if s.authz == nil {
		return LLMSetting{}, errNoAuthz
	}
	if _, err := s.authz.Authorize(ctx, c, tenant, tenancy.ActLLMWrite, settingLLM); err != nil {
		return LLMSetting{}, err
	}
	l, err := in.Normalize()
	if err != nil {
		return LLMSetting{}, err
	}
	now := s.now()
	out := LLMSetting{LLM: l, Location: s.location, UpdatedAt: now, UpdatedBy: c.Actor()}
	reason := "vertex_ai off"
	if l.VertexAI {
		reason = fmt.Sprintf("vertex_ai on: %v", l.Models)
	}
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tenancy.TenantExistsTx(tx, tenant); err != nil {
			return err
		}
		if err := tx.Put(llmKey(tenant), out); err != nil {
			return err
		}
		return tenancy.AuditTx(tx, c, tenant, tenancy.ActLLMWrite, settingLLM, tenancy.OutcomeSuccess, reason, now)
	})
	if err != nil {
		if errors.Is(err, tenancy.ErrTenantNotFound) {
			return LLMSetting{}, err
		}
		return LLMSetting{}, fmt.Errorf("identity: record llm setting: %w", err)
	}
	if err := s.applyLLM(ctx, tenant, l); err != nil {
		tenancy.RecordAudit(ctx, s.store, c, tenant, tenancy.ActLLMWrite, settingLLM, tenancy.OutcomeFailure, "grant failed; repeat the request", now)
		return out, err
	}
	return out, nil
}

// applyLLM brings the tenant's Vertex AI grant in every project in line with l.
func (s *Service) applyLLM(ctx context.Context, tenant string, l LLM) error {
	var errs []error
	for _, p := range s.projects {
		member := Member(Email(tenant, p))
		if !l.VertexAI {
			errs = append(errs, s.mgr.RemoveProjectRole(ctx, p, RoleVertexUser, member))
			continue
		}
		email, err := s.mgr.Lookup(ctx, tenant, p)
		if errors.Is(err, ErrNotFound) {
			continue // no runtime there yet: the first one grants it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.mgr.SetProjectRole(ctx, p, RoleVertexUser, Member(email), VertexCondition(p, s.location, l.Models)))
	}
	return errors.Join(errs...)
}

// ForRuntime makes sure the tenant's service account exists in project (a runtime is about to
// run there as it) and returns its email and the environment its runtimes get: with Vertex AI
// on, the conditioned grant is (re)applied and the Vertex settings are set.
func (s *Service) ForRuntime(ctx context.Context, tenant, project string) (string, map[string]string, error) {
	email, err := s.mgr.Ensure(ctx, tenant, project)
	if err != nil {
		return "", nil, err
	}
	l, err := s.readLLM(ctx, tenant)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !l.VertexAI {
		return email, nil, nil
	}
	if err := s.mgr.SetProjectRole(ctx, project, RoleVertexUser, Member(email), VertexCondition(project, s.location, l.Models)); err != nil {
		return "", nil, err
	}
	return email, VertexEnv(project, s.location), nil
}

// DeleteTenant removes the tenant's Vertex AI grants and deletes its service accounts in every
// project. Safe to repeat.
func (s *Service) DeleteTenant(ctx context.Context, tenant string) error {
	var errs []error
	for _, p := range s.projects {
		if err := s.mgr.RemoveProjectRole(ctx, p, RoleVertexUser, Member(Email(tenant, p))); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.mgr.Delete(ctx, tenant, p); err != nil {
			errs = append(errs, err)
			continue
		}
		logging.FromContext(ctx).InfoContext(ctx, "tenant service account deleted", "tenant", tenant, "project", p)
	}
	return errors.Join(errs...)
}
