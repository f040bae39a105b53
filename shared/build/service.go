package build

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
)

// Collections.
const (
	// KindBuilds holds build records: tenants/{t}/builds/{b}.
	KindBuilds = "builds"
)

// Record is a build as stored: tenants/{t}/builds/{b}.
type Record struct {
	ID         string     `firestore:"id" json:"id"`
	Tenant     string     `firestore:"tenant" json:"tenant"`
	Source     Source     `firestore:"source" json:"source"`
	CacheKey   string     `firestore:"cache_key" json:"cache_key,omitempty"`
	Strategy   string     `firestore:"strategy" json:"strategy"`
	PlanJSON   string     `firestore:"plan_json,omitempty" json:"-"`
	Status     Status     `firestore:"status" json:"status"`
	Cached     bool       `firestore:"cached" json:"cached"`
	ExternalID string     `firestore:"external_id,omitempty" json:"external_id,omitempty"`
	Image      string     `firestore:"image,omitempty" json:"image,omitempty"`
	Digest     string     `firestore:"digest,omitempty" json:"digest,omitempty"`
	LogURL     string     `firestore:"log_url,omitempty" json:"log_url,omitempty"`
	Error      string     `firestore:"error,omitempty" json:"error,omitempty"`
	Trigger    string     `firestore:"trigger" json:"trigger"`
	CreatedBy  string     `firestore:"created_by" json:"created_by"`
	CreatedAt  time.Time  `firestore:"created_at" json:"created_at"`
	StartedAt  *time.Time `firestore:"started_at" json:"started_at,omitempty"`
	FinishedAt *time.Time `firestore:"finished_at" json:"finished_at,omitempty"`
}

// ImageRecord is the prebuild cache entry images/{ImageKey(tenant, cache key)}: the last good
// image of a tenant's cache key, or the build producing it.
type ImageRecord struct {
	Tenant   string    `firestore:"tenant" json:"tenant"`
	CacheKey string    `firestore:"cache_key" json:"cache_key"`
	Ready    bool      `firestore:"ready" json:"ready"`
	Image    string    `firestore:"image" json:"image"`
	Digest   string    `firestore:"digest" json:"digest"`
	BuildID  string    `firestore:"build_id" json:"build_id"`
	Updated  time.Time `firestore:"updated" json:"updated"`
	// Building is the id of a build under way for this key, so a second request waits on it
	// instead of starting another.
	Building string `firestore:"building" json:"building,omitempty"`
}

// Triggers.
const (
	TriggerAPI  = "api"
	TriggerPush = "push"
)

// Service keeps build records and the prebuild cache, and starts builds on a Builder.
// Authorization is the caller's job (the api checks tenancy permissions first).
type Service struct {
	store   store.Store
	builder Builder
	now     func() time.Time
}

