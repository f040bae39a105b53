package repos_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/repos/repostest"
)

func TestBeginPushStaleTakeover(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r, _, err := f.svc.Connect(ctx, repostest.Admin, "acme", "https://github.com/acme/app", "")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.hooks.SetNow(func() time.Time { return clock })
	const commit = "1111111111111111111111111111111111111111"
	req := func(delivery string) repos.PushRequest {
		return repos.PushRequest{Tenant: "acme", Repo: r, Delivery: delivery, Ref: "refs/heads/main", Commit: commit, Actor: "github:x"}
	}
	steps := []struct {
		name     string
		delivery string
		advance  time.Duration
		want     repos.Begin
	}{
		{"first", "d1", 0, repos.BeginNew},
		{"same delivery", "d1", 0, repos.BeginDuplicateDelivery},
		{"same commit, in flight", "d2", time.Minute, repos.BeginDuplicateCommit},
		{"same commit, stale", "d3", repos.DefaultStaleAfter, repos.BeginNew},
		{"the stale delivery again", "d1", 0, repos.BeginDuplicateDelivery},
	}
	var first repos.Push
	for _, s := range steps {
		clock = clock.Add(s.advance)
		p, got, err := f.hooks.BeginPush(ctx, req(s.delivery))
		if err != nil || got != s.want {
			t.Fatalf("%s: BeginPush = %v, %v; want %v", s.name, got, err, s.want)
		}
		if s.name == "first" {
			first = p
		}
	}
	// The first delivery finishing late does not overwrite the takeover's record.
	if err := f.hooks.FinishPush(ctx, "acme", first, "late", false, nil); err != nil {
		t.Fatal(err)
	}
	p, err := f.hooks.GetPush(ctx, "acme", repos.PushID(r.ID, commit))
	if err != nil || p.Delivery != "d3" || p.Status != repos.PushAccepted || p.BuildID != "" {
		t.Errorf("push after late finish: %+v, %v", p, err)
	}
	// A disconnected repository takes no pushes.
	if err := f.svc.Disconnect(ctx, repostest.Admin, "acme", r.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.hooks.BeginPush(ctx, req("d9")); !errors.Is(err, repos.ErrNotFound) {
		t.Errorf("BeginPush after disconnect = %v, want ErrNotFound", err)
	}
}
