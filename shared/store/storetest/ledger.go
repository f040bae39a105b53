package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/store"
)

func testClaimEvent(t *testing.T, s store.Store) {
	ids := []struct {
		name string
		id   string
	}{
		{"pubsub message id", "1234567890123"},
		{"stripe event id", "evt_1NXYZ"},
		{"slashes", "projects/p/topics/t/msg/1"},
		{"long", strings.Repeat("x", 600)},
		{"looks hashed", "sha256-abc"},
		{"reserved form", "__x__"},
	}
	for _, tc := range ids {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			first, err := store.ClaimEvent(ctx, s, tc.id, time.Hour)
			if err != nil || !first {
				t.Fatalf("first ClaimEvent = %v, %v; want true, nil", first, err)
			}
			first, err = store.ClaimEvent(ctx, s, tc.id, time.Hour)
			if err != nil || first {
				t.Fatalf("second ClaimEvent = %v, %v; want false, nil", first, err)
			}
			var rec store.EventRecord
			if _, err := s.Get(ctx, store.EventKey(tc.id), &rec); err != nil {
				t.Fatalf("Get ledger entry: %v", err)
			}
			if rec.EventID != tc.id || rec.ProcessedAt.IsZero() || rec.ExpireAt.Sub(rec.ProcessedAt) != time.Hour {
				t.Errorf("ledger entry = %+v, want event id %q and expire_at = processed_at + 1h", rec, tc.id)
			}
		})
	}
	t.Run("no ttl", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		if first, err := store.ClaimEvent(ctx, s, "forever", 0); err != nil || !first {
			t.Fatalf("ClaimEvent = %v, %v; want true, nil", first, err)
		}
		var rec store.EventRecord
		if _, err := s.Get(ctx, store.EventKey("forever"), &rec); err != nil {
			t.Fatalf("Get ledger entry: %v", err)
		}
		if !rec.ExpireAt.IsZero() {
			t.Errorf("expire_at = %v, want none", rec.ExpireAt)
		}
	})
	t.Run("empty id", func(t *testing.T) {
		t.Parallel()
		if _, err := store.ClaimEvent(testContext(t), s, "", time.Hour); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("ClaimEvent(\"\") = %v, want ErrInvalidKey", err)
		}
	})
}

func testClaimEventConcurrent(t *testing.T, s store.Store) {
	ctx := testContext(t)
	const claimers = 8
	for _, useTx := range []bool{false, true} {
		id := "concurrent-plain"
		if useTx {
			id = "concurrent-tx"
		}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			firsts int
		)
		for range claimers {
			wg.Go(func() {
				var first bool
				var err error
				if useTx {
					err = s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
						first, err = store.ClaimEventTx(tx, id, time.Hour)
						return err
					})
				} else {
					first, err = store.ClaimEvent(ctx, s, id, time.Hour)
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("claim %s: %v", id, err)
				case first:
					firsts++
				}
			})
		}
		wg.Wait()
		if firsts != 1 {
			t.Errorf("%d concurrent claims of %s: %d were first, want 1", claimers, id, firsts)
		}
	}
}

func testClaimEventTx(t *testing.T, s store.Store) {
	ctx := testContext(t)
	effect := thingKey("acme", "effect")
	mustCreate(t, s, effect, newThing("effect", 0))
	// apply claims eventID and increments the effect's count in one transaction; fail makes the
	// transaction fail after both writes.
	apply := func(eventID string, fail bool) (bool, error) {
		var first bool
		err := s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
			// Reads first, then the claim, then the writes.
			var c Thing
			if _, err := tx.Get(effect, &c); err != nil {
				return err
			}
			var err error
			if first, err = store.ClaimEventTx(tx, eventID, time.Hour); err != nil || !first {
				return err
			}
			c.Count++
			if err := tx.Put(effect, c); err != nil {
				return err
			}
			if fail {
				return errBoom
			}
			return nil
		})
		return first, err
	}
	count := func() int {
		t.Helper()
		c, _ := mustGet(t, s, effect)
		return c.Count
	}

	// A failed transaction leaves neither the claim nor the effect.
	if _, err := apply("e1", true); !errors.Is(err, errBoom) {
		t.Fatalf("apply failing = %v, want errBoom", err)
	}
	if n := count(); n != 0 {
		t.Errorf("count after a failed apply = %d, want 0", n)
	}
	var rec store.EventRecord
	if _, err := s.Get(ctx, store.EventKey("e1"), &rec); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ledger entry after a failed apply: %v, want ErrNotFound", err)
	}

	// Then the retry applies once, and a redelivery does nothing.
	for i, wantFirst := range []bool{true, false, false} {
		first, err := apply("e1", false)
		if err != nil || first != wantFirst {
			t.Fatalf("apply #%d = %v, %v; want %v, nil", i, first, err, wantFirst)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("count after applies of one event = %d, want 1", n)
	}
	// ClaimEvent and ClaimEventTx share the ledger.
	if first, err := store.ClaimEvent(ctx, s, "e1", time.Hour); err != nil || first {
		t.Errorf("ClaimEvent of an event claimed in a transaction = %v, %v; want false, nil", first, err)
	}
	if first, err := store.ClaimEvent(ctx, s, "e2", time.Hour); err != nil || !first {
		t.Fatalf("ClaimEvent(e2) = %v, %v; want true, nil", first, err)
	}
	if first, err := apply("e2", false); err != nil || first {
		t.Errorf("apply of an event claimed by ClaimEvent = %v, %v; want false, nil", first, err)
	}
	if n := count(); n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
}