// NewService returns a Service.
func NewService(st store.Store, b Builder) (*Service, error) {
	if st == nil || b == nil {
		return nil, errors.New("build.NewService: store and builder are required")
	}
	return &Service{store: st, builder: b, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Spec is what Create needs to know about a build.
type Spec struct {
	Source   Source
	CacheKey string
	Strategy string
	// PlanJSON is the detected plan, kept on the record.
	PlanJSON             string
	InstallCmd, BuildCmd string
	AppDir               string
	Trigger              string
	Actor                string
}

// Create answers a build request. When the tenant's cache key already has an image it records
// a cached build pointing at it and starts nothing; when a build of the same key is under
// way it answers that build; otherwise it records a queued build and starts it.
func (s *Service) Create(ctx context.Context, tenant string, sp Spec) (Record, error) {
	now := s.now()
	rec := Record{ID: store.NewReverseSortableID(now), Tenant: tenant, Source: sp.Source, CacheKey: sp.CacheKey, Strategy: sp.Strategy,
		PlanJSON: sp.PlanJSON, Status: StatusQueued, Trigger: sp.Trigger, CreatedBy: sp.Actor, CreatedAt: now}
	if rec.Strategy == "" {
		rec.Strategy = StrategyBuildpacks
	}
	var existing *Record
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		existing = nil
		var img ImageRecord
		imgKey := store.Key{Kind: store.KindImages, ID: ImageKey(tenant, sp.CacheKey)}
		haveImg := false
		if sp.CacheKey != "" {
			_, err := tx.Get(imgKey, &img)
			switch {
			case err == nil:
				haveImg = true
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		if haveImg && img.Building != "" {
			var cur Record
			_, err := tx.Get(store.Key{Tenant: tenant, Kind: KindBuilds, ID: img.Building}, &cur)
			if err == nil && !cur.Status.Terminal() {
				existing = &cur
				return nil
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		r := rec
		if haveImg && img.Ready {
			r.Status, r.Cached, r.Image, r.Digest = StatusSuccess, true, img.Image, img.Digest
			r.FinishedAt = &now
		} else if sp.CacheKey != "" {
			if !haveImg {
				img = ImageRecord{Tenant: tenant, CacheKey: sp.CacheKey}
			}
			img.Building, img.Updated = r.ID, now
			if err := tx.Put(imgKey, img); err != nil {
				return err
			}
		}
		rec = r
		return tx.Create(store.Key{Tenant: tenant, Kind: KindBuilds, ID: r.ID}, r)
	})
	if err != nil {
		return Record{}, fmt.Errorf("build: record: %w", err)
	}
	if existing != nil {
		return *existing, nil
	}
	if rec.Cached {
		return rec, nil
	}
	started, err := s.builder.Start(ctx, Request{Tenant: tenant, BuildID: rec.ID, CacheKey: sp.CacheKey, Source: sp.Source,
		Strategy: rec.Strategy, InstallCmd: sp.InstallCmd, BuildCmd: sp.BuildCmd, AppDir: sp.AppDir})
	if err != nil {
		s.failStart(ctx, tenant, rec, err)
		return Record{}, fmt.Errorf("build: start: %w", err)
	}
	rec, err = store.Update(ctx, s.store, store.Key{Tenant: tenant, Kind: KindBuilds, ID: rec.ID}, func(r *Record) error {
		r.ExternalID, r.LogURL, r.Image = started.ExternalID, started.LogURL, started.Image
		if Advances(r.Status, started.Status) {
			r.Status = started.Status
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("build: record start: %w", err)
	}
	return rec, nil
}

// failStart records that the builder refused a build and frees its cache key.
func (s *Service) failStart(ctx context.Context, tenant string, rec Record, cause error) {
	now := s.now()
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		r := rec
		r.Status, r.Error, r.FinishedAt = StatusFailure, startFailure(cause), &now
		return s.finishTx(tx, tenant, r)
	})
	logging.FromContext(ctx).WarnContext(ctx, "builder refused a build", "tenant", tenant, "build", rec.ID, "error", cause)
	if err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "record build start failure", "tenant", tenant, "build", rec.ID, "error", err)
	}
}

// startFailure is the reason a tenant sees for a refused build; the cause itself is logged.
func startFailure(cause error) string {
	switch {
	case errors.Is(cause, ErrQuota):
		return "the builder's quota is exhausted; retry later"
	case errors.Is(cause, ErrUnavailable):
		return "the builder is unavailable; retry"
	case errors.Is(cause, ErrInvalid):
		return "the builder rejected the build request"
	}
	return "the builder failed to start the build"
}

// finishTx writes a terminal record and updates the cache entry of its key.
func (s *Service) finishTx(tx store.Tx, tenant string, r Record) error {
	if r.CacheKey != "" {
		imgKey := store.Key{Kind: store.KindImages, ID: ImageKey(tenant, r.CacheKey)}
		var img ImageRecord
		_, err := tx.Get(imgKey, &img)
		switch {
		case errors.Is(err, store.ErrNotFound):
			img = ImageRecord{Tenant: tenant, CacheKey: r.CacheKey}
		case err != nil:
			return err
		}
		changed := false
		if img.Building == r.ID {
			img.Building, changed = "", true
		}
		if r.Status == StatusSuccess && r.Image != "" {
			img.Ready, img.Image, img.Digest, img.BuildID, changed = true, r.Image, r.Digest, r.ID, true
		}
		if changed {
			img.Updated = s.now()
			if err := tx.Put(imgKey, img); err != nil {
				return err
			}
		}
	}
	return tx.Put(store.Key{Tenant: tenant, Kind: KindBuilds, ID: r.ID}, r)
}

// Applied says what Apply did with an event.
type Applied int

// Apply outcomes.
const (
	// Ignored: the event does not move the build forward (redelivered or out of order).
	Ignored Applied = iota
	// Progressed: the build moved to a non-terminal status.
	Progressed
	// Finished: the build reached a terminal status with this event.
	Finished
)

// ErrUnknownBuild: an event names a build that has no record.
var ErrUnknownBuild = errors.New("build: unknown build")

// Apply records a builder's status event in a transaction. Events that would move a build
// backwards (WORKING after SUCCESS) or repeat its status change nothing.
func (s *Service) Apply(ctx context.Context, ev Event) (Record, Applied, error) {
	key := store.Key{Tenant: ev.Tenant, Kind: KindBuilds, ID: ev.BuildID}
	var rec Record
	outcome := Ignored
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		outcome = Ignored
		if _, err := tx.Get(key, &rec); err != nil {
			return err
		}
		if ev.ExternalID != "" && rec.ExternalID != "" && ev.ExternalID != rec.ExternalID {
			return fmt.Errorf("%w: builder id %s does not match the record's", ErrUnknownBuild, ev.ExternalID)
		}
		if !Advances(rec.Status, ev.Status) {
			return nil
		}
		rec.Status = ev.Status
		if rec.ExternalID == "" {
			rec.ExternalID = ev.ExternalID
		}
		if !ev.StartTime.IsZero() {
			t := ev.StartTime.UTC()
			rec.StartedAt = &t
		}
		if ev.LogURL != "" {
			rec.LogURL = ev.LogURL
		}
		if !rec.Status.Terminal() {
			outcome = Progressed
			return tx.Put(key, rec)
		}
		outcome = Finished
		t := ev.FinishTime.UTC()
		if ev.FinishTime.IsZero() {
			t = s.now()
		}
		rec.FinishedAt = &t
		if ev.Image != "" {
			rec.Image = ev.Image
		}
		rec.Digest, rec.Error = ev.Digest, ev.Detail
		if rec.Status == StatusSuccess && rec.Digest == "" {
			rec.Status, rec.Error = StatusFailure, "the builder reported success without an image digest"
		}
		return s.finishTx(tx, ev.Tenant, rec)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return Record{}, Ignored, fmt.Errorf("%w: %s/%s", ErrUnknownBuild, ev.Tenant, ev.BuildID)
	}
	if err != nil {
		return Record{}, Ignored, fmt.Errorf("build: apply event: %w", err)
	}
	return rec, outcome, nil
}

// Get returns one build record.
func (s *Service) Get(ctx context.Context, tenant, id string) (Record, error) {
	var r Record
	if _, err := s.store.Get(ctx, store.Key{Tenant: tenant, Kind: KindBuilds, ID: id}, &r); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
			return Record{}, fmt.Errorf("%w: build %s", ErrNotFound, id)
		}
		return Record{}, fmt.Errorf("build: get: %w", err)
	}
	return r, nil
}

