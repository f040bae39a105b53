package runtime

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/store"
)

// Collections.
const (
	KindRuntimes = "runtimes"
	// KindQuota holds one document, "usage": the tenant's runtime capacity in use.
	KindQuota  = "runtimequota"
	usageDocID = "usage"
)

// Service keeps runtime records, quotas and cell placement. It does not talk to Cloud Run:
// callers deploy after a transition and record the outcome with another.
type Service struct {
	store store.Store
	cells []deploy.Cell
	now   func() time.Time
	hook  Hook
}

// Hook records something about every state change (and every create) in the same transaction
// as the change, so it commits or rolls back with it: shared/usage closes and opens usage
// periods this way. The transaction may run more than once; only the last attempt's Change is
// told about the commit.
type Hook interface {
	// Prepare runs in the transaction before it writes anything, with the record as it was (the
	// zero Runtime on create). It may read.
	Prepare(tx store.Tx, before Runtime) (Change, error)
}

// Change is one transaction's part of a Hook.
type Change interface {
	// Write runs in the transaction once the move is decided, with the record as it will be
	// committed (UpdatedAt is the time of the change). It may only write.
	Write(tx store.Tx, after Runtime) error
	// Committed runs after the transaction committed, for work that must follow the commit
	// (publishing). It must tolerate not being called (a crash).
	Committed(ctx context.Context)
}

// SetHook installs h; call it before the Service is used.
func (s *Service) SetHook(h Hook) { s.hook = h }

// SetClock replaces the clock (default time.Now in UTC); call it before the Service is used.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// prepare calls the hook's Prepare, or returns a Change that does nothing.
func (s *Service) prepare(tx store.Tx, before Runtime) (Change, error) {
	if s.hook == nil {
		return noChange{}, nil
	}
	return s.hook.Prepare(tx, before)
}

type noChange struct{}

func (noChange) Write(store.Tx, Runtime) error { return nil }
func (noChange) Committed(context.Context)     {}

// NewService returns a Service placing runtimes in cells.
func NewService(st store.Store, cells []deploy.Cell) (*Service, error) {
	if st == nil || len(cells) == 0 {
		return nil, errors.New("runtime.NewService: a store and at least one cell are required")
	}
	for _, c := range cells {
		if c.Name == "" || c.Limit <= 0 {
			return nil, fmt.Errorf("runtime.NewService: cell %q needs a name and a positive limit", c.Name)
		}
	}
	return &Service{store: st, cells: cells, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Spec describes a runtime to create.
type Spec struct {
	SessionID      string
	Source         build.Source
	Image          string
	StartCmd       string
	Ports          []int
	ResourceFactor int
	Mode           deploy.Mode
	// State is the first state: pending, building (with BuildID) or deploying (with Image).
	State      State
	BuildID    string
	Actor      string
	Env        map[string]string
	Secrets    []deploy.SecretRef
	Members    []string
	IngressEnv map[string]string
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a runtime id: 20 characters of [a-z2-7], so "rt-"+id is a valid service id.
func NewID() string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:20]
}

// newToken returns 32 random characters of [a-z2-7] (160 bits).
func newToken() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// Create records a new runtime, taking the tenant's quota and a cell slot in the same
// transaction. Over quota it returns a *QuotaError; with every cell full, ErrCapacity.
func (s *Service) Create(ctx context.Context, tenant string, sp Spec) (Runtime, error) {
	if sp.ResourceFactor == 0 {
		sp.ResourceFactor = 1
	}
	size, ok := deploy.Sizes[sp.ResourceFactor]
	if !ok {
		return Runtime{}, fmt.Errorf("%w: resource_factor must be 1, 2, 4 or 8", ErrInvalid)
	}
	if sp.State == "" {
		sp.State = StatePending
	}
	if !sp.State.Active() || sp.State.HasService() && sp.State != StateDeploying {
		return Runtime{}, fmt.Errorf("%w: a runtime starts pending, building or deploying", ErrInvalid)
	}
	if sp.Mode == "" {
		sp.Mode = deploy.ModeIAP
	}
	id := NewID()
	service, err := deploy.ServiceName(id)
	if err != nil {
		return Runtime{}, err
	}
	now := s.now()
	r := Runtime{ID: id, Tenant: tenant, SessionID: sp.SessionID, State: sp.State, Source: sp.Source, BuildID: sp.BuildID,
		Image: sp.Image, StartCmd: sp.StartCmd, Ports: sp.Ports, Service: service, ResourceFactor: sp.ResourceFactor,
		VCPU: size.VCPU, Mode: sp.Mode, Env: sp.Env, Secrets: sp.Secrets, Members: sp.Members, VSCodeToken: newToken(), SessionAPIKey: newToken(), IngressEnv: sp.IngressEnv,
		CreatedBy: sp.Actor, CreatedAt: now, UpdatedAt: now, LastActivityAt: now, Generation: 1}
	if r.Ports == nil {
		r.Ports = []int{}
	}
	var change Change
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if change, err = s.prepare(tx, Runtime{}); err != nil {
			return err
		}
		u, err := s.usage(tx, tenant)
		if err != nil {
			return err
		}
		if now.Sub(u.WindowStart) >= time.Minute {
			u.WindowStart, u.WindowCreate = now, 0
		}
		if u.WindowCreate+1 > u.Quotas.CreatesPerMinute {
			return &QuotaError{Quota: "creates_per_minute", Limit: u.Quotas.CreatesPerMinute, Used: u.WindowCreate}
		}
		u.WindowCreate++
		rr := r
		if err := s.take(tx, &u, &rr); err != nil {
			return err
		}
		if err := tx.Put(usageKey(tenant), u); err != nil {
			return err
		}
		r = rr
		if err := tx.Create(runtimeIDKey(id), RuntimeOwner{Runtime: id, Tenant: tenant}); err != nil {
			return err
		}
		if err := change.Write(tx, rr); err != nil {
			return err
		}
		return tx.Create(runtimeKey(tenant, id), rr)
	})
	if err != nil {
		return Runtime{}, fmt.Errorf("runtime: create: %w", err)
	}
	change.Committed(ctx)
	return r, nil
}

