package build_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
)

// recordingBuilder is a Builder that records requests and fails when told to.
type recordingBuilder struct {
	mu       sync.Mutex
	started  []build.Request
	canceled []string
	failWith error
}

func (b *recordingBuilder) Start(_ context.Context, r build.Request) (build.Started, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failWith != nil {
		return build.Started{}, b.failWith
	}
	b.started = append(b.started, r)
	return build.Started{ExternalID: "ext-" + r.BuildID, Status: build.StatusQueued, Image: "img/" + r.Tenant + ":" + r.BuildID, LogURL: "log"}, nil
}

func (b *recordingBuilder) Cancel(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.canceled = append(b.canceled, id)
	return nil
}

func (b *recordingBuilder) starts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.started)
}

func newService(t *testing.T) (*build.Service, *recordingBuilder) {
	t.Helper()
	b := &recordingBuilder{}
	s, err := build.NewService(storetest.NewEmulatorStore(t), b)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func event(r build.Record, st build.Status) build.Event {
	return build.Event{ExternalID: r.ExternalID, Status: st, Tenant: r.Tenant, BuildID: r.ID, Image: r.Image, Digest: "sha256:abc", FinishTime: time.Now()}
}

func TestCreateCachedAndInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, b := newService(t)
	spec := build.Spec{Source: build.Source{RepoURL: "https://github.com/a/b"}, CacheKey: "sha256:lock1", Trigger: build.TriggerAPI, Actor: "u@x.test"}
	first, err := s.Create(ctx, "acme", spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != build.StatusQueued || first.Cached || first.ExternalID == "" || b.starts() != 1 {
		t.Fatalf("first = %+v, starts %d", first, b.starts())
	}
	// The same key while the first is under way: that build, nothing new started.
	again, err := s.Create(ctx, "acme", spec)
	if err != nil || again.ID != first.ID || b.starts() != 1 {
		t.Fatalf("in flight: %+v %v, starts %d", again, err, b.starts())
	}
	// Another tenant with the same lockfile builds its own image.
	other, err := s.Create(ctx, "other", spec)
	if err != nil || other.ID == first.ID || other.Cached || b.starts() != 2 {
		t.Fatalf("other tenant: %+v %v", other, err)
	}
	// The first finishes: the key now answers from the cache.
	if _, outcome, err := s.Apply(ctx, event(first, build.StatusSuccess)); err != nil || outcome != build.Finished {
		t.Fatalf("apply success: %v %v", outcome, err)
	}
	cached, err := s.Create(ctx, "acme", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !cached.Cached || cached.Status != build.StatusSuccess || cached.Image != first.Image || cached.Digest != "sha256:abc" || b.starts() != 2 {
		t.Errorf("cached = %+v, starts %d", cached, b.starts())
	}
}

func TestApplyNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newService(t)
	r, err := s.Create(ctx, "acme", build.Spec{Source: build.Source{RepoURL: "https://github.com/a/b"}, CacheKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		status build.Status
		want   build.Applied
	}{
		{build.StatusWorking, build.Progressed},
		{build.StatusWorking, build.Ignored}, // redelivered
		{build.StatusSuccess, build.Finished},
		{build.StatusWorking, build.Ignored}, // out of order
		{build.StatusFailure, build.Ignored}, // after a terminal status
		{build.StatusSuccess, build.Ignored}, // duplicate
	}
	for i, st := range steps {
		got, outcome, err := s.Apply(ctx, event(r, st.status))
		if err != nil || outcome != st.want {
			t.Fatalf("step %d (%s): outcome %v, want %v (%v)", i, st.status, outcome, st.want, err)
		}
		if got.Status == build.StatusQueued {
			t.Errorf("step %d: status went back to queued", i)
		}
	}
	final, _ := s.Get(ctx, "acme", r.ID)
	if final.Status != build.StatusSuccess || final.FinishedAt == nil || final.StartedAt != nil && final.StartedAt.IsZero() {
		t.Errorf("final = %+v", final)
	}
	if _, _, err := s.Apply(ctx, build.Event{Tenant: "acme", BuildID: "nope", Status: build.StatusSuccess}); !errors.Is(err, build.ErrUnknownBuild) {
		t.Errorf("unknown build: %v", err)
	}
	if _, _, err := s.Apply(ctx, build.Event{Tenant: "other", BuildID: r.ID, Status: build.StatusFailure}); !errors.Is(err, build.ErrUnknownBuild) {
		t.Errorf("another tenant's event reached acme's build: %v", err)
	}
}

func TestFailedStartFreesTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, b := newService(t)
	b.failWith = fmt.Errorf("%w: RESOURCE_EXHAUSTED project-secret-detail", build.ErrQuota)
	_, err := s.Create(ctx, "acme", build.Spec{CacheKey: "k2", Source: build.Source{RepoURL: "https://github.com/a/b"}})
	if !errors.Is(err, build.ErrQuota) {
		t.Fatalf("err = %v", err)
	}
	recs, _, err := s.List(ctx, "acme", store.Query{Limit: 50})
	if err != nil || len(recs) != 1 || recs[0].Status != build.StatusFailure || recs[0].Error == "" {
		t.Fatalf("records %+v %v", recs, err)
	}
	if got := recs[0].Error; got != "the builder's quota is exhausted; retry later" {
		t.Errorf("error shown to the tenant: %q", got)
	}
	b.failWith = nil
	r, err := s.Create(ctx, "acme", build.Spec{CacheKey: "k2", Source: build.Source{RepoURL: "https://github.com/a/b"}})
	if err != nil || r.Status != build.StatusQueued || b.starts() != 1 {
		t.Errorf("retry after refusal: %+v %v", r, err)
	}
}

func TestFailureDoesNotCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, b := newService(t)
	spec := build.Spec{CacheKey: "k3", Source: build.Source{RepoURL: "https://github.com/a/b"}}
	r, _ := s.Create(ctx, "acme", spec)
	if _, _, err := s.Apply(ctx, event(r, build.StatusFailure)); err != nil {
		t.Fatal(err)
	}
	r2, err := s.Create(ctx, "acme", spec)
	if err != nil || r2.Cached || r2.ID == r.ID || b.starts() != 2 {
		t.Errorf("after a failure: %+v %v", r2, err)
	}
	// Success without a digest is not an image.
	if _, _, err := s.Apply(ctx, build.Event{Tenant: "acme", BuildID: r2.ID, ExternalID: r2.ExternalID, Status: build.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "acme", r2.ID)
	if got.Status != build.StatusFailure {
		t.Errorf("digestless success recorded as %s", got.Status)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, b := newService(t)
	r, _ := s.Create(ctx, "acme", build.Spec{Source: build.Source{RepoURL: "https://github.com/a/b"}})
	if _, err := s.Cancel(ctx, "acme", r.ID); err != nil {
		t.Fatal(err)
	}
	if len(b.canceled) != 1 || b.canceled[0] != r.ExternalID {
		t.Errorf("canceled %v", b.canceled)
	}
	if _, err := s.Cancel(ctx, "acme", "missing"); !errors.Is(err, build.ErrNotFound) {
		t.Errorf("cancel missing: %v", err)
	}
}
