package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/store"
)

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := testContext(t)
	k := thingKey("acme", "t1")
	want := newThing("one", 1)
	v1 := mustCreate(t, s, k, want)

	got, gv := mustGet(t, s, k)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get after Create (-want +got):\n%s", diff)
	}
	if !gv.Time().Equal(v1.Time()) {
		t.Errorf("Get version = %v, want the Create version %v", gv.Time(), v1.Time())
	}

	// A pointer to the struct encodes the same as the struct.
	want2 := newThing("two", 2)
	want2.Labels = nil
	want2.Tags = nil
	v2, err := s.Put(ctx, k, &want2, store.Version{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v2.IsZero() || !v2.Time().After(v1.Time()) {
		t.Errorf("Put version %v, want after %v", v2.Time(), v1.Time())
	}
	got, gv = mustGet(t, s, k)
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("Get after Put (-want +got):\n%s", diff)
	}
	if !gv.Time().Equal(v2.Time()) {
		t.Errorf("Get version = %v, want the Put version %v", gv.Time(), v2.Time())
	}

	// Put with the current version succeeds and replaces the whole document.
	want3 := newThing("three", 3)
	v3, err := s.Put(ctx, k, want3, v2)
	if err != nil {
		t.Fatalf("Put at current version: %v", err)
	}
	got, gv = mustGet(t, s, k)
	if diff := cmp.Diff(want3, got); diff != "" {
		t.Errorf("Get after conditional Put (-want +got):\n%s", diff)
	}
	if !gv.Time().Equal(v3.Time()) {
		t.Errorf("Get version = %v, want the conditional Put version %v", gv.Time(), v3.Time())
	}

	// Put creates a missing document when unconditional.
	k2 := thingKey("acme", "t2")
	if _, err := s.Put(ctx, k2, want, store.Version{}); err != nil {
		t.Fatalf("Put of a new document: %v", err)
	}
	if got, _ := mustGet(t, s, k2); !cmp.Equal(want, got) {
		t.Errorf("Get(%s) = %+v, want %+v", k2, got, want)
	}

	// Delete at the current version, then without one; deleting a missing document is fine.
	if err := s.Delete(ctx, k, v3); err != nil {
		t.Fatalf("Delete at current version: %v", err)
	}
	wantNotFound(t, s, k)
	if err := s.Delete(ctx, k, store.Version{}); err != nil {
		t.Errorf("Delete of a missing document: %v", err)
	}
	if err := s.Delete(ctx, k2, store.Version{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, k2)
}

func testErrors(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		// op runs against a store where k holds a Thing at version cur, and stale is an older
		// version of k.
		op      func(ctx context.Context, k store.Key, cur, stale store.Version) error
		wantErr error
	}{
		{
			name: "get missing",
			op: func(ctx context.Context, k store.Key, _, _ store.Version) error {
				var v Thing
				_, err := s.Get(ctx, store.Key{Tenant: k.Tenant, Kind: k.Kind, ID: "missing"}, &v)
				return err
			},
			wantErr: store.ErrNotFound,
		},
		{
			name: "create existing",
			op: func(ctx context.Context, k store.Key, _, _ store.Version) error {
				_, err := s.Create(ctx, k, newThing("again", 9))
				return err
			},
			wantErr: store.ErrAlreadyExists,
		},
		{
			name: "put stale version",
			op: func(ctx context.Context, k store.Key, _, stale store.Version) error {
				_, err := s.Put(ctx, k, newThing("late", 9), stale)
				return err
			},
			wantErr: store.ErrConflict,
		},
		{
			name: "delete stale version",
			op: func(ctx context.Context, k store.Key, _, stale store.Version) error {
				return s.Delete(ctx, k, stale)
			},
			wantErr: store.ErrConflict,
		},
		{
			name: "put version of a missing document",
			op: func(ctx context.Context, k store.Key, cur, _ store.Version) error {
				_, err := s.Put(ctx, store.Key{Tenant: k.Tenant, Kind: k.Kind, ID: "missing"}, newThing("x", 1), cur)
				return err
			},
			wantErr: store.ErrNotFound,
		},
		{
			name: "put version of a deleted document",
			op: func(ctx context.Context, k store.Key, cur, _ store.Version) error {
				if err := s.Delete(ctx, k, store.Version{}); err != nil {
					return err
				}
				_, err := s.Put(ctx, k, newThing("x", 1), cur)
				return err
			},
			wantErr: store.ErrNotFound,
		},
		{
			name: "delete version of a deleted document",
			op: func(ctx context.Context, k store.Key, cur, _ store.Version) error {
				if err := s.Delete(ctx, k, store.Version{}); err != nil {
					return err
				}
				return s.Delete(ctx, k, cur)
			},
			wantErr: store.ErrNotFound,
		},
		{
			name: "put at a version newer than the document's",
			op: func(ctx context.Context, k store.Key, _, _ store.Version) error {
				newer, err := s.Create(ctx, store.Key{Tenant: k.Tenant, Kind: kindOther, ID: k.ID}, newThing("later", 3))
				if err != nil {
					return err
				}
				_, err = s.Put(ctx, k, newThing("x", 1), newer)
				return err
			},
			wantErr: store.ErrConflict,
		},
		{
			name: "delete at a version newer than the document's",
			op: func(ctx context.Context, k store.Key, _, _ store.Version) error {
				newer, err := s.Create(ctx, store.Key{Tenant: k.Tenant, Kind: kindOther, ID: k.ID}, newThing("later", 3))
				if err != nil {
					return err
				}
				return s.Delete(ctx, k, newer)
			},
			wantErr: store.ErrConflict,
		},
		{
			name: "decode into a mismatched type",
			op: func(ctx context.Context, k store.Key, _, _ store.Version) error {
				var v struct {
					Name int `firestore:"name"`
				}
				_, err := s.Get(ctx, k, &v)
				if err == nil {
					return errors.New("no error")
				}
				if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
					return err
				}
				return nil
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			k := thingKey("acme", idsN("e", len(tests))[i])
			stale := mustCreate(t, s, k, newThing("first", 1))
			cur, err := s.Put(ctx, k, newThing("second", 2), store.Version{})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			err = tc.op(ctx, k, cur, stale)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func testInvalidKey(t *testing.T, s store.Store) {
	keys := []struct {
		name string
		k    store.Key
	}{
		{"empty key", store.Key{}},
		{"tenant-scoped kind without tenant", store.Key{Kind: kindThings, ID: "a"}},
		{"unknown global kind", store.Key{Kind: "widgets", ID: "a"}},
		{"global kind with tenant", store.Key{Tenant: "acme", Kind: store.KindImages, ID: "a"}},
		{"empty id", store.Key{Tenant: "acme", Kind: kindThings}},
		{"slash in id", store.Key{Tenant: "acme", Kind: kindThings, ID: "a/b"}},
		{"slash in tenant", store.Key{Tenant: "ac/me", Kind: kindThings, ID: "a"}},
		{"slash in global id", store.Key{Kind: store.KindEvents, ID: "a/b"}},
		{"dot id", store.Key{Tenant: "acme", Kind: kindThings, ID: "."}},
		{"dot dot id", store.Key{Tenant: "acme", Kind: kindThings, ID: ".."}},
		{"reserved id", store.Key{Tenant: "acme", Kind: kindThings, ID: "__x__"}},
		{"reserved id of underscores", store.Key{Tenant: "acme", Kind: kindThings, ID: "____"}},
		{"reserved tenant", store.Key{Tenant: "__acme__"}},
		{"space in id", store.Key{Tenant: "acme", Kind: kindThings, ID: "a b"}},
		{"bad kind", store.Key{Tenant: "acme", Kind: "Things", ID: "a"}},
		{"kind with slash", store.Key{Tenant: "acme", Kind: "things/x", ID: "a"}},
	}
	ops := []struct {
		name string
		op   func(ctx context.Context, k store.Key) error
	}{
		{"Get", func(ctx context.Context, k store.Key) error {
			var v Thing
			_, err := s.Get(ctx, k, &v)
			return err
		}},
		{"Create", func(ctx context.Context, k store.Key) error {
			_, err := s.Create(ctx, k, newThing("x", 1))
			return err
		}},
		{"Put", func(ctx context.Context, k store.Key) error {
			_, err := s.Put(ctx, k, newThing("x", 1), store.Version{})
			return err
		}},
		{"Delete", func(ctx context.Context, k store.Key) error { return s.Delete(ctx, k, store.Version{}) }},
		{"Tx.Get", func(ctx context.Context, k store.Key) error {
			return s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
				var v Thing
				_, err := tx.Get(k, &v)
				return err
			})
		}},
		{"Tx.Create", func(ctx context.Context, k store.Key) error {
			return s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Create(k, newThing("x", 1)) })
		}},
		{"Tx.Put", func(ctx context.Context, k store.Key) error {
			return s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(k, newThing("x", 1)) })
		}},
		{"Tx.Delete", func(ctx context.Context, k store.Key) error {
			return s.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Delete(k) })
		}},
	}
	for _, kc := range keys {
		for _, oc := range ops {
			t.Run(kc.name+"/"+oc.name, func(t *testing.T) {
				t.Parallel()
				if err := oc.op(testContext(t), kc.k); !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("%s(%+v) = %v, want ErrInvalidKey", oc.name, kc.k, err)
				}
			})
		}
	}

	lists := []struct {
		name         string
		tenant, kind string
		q            store.Query
	}{
		{"no kind", "acme", "", store.Query{}},
		{"no tenant for a tenant-scoped kind", "", kindThings, store.Query{}},
		{"unknown global kind", "", "widgets", store.Query{}},
		{"tenant for a global kind", "acme", store.KindEvents, store.Query{}},
		{"bad tenant", "a/b", kindThings, store.Query{}},
		{"bad kind", "acme", "Things", store.Query{}},
		{"empty filter field", "acme", kindThings, store.Query{Where: []store.Filter{{Field: "", Value: "x"}}}},
	}
	for _, lc := range lists {
		t.Run("List/"+lc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := s.List(testContext(t), lc.tenant, lc.kind, lc.q); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("List(%q, %q) = %v, want ErrInvalidKey", lc.tenant, lc.kind, err)
			}
		})
	}

	// Nothing was written under a valid key by the rejected writes.
	if ids, _ := listAll(t, s, "acme", kindThings, store.Query{}); len(ids) != 0 {
		t.Errorf("documents written by rejected calls: %v", ids)
	}
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := testContext(t)
	a, b := thingKey("tenant-a", "same"), thingKey("tenant-b", "same")
	wantA, wantB := newThing("a", 1), newThing("b", 2)
	mustCreate(t, s, a, wantA)
	// The same kind and id under another tenant is another document.
	mustCreate(t, s, b, wantB)
	if got, _ := mustGet(t, s, a); !cmp.Equal(wantA, got) {
		t.Errorf("Get(%s) = %+v, want %+v", a, got, wantA)
	}
	if got, _ := mustGet(t, s, b); !cmp.Equal(wantB, got) {
		t.Errorf("Get(%s) = %+v, want %+v", b, got, wantB)
	}

	for _, id := range idsN("a", 6) {
		mustCreate(t, s, thingKey("tenant-a", id), newThing(id, 1))
	}
	for _, id := range idsN("b", 4) {
		mustCreate(t, s, thingKey("tenant-b", id), newThing(id, 1))
	}
	gotA, _ := listAll(t, s, "tenant-a", kindThings, store.Query{Limit: 2})
	if diff := cmp.Diff(append(idsN("a", 6), "same"), gotA); diff != "" {
		t.Errorf("List of tenant-a (-want +got):\n%s", diff)
	}
	gotB, _ := listAll(t, s, "tenant-b", kindThings, store.Query{Limit: 2})
	if diff := cmp.Diff(append(idsN("b", 4), "same"), gotB); diff != "" {
		t.Errorf("List of tenant-b (-want +got):\n%s", diff)
	}

	// A's cursor does not work on B's list, even for the same kind and query.
	_, next, err := s.List(ctx, "tenant-a", kindThings, store.Query{Limit: 2})
	if err != nil || next == "" {
		t.Fatalf("List(tenant-a) = next %q, %v; want a cursor", next, err)
	}
	if _, _, err := s.List(ctx, "tenant-b", kindThings, store.Query{Limit: 2, Cursor: next}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("List(tenant-b) with tenant-a's cursor = %v, want ErrInvalidCursor", err)
	}

	// Writes to A leave B alone.
	if _, err := s.Put(ctx, a, newThing("a2", 3), store.Version{}); err != nil {
		t.Fatalf("Put(%s): %v", a, err)
	}
	if err := s.Delete(ctx, a, store.Version{}); err != nil {
		t.Fatalf("Delete(%s): %v", a, err)
	}
	wantNotFound(t, s, a)
	if got, _ := mustGet(t, s, b); !cmp.Equal(wantB, got) {
		t.Errorf("Get(%s) after writes to tenant-a = %+v, want %+v", b, got, wantB)
	}
}

