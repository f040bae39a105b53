package firestore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	gfirestore "cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.NewEmulatorStore)
}

// item is a small record for the adapter's own tests.
type item struct {
	Name  string `firestore:"name"`
	Count int    `firestore:"count"`
}

func TestVersionIsUpdateTime(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s, _ := storetest.NewEmulatorFirestore(t)
	k := store.Key{Tenant: "acme", Kind: "items", ID: "i1"}
	ver, err := s.Create(ctx, k, item{Name: "a"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	snap, err := s.Client().Doc("tenants/acme/items/i1").Get(ctx)
	if err != nil {
		t.Fatalf("raw Get: %v", err)
	}
	if !snap.UpdateTime.Equal(ver.Time()) {
		t.Errorf("version %v, want the document's update time %v", ver.Time(), snap.UpdateTime)
	}
	if got := snap.Data(); got["name"] != "a" || got["count"] != int64(0) {
		t.Errorf("raw document = %v, want the struct's firestore fields", got)
	}
	ver2, err := s.Put(ctx, k, item{Name: "b"}, ver)
	if err != nil {
		t.Fatalf("conditional Put: %v", err)
	}
	snap, err = s.Client().Doc("tenants/acme/items/i1").Get(ctx)
	if err != nil {
		t.Fatalf("raw Get: %v", err)
	}
	if !snap.UpdateTime.Equal(ver2.Time()) {
		t.Errorf("conditional Put version %v, want the document's update time %v", ver2.Time(), snap.UpdateTime)
	}
}

// TestStoredForm checks the documents the adapter writes, as other Firestore clients (the
// console, exports, TTL policies) see them.
func TestStoredForm(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s, _ := storetest.NewEmulatorFirestore(t)
	tests := []struct {
		name string
		k    store.Key
		path string
	}{
		{"tenant document", store.TenantKey("acme"), "tenants/acme"},
		{"tenant data", store.Key{Tenant: "acme", Kind: "items", ID: "i1"}, "tenants/acme/items/i1"},
		{"global", store.Key{Kind: store.KindCells, ID: "c1"}, "cells/c1"},
	}
	for _, tc := range tests {
		if _, err := s.Create(ctx, tc.k, item{Name: tc.name, Count: 3}); err != nil {
			t.Fatalf("%s: Create: %v", tc.name, err)
		}
		snap, err := s.Client().Doc(tc.path).Get(ctx)
		if err != nil {
			t.Fatalf("%s: raw Get(%s): %v", tc.name, tc.path, err)
		}
		if diff := cmp.Diff(map[string]any{"name": tc.name, "count": int64(3)}, snap.Data()); diff != "" {
			t.Errorf("%s: stored fields (-want +got):\n%s", tc.name, diff)
		}
	}

	// The ledger entry carries a Timestamp expire_at for a TTL policy.
	if _, err := store.ClaimEvent(ctx, s, "evt_1", time.Hour); err != nil {
		t.Fatalf("ClaimEvent: %v", err)
	}
	snap, err := s.Client().Doc("events/evt_1").Get(ctx)
	if err != nil {
		t.Fatalf("raw Get(events/evt_1): %v", err)
	}
	exp, ok := snap.Data()["expire_at"].(time.Time)
	if !ok || exp.IsZero() {
		t.Errorf("expire_at = %#v, want a timestamp", snap.Data()["expire_at"])
	}
}

func BenchmarkGet(b *testing.B) {
	s, _ := storetest.NewEmulatorFirestore(b)
	ctx := context.Background()
	k := store.Key{Tenant: "acme", Kind: "items", ID: "i1"}
	if _, err := s.Create(ctx, k, item{Name: "a"}); err != nil {
		b.Fatalf("Create: %v", err)
	}
	var v item
	if _, err := s.Get(ctx, k, &v); err != nil { // warm up the connection
		b.Fatalf("Get: %v", err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Get(ctx, k, &v); err != nil {
				b.Fatalf("Get: %v", err)
			}
		}
	})
	// The raw client on the same document: the floor the adapter adds to.
	b.Run("raw client", func(b *testing.B) {
		ref := s.Client().Doc(k.String())
		for b.Loop() {
			snap, err := ref.Get(ctx)
			if err != nil {
				b.Fatalf("Get: %v", err)
			}
			if err := snap.DataTo(&v); err != nil {
				b.Fatalf("DataTo: %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			var v item
			for pb.Next() {
				if _, err := s.Get(ctx, k, &v); err != nil {
					b.Errorf("Get: %v", err)
					return
				}
			}
		})
	})
}

// BenchmarkTransaction measures a read-modify-write (store.Update: Get + Put in a transaction),
// serially on one document, and in parallel on one document per goroutine (no contention).
func BenchmarkTransaction(b *testing.B) {
	s, _ := storetest.NewEmulatorFirestore(b)
	ctx := context.Background()
	incr := func(v *item) error {
		v.Count++
		return nil
	}
	k := store.Key{Tenant: "acme", Kind: "items", ID: "counter"}
	if _, err := s.Create(ctx, k, item{}); err != nil {
		b.Fatalf("Create: %v", err)
	}
	if _, err := store.Update(ctx, s, k, incr); err != nil { // warm up
		b.Fatalf("Update: %v", err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.Update(ctx, s, k, incr); err != nil {
				b.Fatalf("Update: %v", err)
			}
		}
	})
	// The raw client doing the same read-modify-write: the floor the adapter adds to.
	b.Run("raw client", func(b *testing.B) {
		ref := s.Client().Doc(k.String())
		for b.Loop() {
			err := s.Client().RunTransaction(ctx, func(ctx context.Context, tx *gfirestore.Transaction) error {
				snap, err := tx.Get(ref)
				if err != nil {
					return err
				}
				var v item
				if err := snap.DataTo(&v); err != nil {
					return err
				}
				v.Count++
				return tx.Set(ref, v)
			})
			if err != nil {
				b.Fatalf("RunTransaction: %v", err)
			}
		}
	})
	var next atomic.Int64
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			k := store.Key{Tenant: "acme", Kind: "items", ID: fmt.Sprintf("c%d", next.Add(1))}
			if _, err := s.Put(ctx, k, item{}, store.Version{}); err != nil {
				b.Errorf("Put: %v", err)
				return
			}
			for pb.Next() {
				if _, err := store.Update(ctx, s, k, incr); err != nil {
					b.Errorf("Update: %v", err)
					return
				}
			}
		})
	})
	b.Run("conditional put", func(b *testing.B) {
		ver, err := s.Put(ctx, k, item{}, store.Version{})
		if err != nil {
			b.Fatalf("Put: %v", err)
		}
		for b.Loop() {
			if ver, err = s.Put(ctx, k, item{Name: "x"}, ver); err != nil {
				b.Fatalf("Put: %v", err)
			}
		}
	})
}