// usage reads the tenant's usage document (defaults when absent). Reads come first in a
// transaction.
func (s *Service) usage(tx store.Tx, tenant string) (Usage, error) {
	var u Usage
	_, err := tx.Get(usageKey(tenant), &u)
	if errors.Is(err, store.ErrNotFound) {
		return Usage{Quotas: DefaultQuotas, Lifecycle: DefaultLifecycle}, nil
	}
	if u.Quotas == (Quotas{}) {
		u.Quotas = DefaultQuotas
	}
	if u.Lifecycle == (Lifecycle{}) {
		u.Lifecycle = DefaultLifecycle
	}
	return u, err
}

// take checks the quota for r and places it in a cell (keeping its cell when that has room),
// updating u and the cell's document. It reads every cell document: call it before writes.
func (s *Service) take(tx store.Tx, u *Usage, r *Runtime) error {
	if u.Active+1 > u.Quotas.MaxRuntimes {
		return &QuotaError{Quota: "runtimes", Limit: u.Quotas.MaxRuntimes, Used: u.Active}
	}
	if u.VCPU+r.VCPU > u.Quotas.MaxVCPU {
		return &QuotaError{Quota: "vcpu", Limit: u.Quotas.MaxVCPU, Used: u.VCPU}
	}
	// The runtime's own cell when it has room (resume keeps it near its workspace), else the
	// cell with the most room.
	best, bestRoom, own := -1, 0, -1
	uses := make([]CellUsage, len(s.cells))
	for i, c := range s.cells {
		_, err := tx.Get(cellKey(c.Name), &uses[i])
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		uses[i].Name = c.Name
		room := c.Limit - uses[i].InUse
		if room > 0 && c.Name == r.Cell {
			own = i
		}
		if room > bestRoom {
			best, bestRoom = i, room
		}
	}
	if own >= 0 {
		best = own
	}
	if best < 0 {
		return ErrCapacity
	}
	uses[best].InUse++
	u.Active++
	u.VCPU += r.VCPU
	r.Cell = s.cells[best].Name
	return tx.Put(cellKey(r.Cell), uses[best])
}

// release gives back r's quota and cell slot.
func (s *Service) release(tx store.Tx, u *Usage, cell CellUsage, r Runtime) error {
	u.Active = max(u.Active-1, 0)
	u.VCPU = max(u.VCPU-r.VCPU, 0)
	cell.InUse = max(cell.InUse-1, 0)
	cell.Name = r.Cell
	return tx.Put(cellKey(r.Cell), cell)
}

// Transition moves a runtime to state to, after applying mutate (which may set fields such as
// Reason, Image or URL). It fails with ErrIllegalTransition when the move is not legal from
// the current state, and takes or gives back capacity when the move enters or leaves the
// active states.
func (s *Service) Transition(ctx context.Context, tenant, id string, to State, mutate func(*Runtime) error) (Runtime, error) {
	var out Runtime
	var change Change
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var r Runtime
		if _, err := tx.Get(runtimeKey(tenant, id), &r); err != nil {
			return err
		}
		from := r.State
		if !CanTransition(from, to) {
			return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, from, to)
		}
		var err error
		if change, err = s.prepare(tx, r); err != nil {
			return err
		}
		u, err := s.usage(tx, tenant)
		if err != nil {
			return err
		}
		var cell CellUsage
		leaving := from.Active() && !to.Active()
		if leaving && r.Cell != "" {
			if _, err := tx.Get(cellKey(r.Cell), &cell); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if mutate != nil {
			if err := mutate(&r); err != nil {
				return err
			}
		}
		r.State, r.UpdatedAt, r.Generation = to, s.now(), r.Generation+1
		switch {
		case leaving:
			if err := s.release(tx, &u, cell, r); err != nil {
				return err
			}
		case !from.Active() && to.Active():
			if err := s.take(tx, &u, &r); err != nil {
				return err
			}
		}
		if leaving || !from.Active() && to.Active() {
			if err := tx.Put(usageKey(tenant), u); err != nil {
				return err
			}
		}
		out = r
		if err := change.Write(tx, r); err != nil {
			return err
		}
		return tx.Put(runtimeKey(tenant, id), r)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return Runtime{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("runtime: %s → %s: %w", id, to, err)
	}
	change.Committed(ctx)
	return out, nil
}