// Tenant is the record the suite stores as a tenant document.
type Tenant struct {
	Plan   string         `firestore:"plan"`
	Quotas map[string]int `firestore:"quotas"`
}

func testTenantDocument(t *testing.T, s store.Store) {
	ctx := testContext(t)
	tk := store.TenantKey("acme")
	want := Tenant{Plan: "pro", Quotas: map[string]int{"runtimes": 5}}
	if _, err := s.Create(ctx, tk, want); err != nil {
		t.Fatalf("Create(%s): %v", tk, err)
	}
	var got Tenant
	if _, err := s.Get(ctx, tk, &got); err != nil {
		t.Fatalf("Get(%s): %v", tk, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tenant document (-want +got):\n%s", diff)
	}
	// The ID of a key without a kind is ignored: it is the same document.
	var got2 Tenant
	if _, err := s.Get(ctx, store.Key{Tenant: "acme", ID: "ignored"}, &got2); err != nil || !cmp.Equal(want, got2) {
		t.Errorf("Get(tenant key with an id) = %+v, %v; want %+v", got2, err, want)
	}

	// Subcollections of the tenant document.
	for _, id := range []string{"m1", "m2"} {
		mustCreate(t, s, store.Key{Tenant: "acme", Kind: "members", ID: id}, newThing(id, 1))
	}
	mustCreate(t, s, thingKey("acme", "t1"), newThing("t1", 1))
	members, _ := listAll(t, s, "acme", "members", store.Query{})
	if diff := cmp.Diff([]string{"m1", "m2"}, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}

	// Deleting the tenant document leaves its subcollections (as in Firestore).
	if err := s.Delete(ctx, tk, store.Version{}); err != nil {
		t.Fatalf("Delete(%s): %v", tk, err)
	}
	if _, err := s.Get(ctx, tk, &got); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%s) after Delete = %v, want ErrNotFound", tk, err)
	}
	members, _ = listAll(t, s, "acme", "members", store.Query{})
	if diff := cmp.Diff([]string{"m1", "m2"}, members); diff != "" {
		t.Errorf("members after deleting the tenant document (-want +got):\n%s", diff)
	}
}

func testGlobalKinds(t *testing.T, s store.Store) {
	for kind := range store.GlobalKinds {
		k := store.Key{Kind: kind, ID: "g1"}
		want := newThing(kind, 1)
		mustCreate(t, s, k, want)
		if got, _ := mustGet(t, s, k); !cmp.Equal(want, got) {
			t.Errorf("Get(%s) = %+v, want %+v", k, got, want)
		}
		ids, _ := listAll(t, s, "", kind, store.Query{})
		if diff := cmp.Diff([]string{"g1"}, ids); diff != "" {
			t.Errorf("List(%s) (-want +got):\n%s", kind, diff)
		}
	}
	// Global documents belong to no tenant.
	if ids, _ := listAll(t, s, "acme", kindThings, store.Query{}); len(ids) != 0 {
		t.Errorf("List(acme, %s) = %v, want none", kindThings, ids)
	}
}
