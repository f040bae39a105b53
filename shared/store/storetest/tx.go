package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/store"
)

// errBoom is a transaction function's own error.
var errBoom = errors.New("boom")

func testTransaction(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k, k2 := thingKey("acme", "counter"), thingKey("acme", "made")
	v1 := mustCreate(t, s, k, newThing("counter", 1))
	err := s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var c Thing
		ver, err := tx.Get(k, &c)
		if err != nil {
			return err
		}
		if !ver.Time().Equal(v1.Time()) {
			return fmt.Errorf("tx.Get version %v, want %v", ver.Time(), v1.Time())
		}
		var missing Thing
		if _, err := tx.Get(thingKey("acme", "missing"), &missing); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tx.Get(missing) = %v, want ErrNotFound", err)
		}
		c.Count++
		if err := tx.Put(k, c); err != nil {
			return err
		}
		if err := tx.Create(k2, newThing("made", 7)); err != nil {
			return err
		}
		return tx.Delete(thingKey("acme", "missing"))
	})
	if err != nil {
		t.Fatalf("RunTransaction: %v", err)
	}
	got, ver := mustGet(t, s, k)
	if got.Count != 2 {
		t.Errorf("count = %d, want 2", got.Count)
	}
	if !ver.Time().After(v1.Time()) {
		t.Errorf("version after the transaction = %v, want after %v", ver.Time(), v1.Time())
	}
	if got, _ := mustGet(t, s, k2); !cmp.Equal(newThing("made", 7), got) {
		t.Errorf("created in the transaction: %+v", got)
	}

	// A transaction that deletes.
	err = s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var c Thing
		if _, err := tx.Get(k2, &c); err != nil {
			return err
		}
		return tx.Delete(k2)
	})
	if err != nil {
		t.Fatalf("RunTransaction (delete): %v", err)
	}
	wantNotFound(t, s, k2)
}

func testTransactionRollback(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k, k2, k3 := thingKey("acme", "kept"), thingKey("acme", "never"), thingKey("acme", "gone")
	want := newThing("kept", 1)
	mustCreate(t, s, k, want)
	mustCreate(t, s, k3, newThing("gone", 3))
	err := s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var c Thing
		if _, err := tx.Get(k, &c); err != nil {
			return err
		}
		c.Count = 100
		if err := tx.Put(k, c); err != nil {
			return err
		}
		if err := tx.Create(k2, newThing("never", 2)); err != nil {
			return err
		}
		if err := tx.Delete(k3); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("RunTransaction = %v, want the function's error", err)
	}
	if got, _ := mustGet(t, s, k); !cmp.Equal(want, got) {
		t.Errorf("after rollback Get(%s) = %+v, want %+v", k, got, want)
	}
	wantNotFound(t, s, k2)
	mustGet(t, s, k3)

	// The function's sentinel errors come back as they were.
	err = s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var c Thing
		_, err := tx.Get(thingKey("acme", "missing"), &c)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunTransaction = %v, want ErrNotFound from tx.Get", err)
	}
	err = s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error { return errBoom })
	if err != errBoom { //nolint:errorlint // the very error, not wrapped
		t.Errorf("RunTransaction = %v, want errBoom itself", err)
	}
}

func testTransactionCreateExisting(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k, other := thingKey("acme", "exists"), thingKey("acme", "other")
	mustCreate(t, s, k, newThing("exists", 1))
	err := s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Put(other, newThing("other", 2)); err != nil {
			return err
		}
		return tx.Create(k, newThing("again", 2))
	})
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("RunTransaction creating an existing document = %v, want ErrAlreadyExists", err)
	}
	wantNotFound(t, s, other)
	if got, _ := mustGet(t, s, k); got.Name != "exists" {
		t.Errorf("Get(%s).Name = %q, want exists", k, got.Name)
	}
}

// Contention is modest on purpose: contended transactions on the emulator serialize on locks
// with stalls of seconds.
const (
	writers    = 8
	increments = 5
)