// Get returns one runtime.
func (s *Service) Get(ctx context.Context, tenant, id string) (Runtime, error) {
	var r Runtime
	if _, err := s.store.Get(ctx, runtimeKey(tenant, id), &r); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return Runtime{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return Runtime{}, fmt.Errorf("runtime: get: %w", err)
	}
	return r, nil
}

// List returns a page of the tenant's runtimes, optionally only those in state.
func (s *Service) List(ctx context.Context, tenant string, state State, q store.Query) ([]Runtime, string, error) {
	if state != "" {
		q.Where = []store.Filter{{Field: "state", Value: string(state)}}
	}
	return store.ListOf[Runtime](ctx, s.store, tenant, KindRuntimes, q)
}

// Usage returns the tenant's runtime capacity in use.
func (s *Service) Usage(ctx context.Context, tenant string) (Usage, error) {
	var u Usage
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		u, err = s.usage(tx, tenant)
		return err
	})
	return u, err
}

// SetQuotas sets the tenant's runtime quotas.
func (s *Service) SetQuotas(ctx context.Context, tenant string, q Quotas) error {
	return s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := s.usage(tx, tenant)
		if err != nil {
			return err
		}
		u.Quotas = q
		return tx.Put(usageKey(tenant), u)
	})
}

// CellInUse returns how many services a cell holds.
func (s *Service) CellInUse(ctx context.Context, cell string) (int, error) {
	var c CellUsage
	_, err := s.store.Get(ctx, cellKey(cell), &c)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return c.InUse, err
}

func runtimeKey(tenant, id string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindRuntimes, ID: id}
}
func runtimeIDKey(id string) store.Key { return store.Key{Kind: store.KindRuntimeIDs, ID: id} }

// RuntimeOwner is the global document runtimeids/{runtime id}: which tenant a runtime id
// belongs to. Create writes it with the record; it is never changed (ids are not reused).
type RuntimeOwner struct {
	Runtime string `firestore:"runtime" json:"runtime"`
	Tenant  string `firestore:"tenant" json:"tenant"`
}

// Owner returns the tenant of runtime id (ErrNotFound for an id no Create made). Only the
// gateway needs it, for hosts that name a runtime but no tenant; the caller then reads the
// record under that tenant.
func (s *Service) Owner(ctx context.Context, id string) (string, error) {
	var o RuntimeOwner
	if _, err := s.store.Get(ctx, runtimeIDKey(id), &o); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return "", fmt.Errorf("runtime: owner of %q: %w", id, ErrNotFound)
		}
		return "", fmt.Errorf("runtime: owner of %q: %w", id, err)
	}
	return o.Tenant, nil
}

func usageKey(tenant string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindQuota, ID: usageDocID}
}
func cellKey(name string) store.Key { return store.Key{Kind: store.KindCells, ID: name} }

// touchEvery bounds how often activity is written.
const touchEvery = time.Minute

// Touch records activity on a runtime at time at, at most once a minute (an older or equal
// time changes nothing). It never changes the state.
func (s *Service) Touch(ctx context.Context, tenant, id string, at time.Time) error {
	var r Runtime
	if _, err := s.store.Get(ctx, runtimeKey(tenant, id), &r); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("runtime: touch: %w", err)
	}
	return s.TouchRecord(ctx, r, at)
}

// TouchRecord is Touch for a record the caller has just read: when its activity time is
// recent, nothing is read or written.
func (s *Service) TouchRecord(ctx context.Context, r Runtime, at time.Time) error {
	if at.Sub(r.LastActivityAt) < touchEvery {
		return nil
	}
	_, err := store.Update(ctx, s.store, runtimeKey(r.Tenant, r.ID), func(r *Runtime) error {
		if at.After(r.LastActivityAt) {
			r.LastActivityAt = at.UTC()
		}
		return nil
	})
	return err
}

// SetLifecycle sets the tenant's idle and retention policy.
func (s *Service) SetLifecycle(ctx context.Context, tenant string, l Lifecycle) error {
	return s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := s.usage(tx, tenant)
		if err != nil {
			return err
		}
		u.Lifecycle = l
		return tx.Put(usageKey(tenant), u)
	})
}

// Cells returns the configured cells.
func (s *Service) Cells() []deploy.Cell { return append([]deploy.Cell(nil), s.cells...) }