// List returns a page of the tenant's builds, newest first.
func (s *Service) List(ctx context.Context, tenant string, q store.Query) ([]Record, string, error) {
	return store.ListOf[Record](ctx, s.store, tenant, KindBuilds, store.Query{Limit: q.Limit, Cursor: q.Cursor})
}

// Cancel asks the builder to cancel a build that is not finished; its record changes when the
// builder's cancelled event arrives. A finished build is left as it is.
func (s *Service) Cancel(ctx context.Context, tenant, id string) (Record, error) {
	r, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Record{}, err
	}
	if r.Status.Terminal() || r.ExternalID == "" {
		return r, nil
	}
	if err := s.builder.Cancel(ctx, r.ExternalID); err != nil && !errors.Is(err, ErrNotFound) {
		return Record{}, fmt.Errorf("build: cancel: %w", err)
	}
	return r, nil
}

// Prebuild starts (or answers from the cache) a build of a pushed commit; githubhook calls it.
func (s *Service) Prebuild(ctx context.Context, tenant string, src Source, actor string) (string, bool, error) {
	rec, err := s.Create(ctx, tenant, Spec{Source: src, CacheKey: GitCacheKey(src.RepoURL, src.Commit), Trigger: TriggerPush, Actor: actor})
	if err != nil {
		return "", false, err
	}
	return rec.ID, rec.Cached, nil
}

// NoBuilder is the Builder of a Service that only reads and records builds (buildevents,
// sweeper): it refuses to start or cancel anything.
type NoBuilder struct{}

// Start refuses.
func (NoBuilder) Start(context.Context, Request) (Started, error) {
	return Started{}, fmt.Errorf("%w: this service starts no builds", ErrInvalid)
}

// Cancel refuses.
func (NoBuilder) Cancel(context.Context, string) error {
	return fmt.Errorf("%w: this service cancels no builds", ErrInvalid)
}