func testConcurrentIncrements(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k := thingKey("acme", "hot")
	mustCreate(t, s, k, newThing("hot", 0))
	var wg sync.WaitGroup
	errs := make(chan error, writers*increments)
	for w := range writers {
		wg.Go(func() {
			for range increments {
				var err error
				if w%2 == 0 {
					_, err = store.Update(ctx, s, k, func(c *Thing) error {
						c.Count++
						return nil
					})
				} else {
					err = s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
						var c Thing
						if _, err := tx.Get(k, &c); err != nil {
							return err
						}
						c.Count++
						return tx.Put(k, c)
					})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	if got, _ := mustGet(t, s, k); got.Count != writers*increments {
		t.Errorf("count = %d, want %d (lost updates)", got.Count, writers*increments)
	}
}

func testConcurrentStalePut(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		// second is the other writer's operation at the same version.
		second func(ctx context.Context, k store.Key, ver store.Version) error
		// secondLeaves is the document the second writer leaves when it wins (nil: none).
		secondLeaves *Thing
	}{
		{
			name: "put and put",
			second: func(ctx context.Context, k store.Key, ver store.Version) error {
				_, err := s.Put(ctx, k, newThing("second", 2), ver)
				return err
			},
			secondLeaves: ptr(newThing("second", 2)),
		},
		{
			name: "put and delete",
			second: func(ctx context.Context, k store.Key, ver store.Version) error {
				return s.Delete(ctx, k, ver)
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			k := thingKey("acme", fmt.Sprintf("stale%d", i))
			ver := mustCreate(t, s, k, newThing("start", 0))
			var first, second error
			var wg sync.WaitGroup
			wg.Go(func() { _, first = s.Put(ctx, k, newThing("first", 1), ver) })
			wg.Go(func() { second = tc.second(ctx, k, ver) })
			wg.Wait()

			switch {
			case first == nil && errors.Is(second, store.ErrConflict):
				if got, _ := mustGet(t, s, k); !cmp.Equal(newThing("first", 1), got) {
					t.Errorf("first won, but the document is %+v", got)
				}
			case second == nil && (errors.Is(first, store.ErrConflict) || (tc.secondLeaves == nil && errors.Is(first, store.ErrNotFound))):
				if tc.secondLeaves == nil {
					wantNotFound(t, s, k)
				} else if got, _ := mustGet(t, s, k); !cmp.Equal(*tc.secondLeaves, got) {
					t.Errorf("second won, but the document is %+v", got)
				}
			default:
				t.Errorf("writers at one version got %v and %v; want exactly one nil and one ErrConflict", first, second)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func testUpdate(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k := thingKey("acme", "u")
	start := newThing("u", 1)
	mustCreate(t, s, k, start)

	got, err := store.Update(ctx, s, k, func(c *Thing) error {
		c.Count += 10
		c.Labels["new"] = "yes"
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := start
	want.Count = 11
	want.Labels = map[string]string{"env": "test", "name": "u", "new": "yes"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update result (-want +got):\n%s", diff)
	}
	if stored, _ := mustGet(t, s, k); !cmp.Equal(want, stored) {
		t.Errorf("stored after Update = %+v, want %+v", stored, want)
	}

	// An error of fn writes nothing and comes back.
	if _, err := store.Update(ctx, s, k, func(c *Thing) error {
		c.Count = -1
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("Update with failing fn = %v, want errBoom", err)
	}
	if stored, _ := mustGet(t, s, k); stored.Count != 11 {
		t.Errorf("count after a failed Update = %d, want 11", stored.Count)
	}

	// A missing document.
	called := false
	if _, err := store.Update(ctx, s, thingKey("acme", "missing"), func(c *Thing) error {
		called = true
		return nil
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a missing document = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("Update called fn for a missing document")
	}
	wantNotFound(t, s, thingKey("acme", "missing"))
}

func testListOf(t *testing.T, s store.Store) {
	ids := idsN("p", 7)
	createThings(t, s, "acme", kindThings, ids)
	var got []Thing
	q := store.Query{Limit: 3}
	pages := 0
	for {
		page, next, err := store.ListOf[Thing](testContext(t), s, "acme", kindThings, q)
		if err != nil {
			t.Fatalf("ListOf: %v", err)
		}
		pages++
		got = append(got, page...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	var want []Thing
	for i, id := range ids {
		want = append(want, newThing(id, i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListOf (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if _, _, err := store.ListOf[Thing](testContext(t), s, "", kindThings, store.Query{}); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("ListOf without tenant = %v, want ErrInvalidKey", err)
	}
}
