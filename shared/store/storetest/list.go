package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/store"
)

// createThings creates one Thing per id under tenant, in random order, with Count = its index in
// ids (so Group alternates "even", "odd").
func createThings(tb testing.TB, s store.Store, tenant, kind string, ids []string) {
	tb.Helper()
	for _, i := range rand.Perm(len(ids)) {
		mustCreate(tb, s, store.Key{Tenant: tenant, Kind: kind, ID: ids[i]}, newThing(ids[i], i))
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func testPagination(t *testing.T, s store.Store) {
	ids := idsN("d", 23)
	createThings(t, s, "acme", kindThings, ids)
	// Another kind and another tenant, to show they are not listed.
	createThings(t, s, "acme", kindOther, idsN("o", 3))
	createThings(t, s, "other", kindThings, idsN("x", 3))

	// Desc comes with a filter that every Thing matches (see testDescWithoutFilter).
	all := []store.Filter{{Field: "type", Value: "thing"}}
	tests := []struct {
		name      string
		q         store.Query
		wantIDs   []string
		wantPages []int
	}{
		{"asc by 5", store.Query{Limit: 5}, ids, []int{5, 5, 5, 5, 3}},
		{"desc by 5", store.Query{Limit: 5, Desc: true, Where: all}, reversed(ids), []int{5, 5, 5, 5, 3}},
		{"asc by 1", store.Query{Limit: 1}, ids, slices.Repeat([]int{1}, 23)},
		{"desc by 1", store.Query{Limit: 1, Desc: true, Where: all}, reversed(ids), slices.Repeat([]int{1}, 23)},
		// A last page that is exactly full has no next page.
		{"asc by 23", store.Query{Limit: 23}, ids, []int{23}},
		{"desc by 23", store.Query{Limit: 23, Desc: true, Where: all}, reversed(ids), []int{23}},
		{"desc by 24", store.Query{Limit: 24, Desc: true, Where: all}, reversed(ids), []int{23}},
		{"default limit", store.Query{}, ids, []int{23}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotIDs, gotPages := listAll(t, s, "acme", kindThings, tc.q)
			if diff := cmp.Diff(tc.wantIDs, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPages, gotPages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
		})
	}
}

func testPaginationFilters(t *testing.T, s store.Store) {
	ids := idsN("f", 23)
	createThings(t, s, "acme", kindThings, ids)
	var even, odd, evenActive []string
	for i, id := range ids {
		if i%2 == 0 {
			even = append(even, id)
			evenActive = append(evenActive, id) // newThing: Active == (count is even)
		} else {
			odd = append(odd, id)
		}
	}
	tests := []struct {
		name      string
		q         store.Query
		wantIDs   []string
		wantPages []int
	}{
		{"even asc by 5", store.Query{Where: []store.Filter{{Field: "group", Value: "even"}}, Limit: 5}, even, []int{5, 5, 2}},
		{"odd desc by 4", store.Query{Where: []store.Filter{{Field: "group", Value: "odd"}}, Limit: 4, Desc: true}, reversed(odd), []int{4, 4, 3}},
		{"two filters", store.Query{Where: []store.Filter{{Field: "group", Value: "even"}, {Field: "active", Value: true}}, Limit: 3}, evenActive, []int{3, 3, 3, 3}},
		{"int filter", store.Query{Where: []store.Filter{{Field: "count", Value: 7}}}, []string{"f07"}, []int{1}},
		{"time filter", store.Query{Where: []store.Filter{{Field: "at", Value: newThing("", 4).At}}}, []string{"f04"}, []int{1}},
		{"no match", store.Query{Where: []store.Filter{{Field: "group", Value: "none"}}, Limit: 5}, nil, []int{0}},
		{"unknown field", store.Query{Where: []store.Filter{{Field: "nope", Value: 1}}}, nil, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotIDs, gotPages := listAll(t, s, "acme", kindThings, tc.q)
			if diff := cmp.Diff(tc.wantIDs, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPages, gotPages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
		})
	}
}

// testDescWithoutFilter: a backend may refuse Desc without a filter (Firestore cannot scan
// document names backwards) with ErrInvalidKey; if it answers, the order must be right.
func testDescWithoutFilter(t *testing.T, s store.Store) {
	ids := idsN("r", 5)
	createThings(t, s, "acme", kindThings, ids)
	_, _, err := s.List(testContext(t), "acme", kindThings, store.Query{Desc: true, Limit: 2})
	if errors.Is(err, store.ErrInvalidKey) {
		t.Logf("backend refuses Desc without a filter: %v", err)
		return
	}
	got, _ := listAll(t, s, "acme", kindThings, store.Query{Desc: true, Limit: 2})
	if diff := cmp.Diff(reversed(ids), got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func testPaginationLimits(t *testing.T, s store.Store) {
	n := store.DefaultLimit + 3
	ids := idsN("l", n)
	createThings(t, s, "acme", kindThings, ids)
	tests := []struct {
		name      string
		limit     int
		wantPages []int
	}{
		{"zero is the default", 0, []int{store.DefaultLimit, 3}},
		{"negative is the default", -1, []int{store.DefaultLimit, 3}},
		{"above the maximum is the maximum", store.MaxLimit + 1, []int{n}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotIDs, gotPages := listAll(t, s, "acme", kindThings, store.Query{Limit: tc.limit})
			if diff := cmp.Diff(ids, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPages, gotPages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
		})
	}
}

func testInvalidCursor(t *testing.T, s store.Store) {
	ctx := testContext(t)
	createThings(t, s, "acme", kindThings, idsN("c", 4))
	createThings(t, s, "acme", kindOther, idsN("c", 4))
	createThings(t, s, "other", kindThings, idsN("c", 4))
	createThings(t, s, "", store.KindImages, idsN("c", 4))
	even := []store.Filter{{Field: "group", Value: "even"}}
	base := store.Query{Limit: 1, Where: even}
	_, cursor, err := s.List(ctx, "acme", kindThings, base)
	if err != nil || cursor == "" {
		t.Fatalf("List = next %q, %v; want a cursor", cursor, err)
	}
	// The cursor works for the query that made it, with any limit.
	for _, limit := range []int{1, 5} {
		q := base
		q.Limit, q.Cursor = limit, cursor
		if _, _, err := s.List(ctx, "acme", kindThings, q); err != nil {
			t.Fatalf("List with its own cursor, limit %d: %v", limit, err)
		}
	}
	// The order of filters does not matter.
	two := []store.Filter{{Field: "group", Value: "even"}, {Field: "active", Value: true}}
	_, cursor2, err := s.List(ctx, "acme", kindThings, store.Query{Limit: 1, Where: two})
	if err != nil || cursor2 == "" {
		t.Fatalf("List = next %q, %v; want a cursor", cursor2, err)
	}
	if _, _, err := s.List(ctx, "acme", kindThings, store.Query{Limit: 1, Where: reversedFilters(two), Cursor: cursor2}); err != nil {
		t.Errorf("List with filters in another order: %v", err)
	}

	tests := []struct {
		name         string
		tenant, kind string
		q            store.Query
	}{
		{"other tenant", "other", kindThings, base},
		{"other kind", "acme", kindOther, base},
		{"global kind", "", store.KindImages, base},
		{"no filter", "acme", kindThings, store.Query{Limit: 1}},
		{"other filter value", "acme", kindThings, store.Query{Limit: 1, Where: []store.Filter{{Field: "group", Value: "odd"}}}},
		{"other filter type", "acme", kindThings, store.Query{Limit: 1, Where: []store.Filter{{Field: "group", Value: []byte("even")}}}},
		{"other filter field", "acme", kindThings, store.Query{Limit: 1, Where: []store.Filter{{Field: "name", Value: "even"}}}},
		{"more filters", "acme", kindThings, store.Query{Limit: 1, Where: two}},
		{"other order", "acme", kindThings, store.Query{Limit: 1, Where: even, Desc: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := tc.q
			q.Cursor = cursor
			if _, _, err := s.List(testContext(t), tc.tenant, tc.kind, q); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("List(%q, %q, %+v) = %v, want ErrInvalidCursor", tc.tenant, tc.kind, q, err)
			}
		})
	}
	for _, c := range []string{"x", "not base64!", "e30", cursor[:len(cursor)/2], cursor + "AAAA", "%%%"} {
		t.Run(fmt.Sprintf("garbage %q", c), func(t *testing.T) {
			t.Parallel()
			q := base
			q.Cursor = c
			if _, _, err := s.List(testContext(t), "acme", kindThings, q); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("List with cursor %q = %v, want ErrInvalidCursor", c, err)
			}
		})
	}
}

func reversedFilters(f []store.Filter) []store.Filter {
	r := slices.Clone(f)
	slices.Reverse(r)
	return r
}

// Event is an audit-like record keyed by NewSortableID.
type Event struct {
	Seq  int       `firestore:"seq"`
	At   time.Time `firestore:"at"`
	Type string    `firestore:"type"`
}

func testSortableIDs(t *testing.T, s store.Store) {
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const n = 12
	var want []int
	for _, i := range rand.Perm(n) {
		at := base.Add(time.Duration(i) * time.Millisecond)
		mustCreate(t, s, store.Key{Tenant: "acme", Kind: "audit", ID: store.NewSortableID(at)}, Event{Seq: i, At: at, Type: "login"})
	}
	for i := n - 1; i >= 0; i-- {
		want = append(want, i)
	}
	var got []int
	q := store.Query{Desc: true, Limit: 5, Where: []store.Filter{{Field: "type", Value: "login"}}}
	for {
		page, next, err := store.ListOf[Event](testContext(t), s, "acme", "audit", q)
		if err != nil {
			t.Fatalf("ListOf: %v", err)
		}
		for _, e := range page {
			got = append(got, e.Seq)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit events newest first (-want +got):\n%s", diff)
	}

	// Reverse ids list newest first in ascending order, with no filter.
	for _, i := range rand.Perm(n) {
		at := base.Add(time.Duration(i) * time.Millisecond)
		mustCreate(t, s, store.Key{Tenant: "acme", Kind: "history", ID: store.NewReverseSortableID(at)}, Event{Seq: i, At: at})
	}
	got = nil
	q = store.Query{Limit: 5}
	for {
		page, next, err := store.ListOf[Event](testContext(t), s, "acme", "history", q)
		if err != nil {
			t.Fatalf("ListOf: %v", err)
		}
		for _, e := range page {
			got = append(got, e.Seq)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reverse ids newest first (-want +got):\n%s", diff)
	}
}
