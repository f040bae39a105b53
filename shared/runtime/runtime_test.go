package runtime_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
)

var allStates = []runtime.State{runtime.StatePending, runtime.StateBuilding, runtime.StateDeploying, runtime.StateRunning,
	runtime.StatePaused, runtime.StateStopped, runtime.StateDeleted, runtime.StateFailed}

func TestTransitionTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to runtime.State
		want     bool
	}{
		{runtime.StatePending, runtime.StateBuilding, true},
		{runtime.StateBuilding, runtime.StateDeploying, true},
		{runtime.StateDeploying, runtime.StateRunning, true},
		{runtime.StateRunning, runtime.StatePaused, true},
		{runtime.StatePaused, runtime.StateRunning, true},
		{runtime.StateStopped, runtime.StateDeploying, true},
		{runtime.StateRunning, runtime.StateBuilding, false},
		{runtime.StatePaused, runtime.StatePending, false},
		{runtime.StateStopped, runtime.StateRunning, false},
		{runtime.StateDeleted, runtime.StateDeploying, false},
		{runtime.StateFailed, runtime.StateRunning, false},
	}
	for _, tc := range tests {
		if got := runtime.CanTransition(tc.from, tc.to); got != tc.want {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	for _, s := range allStates {
		if runtime.CanTransition(runtime.StateDeleted, s) {
			t.Errorf("deleted moves to %s", s)
		}
		if runtime.CanTransition(s, s) {
			t.Errorf("%s moves to itself", s)
		}
	}
}

var cells = []deploy.Cell{{Name: "c1", Project: "p1", Region: "us-central1", Limit: 3}, {Name: "c2", Project: "p2", Region: "europe-west1", Limit: 2}}

func newService(t *testing.T) (*runtime.Service, store.Store) {
	t.Helper()
	st := storetest.NewEmulatorStore(t)
	s, err := runtime.NewService(st, cells)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// TestRandomOperations applies random legal and illegal moves to a few runtimes and checks,
// after every step, that no runtime is in an unknown state, illegal moves changed nothing,
// every runtime has its own service, and the tenant's usage and the cells' slots equal what
// the runtimes hold.
func TestRandomOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newService(t)
	rng := rand.New(rand.NewPCG(1, 2))
	if err := s.SetQuotas(ctx, "acme", runtime.Quotas{MaxRuntimes: 4, MaxVCPU: 6, CreatesPerMinute: 1000}); err != nil {
		t.Fatal(err)
	}
	known := map[string]runtime.Runtime{}
	var ids []string
	for step := 0; step < 120; step++ {
		if len(ids) < 6 && rng.IntN(4) == 0 {
			r, err := s.Create(ctx, "acme", runtime.Spec{ResourceFactor: []int{1, 2}[rng.IntN(2)]})
			switch {
			case err == nil:
				known[r.ID] = r
				ids = append(ids, r.ID)
			case errors.Is(err, runtime.ErrQuota), errors.Is(err, runtime.ErrCapacity):
			default:
				t.Fatalf("step %d: create: %v", step, err)
			}
		} else if len(ids) > 0 {
			id := ids[rng.IntN(len(ids))]
			before := known[id]
			to := allStates[rng.IntN(len(allStates))]
			r, err := s.Transition(ctx, "acme", id, to, nil)
			legal := runtime.CanTransition(before.State, to)
			switch {
			case err == nil && !legal:
				t.Fatalf("step %d: illegal %s → %s accepted", step, before.State, to)
			case err == nil:
				known[id] = r
			case errors.Is(err, runtime.ErrIllegalTransition):
				if legal {
					t.Fatalf("step %d: legal %s → %s refused", step, before.State, to)
				}
			case errors.Is(err, runtime.ErrQuota), errors.Is(err, runtime.ErrCapacity):
				if !legal || before.State.Active() || !to.Active() {
					t.Fatalf("step %d: capacity error on %s → %s", step, before.State, to)
				}
			default:
				t.Fatalf("step %d: %v", step, err)
			}
			got, err := s.Get(ctx, "acme", id)
			if err != nil || got.State != known[id].State {
				t.Fatalf("step %d: stored state %s, want %s (%v)", step, got.State, known[id].State, err)
			}
		}
		checkInvariants(t, ctx, s, known)
	}
}

func checkInvariants(t *testing.T, ctx context.Context, s *runtime.Service, known map[string]runtime.Runtime) {
	t.Helper()
	active, vcpu := 0, 0
	perCell := map[string]int{}
	services := map[string]string{}
	for id, r := range known {
		if !r.State.Valid() {
			t.Fatalf("runtime %s in unknown state %q", id, r.State)
		}
		if other, dup := services[r.Service]; dup {
			t.Fatalf("runtimes %s and %s share service %s", id, other, r.Service)
		}
		services[r.Service] = id
		if r.State.Active() {
			active++
			vcpu += r.VCPU
			perCell[r.Cell]++
		}
	}
	u, err := s.Usage(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if u.Active != active || u.VCPU != vcpu {
		t.Fatalf("usage %d runtimes / %d vCPU, runtimes hold %d / %d", u.Active, u.VCPU, active, vcpu)
	}
	for _, c := range cells {
		n, err := s.CellInUse(ctx, c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if n != perCell[c.Name] || n > c.Limit {
			t.Fatalf("cell %s: %d in use, runtimes hold %d (limit %d)", c.Name, n, perCell[c.Name], c.Limit)
		}
	}
}

// TestConcurrentCreatesRespectQuota: fifty concurrent creates against a quota of ten start
// exactly ten.
func TestConcurrentCreatesRespectQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(t)
	s, err := runtime.NewService(st, []deploy.Cell{{Name: "big", Project: "p", Region: "r", Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetQuotas(ctx, "acme", runtime.Quotas{MaxRuntimes: 10, MaxVCPU: 100, CreatesPerMinute: 100}); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, over int
		other    []error
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(ctx, "acme", runtime.Spec{})
			mu.Lock()
			defer mu.Unlock()
			var qe *runtime.QuotaError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &qe) && qe.Quota == "runtimes" && qe.Limit == 10 && qe.Used == 10:
				over++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if ok != 10 || over != 40 || len(other) > 0 {
		t.Fatalf("%d created, %d over quota, other errors %v; want 10 and 40", ok, over, other)
	}
	recs, _, err := s.List(ctx, "acme", "", store.Query{Limit: 100})
	if err != nil || len(recs) != 10 {
		t.Fatalf("%d runtimes recorded (%v)", len(recs), err)
	}
}

func TestCapacityAndQuotaErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newService(t)
	for i := 0; i < 5; i++ { // 3 + 2 slots
		if _, err := s.Create(ctx, "acme", runtime.Spec{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "acme", runtime.Spec{}); !errors.Is(err, runtime.ErrCapacity) {
		t.Errorf("sixth runtime: %v, want ErrCapacity", err)
	}
	if _, err := s.Create(ctx, "other", runtime.Spec{ResourceFactor: 3}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("resource factor 3: %v", err)
	}
	if err := s.SetQuotas(ctx, "small", runtime.Quotas{MaxRuntimes: 5, MaxVCPU: 2, CreatesPerMinute: 5}); err != nil {
		t.Fatal(err)
	}
	var qe *runtime.QuotaError
	if _, err := s.Create(ctx, "small", runtime.Spec{ResourceFactor: 4}); !errors.As(err, &qe) || qe.Quota != "vcpu" || qe.Limit != 2 {
		t.Errorf("vcpu quota: %v", err)
	}
}

func TestOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newService(t)
	a, err := s.Create(ctx, "acme", runtime.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, "other", runtime.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []runtime.Runtime{a, b} {
		if got, err := s.Owner(ctx, r.ID); err != nil || got != r.Tenant {
			t.Errorf("Owner(%s) = %q, %v; want %q", r.ID, got, err, r.Tenant)
		}
	}
	for _, id := range []string{"nosuchruntime", "a/b", ""} {
		if got, err := s.Owner(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Owner(%q) = %q, %v; want ErrNotFound", id, got, err)
		}
	}
}
