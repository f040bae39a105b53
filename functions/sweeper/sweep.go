package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/usage"
)

// Defaults.
const (
	DefaultMaxPerTick = 100
	DefaultStuckAfter = 15 * time.Minute
	// DefaultLeaseTTL is how long an action's lease keeps other sweepers off a runtime (or an
	// orphan service); after a crash the action is retried once it has expired.
	DefaultLeaseTTL = 5 * time.Minute
	// DefaultVanishGrace is how old a record's last state change must be before a missing
	// service counts as vanished (Create records a runtime just before it deploys).
	DefaultVanishGrace = 2 * time.Minute
	// DefaultTickTimeout bounds one tick (ticks come every minute).
	DefaultTickTimeout = 50 * time.Second
)

// rosterID is the document (sweep/roster) holding the tenants the sweeper
// keeps visiting while they have runtimes it may act on. See README.md.
const rosterID = "roster"

// rosterKey is where the roster lives: sweep/roster.
var rosterKey = store.Key{Kind: store.KindSweep, ID: rosterID}

// Settings bound one tick.
type Settings struct {
	// MaxPerTick caps the actions (lease taken, then pause, archive, delete, fail or orphan
	// removal) of one tick; the rest wait for the next tick.
	MaxPerTick int
	// StuckAfter fails a runtime deploying for longer.
	StuckAfter  time.Duration
	LeaseTTL    time.Duration
	VanishGrace time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.MaxPerTick <= 0 {
		s.MaxPerTick = DefaultMaxPerTick
	}
	if s.StuckAfter <= 0 {
		s.StuckAfter = DefaultStuckAfter
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = DefaultLeaseTTL
	}
	if s.VanishGrace <= 0 {
		s.VanishGrace = DefaultVanishGrace
	}
	return s
}

// Sweeper decides and performs the lifecycle actions of one tick.
type Sweeper struct {
	orch   *runtime.Orchestrator
	rts    *runtime.Service
	dep    deploy.Deployer
	lister deploy.Lister // nil: no orphan removal, no vanished-service check
	store  store.Store
	cells  []deploy.Cell
	set    Settings
	now    func() time.Time
	log    *slog.Logger
	usage  UsageSweeper // nil: no usage pass
	gate   Gate         // nil: no billing pass
}

// UsageSweeper is the usage pass of each tick for one tenant: split open periods at midnights,
// publish what a crash left in the outbox (usage.Service implements it).
type UsageSweeper interface {
	Sweep(ctx context.Context, tenant string) (usage.SweepReport, error)
}

// Gate says whether a tenant may run runtimes (billing.Service.Check): its
// billing.ErrPaymentRequired or billing.ErrBudgetExceeded makes the tick pause the tenant's
// running runtimes.
type Gate func(ctx context.Context, tenant string) error

// WithGate makes each tick pause the running runtimes of tenants g refuses.
func (s *Sweeper) WithGate(g Gate) *Sweeper { s.gate = g; return s }

// checkBilling records in t whether tenant is refused by the gate. A gate that fails for
// another reason (the store) pauses nothing: the next tick asks again.
func (s *Sweeper) checkBilling(ctx context.Context, t *tick, tenant string) {
	if s.gate == nil {
		return
	}
	err := s.gate(ctx, tenant)
	switch {
	case err == nil:
	case errors.Is(err, billing.ErrPaymentRequired), errors.Is(err, billing.ErrBudgetExceeded):
		t.blocked[tenant] = err.Error()
	default:
		s.log.WarnContext(ctx, "billing check; nothing paused for it this tick", "tenant", tenant, "error", err)
	}
}

// WithUsage makes each tick run the usage pass for every tenant on the roster.
func (s *Sweeper) WithUsage(u UsageSweeper) *Sweeper { s.usage = u; return s }

