package firestore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/runyard/runyard/shared/store"
)

// List returns one page of the documents of kind of tenant (or of a global kind when tenant is
// ""), matching the equality filters of q, ordered by document id. Desc needs at least one
// filter (store.ErrInvalidKey otherwise): Firestore does not scan document names backwards.
//
// The query asks for one document more than the page to learn whether a next page exists. The
// cursor is base64url(JSON{id, q}): the last document id of the page and a fingerprint of the
// query (tenant, kind, filters, order), so a cursor used with another query or tenant is
// rejected with store.ErrInvalidCursor. Cursors are opaque, not secret: a forged one can only
// move within the caller's own query, because the tenant comes from the argument.
func (s *Store) List(ctx context.Context, tenant, kind string, q store.Query) ([]store.Doc, string, error) {
	if kind == "" {
		return nil, "", fmt.Errorf("%w: list: kind required", store.ErrInvalidKey)
	}
	// A key with a placeholder id checks the tenant and the kind the same way as every key.
	if err := (store.Key{Tenant: tenant, Kind: kind, ID: "x"}).Validate(); err != nil {
		return nil, "", err
	}
	for _, f := range q.Where {
		if f.Field == "" || (strings.HasPrefix(f.Field, "__") && strings.HasSuffix(f.Field, "__")) {
			return nil, "", fmt.Errorf("%w: list %s: bad filter field %q", store.ErrInvalidKey, kind, f.Field)
		}
	}
	if q.Desc && len(q.Where) == 0 {
		// Firestore refuses a query whose only order is descending by document name ("does not
		// support descending key scans"); with an equality filter the descending single-field
		// index of the filtered field serves it.
		return nil, "", fmt.Errorf("%w: list %s: Desc needs at least one equality filter on Firestore", store.ErrInvalidKey, kind)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = store.DefaultLimit
	case limit > store.MaxLimit:
		limit = store.MaxLimit
	}

	coll := s.c.Collection(kind)
	if tenant != "" {
		coll = s.c.Collection("tenants").Doc(tenant).Collection(kind)
	}
	dir := firestore.Asc
	if q.Desc {
		dir = firestore.Desc
	}
	fq := coll.OrderBy(firestore.DocumentID, dir)
	for _, f := range q.Where {
		fq = fq.WherePath(firestore.FieldPath{f.Field}, "==", f.Value)
	}
	fp := fingerprint(tenant, kind, q)
	if q.Cursor != "" {
		after, err := decodeCursor(q.Cursor, fp)
		if err != nil {
			return nil, "", err
		}
		fq = fq.StartAfter(after)
	}
	fq = fq.Limit(limit + 1)

	it := fq.Documents(ctx)
	defer it.Stop()
	var docs []store.Doc
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			// Not mapped to sentinels: FailedPrecondition here means a missing index.
			return nil, "", fmt.Errorf("firestore.DocumentIterator.Next %s: %w", coll.Path, err)
		}
		docs = append(docs, doc{
			snap: snap,
			key:  store.Key{Tenant: tenant, Kind: kind, ID: snap.Ref.ID},
		})
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		next = encodeCursor(docs[limit-1].Key().ID, fp)
	}
	return docs, next, nil
}

// doc implements store.Doc over a snapshot.
type doc struct {
	snap *firestore.DocumentSnapshot
	key  store.Key
}

func (d doc) Key() store.Key         { return d.key }
func (d doc) Version() store.Version { return store.NewVersion(d.snap.UpdateTime) }
func (d doc) DataTo(dst any) error {
	if err := d.snap.DataTo(dst); err != nil {
		return fmt.Errorf("firestore.DocumentSnapshot.DataTo %s: %w", d.key, err)
	}
	return nil
}

// cursor is the JSON inside a page cursor.
type cursor struct {
	ID string `json:"id"`
	Q  string `json:"q"`
}

func encodeCursor(id, fp string) string {
	b, _ := json.Marshal(cursor{ID: id, Q: fp}) // cannot fail: two strings
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, fp string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", store.ErrInvalidCursor)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("%w: not a cursor", store.ErrInvalidCursor)
	}
	if c.Q != fp {
		return "", fmt.Errorf("%w: cursor of another query", store.ErrInvalidCursor)
	}
	// The id must be one a key may hold (the global events kind accepts any valid id).
	if err := (store.Key{Kind: store.KindEvents, ID: c.ID}).Validate(); err != nil {
		return "", fmt.Errorf("%w: bad document id", store.ErrInvalidCursor)
	}
	return c.ID, nil
}

// fingerprint identifies a query up to its limit and cursor: 16 bytes of SHA-256, in hex, of the
// tenant, the kind, the order and the filters (sorted, so their order does not matter).
func fingerprint(tenant, kind string, q store.Query) string {
	filters := make([]string, len(q.Where))
	for i, f := range q.Where {
		filters[i] = fmt.Sprintf("%q=%s", f.Field, filterValue(f.Value))
	}
	slices.Sort(filters)
	b, _ := json.Marshal(struct {
		Tenant  string   `json:"t"`
		Kind    string   `json:"k"`
		Desc    bool     `json:"d"`
		Filters []string `json:"f"`
	}{tenant, kind, q.Desc, filters})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// filterValue renders a filter value with its type, stably: times in UTC without the monotonic
// clock reading, other values as JSON (pointers by what they point to, map keys sorted).
func filterValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return "time:" + x.UTC().Format(time.RFC3339Nano)
	case *time.Time:
		if x == nil {
			return "nil"
		}
		return filterValue(*x)
	case nil:
		return "nil"
	}
	if b, err := json.Marshal(v); err == nil {
		return fmt.Sprintf("%T:%s", v, b)
	}
	return fmt.Sprintf("%T:%#v", v, v)
}
