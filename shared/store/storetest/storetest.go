// Package storetest is the conformance suite of the store port (shared/store): Run checks that a
// backend behaves as store.Store promises — round trips, sentinel errors, key validation,
// tenant isolation, pagination, transactions under contention and the idempotency ledger. Every
// backend's tests call Run; NewEmulatorStore supplies the Firestore adapter on the emulator.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/store"
)

// Kinds the suite writes. They are tenant-scoped kinds of no domain package.
const (
	kindThings = "things"
	kindOther  = "others"
)

// testTimeout bounds each subtest. It is generous: contended transactions on the emulator queue
// on locks for seconds at a time. It is a hang guard, not a timed assertion.
const testTimeout = 2 * time.Minute

// Thing is the record the suite stores: one field of each shape a domain record uses.
type Thing struct {
	Name   string            `firestore:"name"`
	Count  int               `firestore:"count"`
	Active bool              `firestore:"active"`
	At     time.Time         `firestore:"at"`
	Labels map[string]string `firestore:"labels"`
	Tags   []string          `firestore:"tags"`
	Owner  Owner             `firestore:"owner"`
	Group  string            `firestore:"group"`
	Type   string            `firestore:"type"`
}

// Owner is a nested struct inside Thing.
type Owner struct {
	Email string   `firestore:"email"`
	Roles []string `firestore:"roles"`
}

// newThing returns a Thing with every field set. Times have microsecond precision, the
// precision Firestore keeps.
func newThing(name string, count int) Thing {
	return Thing{
		Name:   name,
		Count:  count,
		Active: count%2 == 0,
		At:     time.Date(2026, 11, 23, 10, 30, 0, 123456000, time.UTC).Add(time.Duration(count) * time.Second),
		Labels: map[string]string{"env": "test", "name": name},
		Tags:   []string{"a", name},
		Owner:  Owner{Email: name + "@example.com", Roles: []string{"owner", "admin"}},
		Group:  []string{"even", "odd"}[count%2],
		Type:   "thing",
	}
}

// Run runs the conformance suite against the backend newStore returns. newStore is called once
// per subtest and must return an empty store that the test may use alone (subtests run in
// parallel); it registers its own cleanup on tb.
func Run(t *testing.T, newStore func(tb testing.TB) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Errors", testErrors},
		{"InvalidKey", testInvalidKey},
		{"TenantIsolation", testTenantIsolation},
		{"TenantDocument", testTenantDocument},
		{"GlobalKinds", testGlobalKinds},
		{"Pagination", testPagination},
		{"PaginationFilters", testPaginationFilters},
		{"PaginationLimits", testPaginationLimits},
		{"DescWithoutFilter", testDescWithoutFilter},
		{"InvalidCursor", testInvalidCursor},
		{"SortableIDs", testSortableIDs},
		{"Transaction", testTransaction},
		{"TransactionRollback", testTransactionRollback},
		{"TransactionCreateExisting", testTransactionCreateExisting},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentStalePut", testConcurrentStalePut},
		{"Update", testUpdate},
		{"ListOf", testListOf},
		{"ClaimEvent", testClaimEvent},
		{"ClaimEventConcurrent", testClaimEventConcurrent},
		{"ClaimEventTx", testClaimEventTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// testContext returns a context that ends with the test or after testTimeout.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

func thingKey(tenant, id string) store.Key {
	return store.Key{Tenant: tenant, Kind: kindThings, ID: id}
}

// mustCreate creates v at k or fails the test.
func mustCreate(tb testing.TB, s store.Store, k store.Key, v any) store.Version {
	tb.Helper()
	ver, err := s.Create(testContext(tb), k, v)
	if err != nil {
		tb.Fatalf("Create(%s): %v", k, err)
	}
	if ver.IsZero() {
		tb.Fatalf("Create(%s) returned the zero version", k)
	}
	return ver
}

// mustGet reads the Thing at k or fails the test.
func mustGet(tb testing.TB, s store.Store, k store.Key) (Thing, store.Version) {
	tb.Helper()
	var got Thing
	ver, err := s.Get(testContext(tb), k, &got)
	if err != nil {
		tb.Fatalf("Get(%s): %v", k, err)
	}
	return got, ver
}

// wantNotFound fails the test unless k is missing.
func wantNotFound(tb testing.TB, s store.Store, k store.Key) {
	tb.Helper()
	var got Thing
	if _, err := s.Get(testContext(tb), k, &got); !errors.Is(err, store.ErrNotFound) {
		tb.Fatalf("Get(%s) = %v, want ErrNotFound", k, err)
	}
}

// listAll pages through a query with limit per page and returns the ids in order and the page
// sizes.
func listAll(tb testing.TB, s store.Store, tenant, kind string, q store.Query) (ids []string, pages []int) {
	tb.Helper()
	ctx := testContext(tb)
	for i := 0; ; i++ {
		if i > 1000 {
			tb.Fatalf("List(%s, %s) does not end", tenant, kind)
		}
		docs, next, err := s.List(ctx, tenant, kind, q)
		if err != nil {
			tb.Fatalf("List(%s, %s, page %d): %v", tenant, kind, i, err)
		}
		pages = append(pages, len(docs))
		for _, d := range docs {
			ids = append(ids, d.Key().ID)
			if want := (store.Key{Tenant: tenant, Kind: kind, ID: d.Key().ID}); d.Key() != want {
				tb.Errorf("List doc key = %+v, want %+v", d.Key(), want)
			}
			if d.Version().IsZero() {
				tb.Errorf("List doc %s has the zero version", d.Key())
			}
		}
		if next == "" {
			return ids, pages
		}
		q.Cursor = next
	}
}

func idsN(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return ids
}