// NewSweeper returns a Sweeper. dep should implement deploy.Lister; without it the sweeper
// only pauses, archives, deletes and fails stuck runtimes of tenants already on its roster.
func NewSweeper(st store.Store, orch *runtime.Orchestrator, dep deploy.Deployer, set Settings, now func() time.Time, log *slog.Logger) (*Sweeper, error) {
	if st == nil || orch == nil || dep == nil {
		return nil, errors.New("sweeper.NewSweeper: store, orchestrator and deployer are required")
	}
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	if log == nil {
		log = slog.Default()
	}
	l, _ := dep.(deploy.Lister)
	return &Sweeper{orch: orch, rts: orch.Runtimes(), dep: dep, lister: l, store: st, cells: orch.Runtimes().Cells(),
		set: set.withDefaults(), now: now, log: log}, nil
}

// Action is what the sweeper did (or would do) to a runtime or service.
type Action string

// Actions.
const (
	ActPause        Action = "pause"         // running, idle past the tenant's idle timeout
	ActArchive      Action = "archive"       // paused past the archive timeout: stopped
	ActDelete       Action = "delete"        // archived past the tenant's retention
	ActFailStuck    Action = "fail_stuck"    // deploying past StuckAfter: failed, service deleted
	ActFailVanished Action = "fail_vanished" // deploying/running whose service is gone: failed
	ActArchiveGone  Action = "archive_gone"  // paused whose service is gone: stopped
	ActRemoveOrphan Action = "remove_orphan" // a service of ours that no live record owns
	ActPauseBilling Action = "pause_billing" // running, of a tenant past due or over its budget
)

// Report is what one tick did.
type Report struct {
	Examined int
	// Done counts actions performed, by kind.
	Done map[Action]int
	// Skipped counts candidates another sweeper held, or that moved on meanwhile.
	Skipped int
	// Deferred counts candidates left for the next tick (MaxPerTick reached).
	Deferred int
	Failed   int
	// UsageSplit and UsagePublished count the usage pass's period pieces closed at midnight
	// and outbox entries published.
	UsageSplit, UsagePublished int
}

// tick is the state of one run.
type tick struct {
	now      time.Time
	budget   int
	report   Report
	services map[string]map[string]deploy.Listed // cell → service → listed; a cell missing: List failed
	live     map[string]bool                     // "cell/service" of records that own a service
	blocked  map[string]string                   // tenant → why it may not run runtimes (billing)
}

// candidate is one decided action.
type candidate struct {
	act     Action
	r       runtime.Runtime
	listed  deploy.Listed
	cell    deploy.Cell
	leaseID string
}

// Tick runs one sweep. It returns an error only when nothing could be examined (the store
// failed); the failures of single actions are logged, counted and retried on a later tick.
func (s *Sweeper) Tick(ctx context.Context) (Report, error) {
	t := &tick{now: s.now(), budget: s.set.MaxPerTick, report: Report{Done: map[Action]int{}},
		services: map[string]map[string]deploy.Listed{}, live: map[string]bool{}, blocked: map[string]string{}}
	seen := map[string]bool{}
	if s.lister != nil {
		for _, c := range s.cells {
			list, err := s.lister.List(ctx, c)
			if err != nil {
				s.log.WarnContext(ctx, "list services; cell skipped this tick", "cell", c.Name, "error", err)
				continue
			}
			byName := map[string]deploy.Listed{}
			for _, l := range list {
				byName[l.Service] = l
				if l.Tenant != "" {
					seen[l.Tenant] = true
				}
			}
			t.services[c.Name] = byName
		}
	}
	tenants, err := s.roster(ctx, seen)
	if err != nil {
		return t.report, err
	}
	var drop []string
	for _, tenant := range tenants {
		active, err := s.sweepTenant(ctx, t, tenant)
		if err != nil {
			s.log.WarnContext(ctx, "sweep tenant", "tenant", tenant, "error", err)
			continue
		}
		if s.usage != nil {
			ur, err := s.usage.Sweep(ctx, tenant)
			t.report.UsageSplit += ur.Split
			t.report.UsagePublished += ur.Published
			if err != nil {
				s.log.WarnContext(ctx, "usage pass", "tenant", tenant, "error", err)
			}
			active = active || err != nil || ur.Pending > 0
		}
		if !active && !seen[tenant] {
			drop = append(drop, tenant)
		}
	}
	if len(drop) > 0 {
		if err := s.prune(ctx, drop); err != nil {
			s.log.WarnContext(ctx, "prune sweeper roster", "error", err)
		}
	}
	s.sweepOrphans(ctx, t)
	return t.report, nil
}

// listAll returns every runtime of tenant in state, page by page.
func (s *Sweeper) listAll(ctx context.Context, tenant string, state runtime.State) ([]runtime.Runtime, error) {
	var all []runtime.Runtime
	cursor := ""
	for {
		page, next, err := s.rts.List(ctx, tenant, state, store.Query{Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

// sweepTenant examines the tenant's runtimes that may need an action, and reports whether the
// tenant still has any the sweeper must come back for.
func (s *Sweeper) sweepTenant(ctx context.Context, t *tick, tenant string) (bool, error) {
	s.checkBilling(ctx, t, tenant)
	u, err := s.rts.Usage(ctx, tenant)
	if err != nil {
		return false, fmt.Errorf("usage: %w", err)
	}
	lc := u.Lifecycle
	active := false
	for _, state := range []runtime.State{runtime.StateDeploying, runtime.StateRunning, runtime.StatePaused, runtime.StateStopped} {
		// Every page: the live services found here keep theirs from being taken for orphans.
		rs, err := s.listAll(ctx, tenant, state)
		if err != nil {
			return true, fmt.Errorf("list %s runtimes: %w", state, err)
		}
		for _, r := range rs {
			if r.State.HasService() {
				t.live[r.Cell+"/"+r.Service] = true
			}
			if r.State.HasService() || lc.Retention > 0 {
				active = true
			}
			t.report.Examined++
			act := s.decide(t, lc, r)
			if act == "" {
				continue
			}
			s.perform(ctx, t, candidate{act: act, r: r, cell: s.cell(r.Cell),
				leaseID: fmt.Sprintf("sweep-%s-%s-g%d", r.Tenant, r.ID, r.Generation)})
		}
	}
	return active, nil
}

// decide is the action due on r at t.now, or "".
func (s *Sweeper) decide(t *tick, lc runtime.Lifecycle, r runtime.Runtime) Action {
	since := t.now.Sub(r.UpdatedAt) // time in the current state
	switch r.State {
	case runtime.StateDeploying:
		if since > s.set.StuckAfter {
			return ActFailStuck
		}
		if s.vanished(t, r, since) {
			return ActFailVanished
		}
	case runtime.StateRunning:
		if why := t.blocked[r.Tenant]; why != "" && !s.vanished(t, r, since) {
			return ActPauseBilling
		}
		if s.vanished(t, r, since) {
			return ActFailVanished
		}
		last := r.LastActivityAt
		if r.UpdatedAt.After(last) {
			last = r.UpdatedAt // a resume counts as activity
		}
		if lc.IdleTimeout > 0 && t.now.Sub(last) > lc.IdleTimeout {
			return ActPause
		}
	case runtime.StatePaused:
		if s.vanished(t, r, since) {
			return ActArchiveGone
		}
		if lc.ArchiveAfter > 0 && since > lc.ArchiveAfter {
			return ActArchive
		}
	case runtime.StateStopped:
		if lc.Retention > 0 && since > lc.Retention {
			return ActDelete
		}
	}
	return ""
}

// vanished reports whether r's cell was listed this tick without r's service, and r has been
// in its state for longer than the grace period.
func (s *Sweeper) vanished(t *tick, r runtime.Runtime, since time.Duration) bool {
	byName, ok := t.services[r.Cell]
	if !ok || since <= s.set.VanishGrace {
		return false
	}
	_, present := byName[r.Service]
	return !present
}

func (s *Sweeper) cell(name string) deploy.Cell {
	for _, c := range s.cells {
		if c.Name == name {
			return c
		}
	}
	return deploy.Cell{Name: name}
}

// sweepOrphans removes the listed services that no live record owns.
func (s *Sweeper) sweepOrphans(ctx context.Context, t *tick) {
	cells := make([]string, 0, len(t.services))
	for c := range t.services {
		cells = append(cells, c)
	}
	slices.Sort(cells)
	for _, c := range cells {
		names := make([]string, 0, len(t.services[c]))
		for n := range t.services[c] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			if t.live[c+"/"+name] {
				continue
			}
			l := t.services[c][name]
			t.report.Examined++
			owned, err := s.owned(ctx, t.now, l)
			if err != nil {
				s.log.WarnContext(ctx, "read the record of a service", "cell", c, "service", name, "error", err)
				t.report.Failed++
				continue
			}
			if owned {
				continue
			}
			s.perform(ctx, t, candidate{act: ActRemoveOrphan, listed: l, cell: s.cell(c), leaseID: "sweep-orphan-" + c + "-" + name})
		}
	}
}

// owned reports whether a record owns the listed service: one whose state has a service, or
// one that left such a state less than LeaseTTL ago (whoever moved it deletes the service
// itself; the orphan sweep is for what a crash left behind, so it never races them).
func (s *Sweeper) owned(ctx context.Context, now time.Time, l deploy.Listed) (bool, error) {
	if l.Tenant == "" || l.RuntimeID == "" {
		return false, nil
	}
	r, err := s.rts.Get(ctx, l.Tenant, l.RuntimeID)
	if errors.Is(err, runtime.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.Service != l.Service {
		return false, nil
	}
	return r.State.HasService() || now.Sub(r.UpdatedAt) <= s.set.LeaseTTL, nil
}

// perform takes the candidate's lease and acts, within the tick's budget.
func (s *Sweeper) perform(ctx context.Context, t *tick, c candidate) {
	log := s.log.With("action", c.act, "tenant", c.r.Tenant, "runtime", c.r.ID, "cell", c.cell.Name)
	if c.act == ActRemoveOrphan {
		log = s.log.With("action", c.act, "tenant", c.listed.Tenant, "runtime", c.listed.RuntimeID, "cell", c.cell.Name, "service", c.listed.Service)
	}
	if t.budget <= 0 {
		t.report.Deferred++
		return
	}
	ok, err := s.lease(ctx, t.now, c.leaseID)
	if err != nil {
		log.WarnContext(ctx, "take lease", "error", err)
		t.report.Failed++
		return
	}
	if !ok {
		t.report.Skipped++
		return
	}
	t.budget--
	done, err := s.act(ctx, t, c)
	switch {
	case err != nil:
		// The lease stays until it expires, so the next ticks move on to other candidates
		// and retry this one after LeaseTTL.
		log.ErrorContext(ctx, "sweep action failed", "error", err)
		t.report.Failed++
	case !done:
		log.DebugContext(ctx, "candidate moved on meanwhile")
		t.report.Skipped++
	default:
		log.InfoContext(ctx, "swept")
		t.report.Done[c.act]++
	}
}

// act performs c. It reports false when the runtime moved on since it was read (someone else
// acted, or the user did): that is "already done", not an error.
func (s *Sweeper) act(ctx context.Context, t *tick, c candidate) (bool, error) {
	if c.act == ActRemoveOrphan {
		// Check again under the lease: the record may have been created or resumed since.
		owned, err := s.owned(ctx, t.now, c.listed)
		if err != nil || owned {
			return false, err
		}
		if err := s.dep.Delete(ctx, c.cell, c.listed.Service); err != nil && !errors.Is(err, deploy.ErrNotFound) {
			return false, fmt.Errorf("delete orphan service: %w", err)
		}
		return true, nil
	}
	// Decide again on a fresh read: a second sweeper, the user or the ingress may have moved
	// the runtime on since the list.
	r, err := s.rts.Get(ctx, c.r.Tenant, c.r.ID)
	if err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	u, err := s.rts.Usage(ctx, r.Tenant)
	if err != nil {
		return false, fmt.Errorf("usage: %w", err)
	}
	if r.Generation != c.r.Generation || s.decide(t, u.Lifecycle, r) != c.act {
		return false, nil
	}
	switch c.act {
	case ActPause, ActPauseBilling:
		_, err = s.orch.Do(ctx, r.Tenant, r.ID, runtime.ActionPause)
	case ActArchive, ActArchiveGone:
		_, err = s.orch.Do(ctx, r.Tenant, r.ID, runtime.ActionStop)
	case ActDelete:
		_, err = s.orch.Do(ctx, r.Tenant, r.ID, runtime.ActionDelete)
	case ActFailStuck, ActFailVanished:
		reason := "the runtime's service is gone"
		if c.act == ActFailStuck {
			reason = fmt.Sprintf("the runtime did not become ready within %s", s.set.StuckAfter)
		}
		// Record first (only if nothing moved it meanwhile), then remove the service: a crash
		// in between leaves a service no live record owns, which the orphan sweep removes.
		_, err = s.rts.Transition(ctx, r.Tenant, r.ID, runtime.StateFailed, func(x *runtime.Runtime) error {
			if x.Generation != r.Generation {
				return fmt.Errorf("%w: moved on meanwhile", runtime.ErrIllegalTransition)
			}
			x.Reason = reason
			return nil
		})
		if err == nil && c.act == ActFailStuck {
			if derr := s.dep.Delete(ctx, c.cell, r.Service); derr != nil && !errors.Is(derr, deploy.ErrNotFound) {
				return true, fmt.Errorf("delete the stuck runtime's service: %w", derr)
			}
		}
	}
	if errors.Is(err, runtime.ErrIllegalTransition) || errors.Is(err, runtime.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.act, err)
	}
	return true, nil
}

// lease takes the lease id until now+LeaseTTL, unless someone holds it. The lease lives in
// the event ledger (with expire_at, so the ledger's TTL policy removes it).
func (s *Sweeper) lease(ctx context.Context, now time.Time, id string) (bool, error) {
	taken := false
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		taken = false
		k := store.EventKey(id)
		var rec store.EventRecord
		_, err := tx.Get(k, &rec)
		switch {
		case err == nil && rec.ExpireAt.After(now):
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		taken = true
		return tx.Put(k, store.EventRecord{EventID: id, ProcessedAt: now, ExpireAt: now.Add(s.set.LeaseTTL)})
	})
	if err != nil {
		return false, fmt.Errorf("sweeper: lease %s: %w", id, err)
	}
	return taken, nil
}

// rosterDoc is sweep/roster: the tenants to visit each tick. It has no expire_at, so
// the ledger's TTL policy leaves it alone.
type rosterDoc struct {
	EventID   string    `firestore:"event_id"`
	Tenants   []string  `firestore:"tenants"`
	UpdatedAt time.Time `firestore:"updated_at"`
}

// roster adds the tenants seen in the cells to the roster and returns all of them, sorted.
func (s *Sweeper) roster(ctx context.Context, seen map[string]bool) ([]string, error) {
	var out []string
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var doc rosterDoc
		if _, err := tx.Get(rosterKey, &doc); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		set := map[string]bool{}
		for _, t := range doc.Tenants {
			set[t] = true
		}
		added := false
		for t := range seen {
			if !set[t] {
				set[t], added = true, true
			}
		}
		out = make([]string, 0, len(set))
		for t := range set {
			out = append(out, t)
		}
		slices.Sort(out)
		if !added {
			return nil
		}
		return tx.Put(rosterKey, rosterDoc{EventID: rosterID, Tenants: out, UpdatedAt: s.now()})
	})
	if err != nil {
		return nil, fmt.Errorf("sweeper: roster: %w", err)
	}
	return out, nil
}

// prune removes tenants with nothing left to sweep from the roster.
func (s *Sweeper) prune(ctx context.Context, drop []string) error {
	return s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var doc rosterDoc
		if _, err := tx.Get(rosterKey, &doc); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		doc.Tenants = slices.DeleteFunc(doc.Tenants, func(t string) bool { return slices.Contains(drop, t) })
		doc.UpdatedAt = s.now()
		return tx.Put(rosterKey, doc)
	})
}
