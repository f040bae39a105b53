// Package store is the port to Runyard's document database: tenant-scoped documents addressed by
// Key, read-modify-write transactions with optimistic concurrency, cursor pagination, and an
// idempotency ledger of processed event ids.
//
// Every key of tenant data names its tenant: a Key with a tenant-scoped Kind and no Tenant is
// rejected, and List takes the tenant as a required argument, so no read or write can reach
// another tenant's documents. A few collections are global (see GlobalKinds).
//
// Values are Go structs tagged with `firestore:"…"` names; the adapters (shared/store/firestore)
// encode them. Domain packages hold the typed records and call the store through this interface.
package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotFound: the document does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: Create found a document at the key.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict: a write's version precondition failed (someone else wrote first).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalidKey: the key or query is malformed (missing tenant, bad id, unknown kind).
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidCursor: a page cursor was not produced by this store for this query.
	ErrInvalidCursor = errors.New("store: invalid cursor")
)

// Global collections: documents that belong to no tenant.
const (
	KindImages = "images" // images/{cache key}: prebuilt image per cache key
	KindCells  = "cells"  // cells/{cell}: capacity slots
	KindEvents = "events" // events/{id}: processed event ids (idempotency ledger)
	KindSweep  = "sweep"  // sweep/{id}: the sweeper's own state (its roster of tenants)
	// KindRuntimeIDs: runtimeids/{runtime id} → its tenant, so the gateway can serve
	// {runtime}.{domain} hosts, which name no tenant.
	KindRuntimeIDs = "runtimeids"
	// KindDomainClaims: domainclaims/{domain}: the one tenant that verified a custom domain.
	KindDomainClaims = "domainclaims"
	// KindCustomers: customers/{Stripe customer id} → its tenant (shared/billing).
	KindCustomers = "customers"
)

// GlobalKinds lists the collections whose keys have no tenant.
var GlobalKinds = map[string]bool{KindImages: true, KindCells: true, KindEvents: true, KindSweep: true, KindRuntimeIDs: true,
	KindDomainClaims: true, KindCustomers: true}

// Key addresses one document.
//
//   - Tenant set, Kind empty:  tenants/{Tenant}            (the tenant document itself; ID ignored)
//   - Tenant set, Kind set:    tenants/{Tenant}/{Kind}/{ID}
//   - Tenant empty:            {Kind}/{ID}, only for Kind in GlobalKinds
type Key struct {
	Tenant string
	Kind   string
	ID     string
}

// TenantKey is the key of a tenant document.
func TenantKey(tenant string) Key { return Key{Tenant: tenant} }

// String renders the key as its document path.
func (k Key) String() string {
	switch {
	case k.Tenant != "" && k.Kind == "":
		return "tenants/" + k.Tenant
	case k.Tenant != "":
		return "tenants/" + k.Tenant + "/" + k.Kind + "/" + k.ID
	default:
		return k.Kind + "/" + k.ID
	}
}

var (
	kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	// docIDRE: document ids may hold more than resource ids (member emails, cache keys), but
	// never a slash, never "." or "..", never the reserved __x__ form, and at most 500 bytes.
	docIDRE = regexp.MustCompile(`^[A-Za-z0-9@._+:=-]{1,500}$`)
)

// Validate reports ErrInvalidKey for a key that does not address exactly one document of a
// known shape.
func (k Key) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s", ErrInvalidKey, k, why) }
	if k.Tenant == "" {
		if !GlobalKinds[k.Kind] {
			return bad("tenant required for kind " + fmt.Sprintf("%q", k.Kind))
		}
		return validDocID(k.ID, bad)
	}
	if err := validDocID(k.Tenant, bad); err != nil {
		return err
	}
	if k.Kind == "" {
		return nil
	}
	if GlobalKinds[k.Kind] || !kindRE.MatchString(k.Kind) {
		return bad("kind not tenant-scoped")
	}
	return validDocID(k.ID, bad)
}

func validDocID(id string, bad func(string) error) error {
	if !docIDRE.MatchString(id) || id == "." || id == ".." || (len(id) >= 4 && id[:2] == "__" && id[len(id)-2:] == "__") {
		return bad("bad document id")
	}
	return nil
}

// Version identifies one write of a document (its update time). The zero Version means
// "no precondition" in writes.
type Version struct{ t time.Time }

// NewVersion wraps an update time; adapters use it.
func NewVersion(t time.Time) Version { return Version{t: t} }

// Time returns the update time the version stands for.
func (v Version) Time() time.Time { return v.t }

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v.t.IsZero() }

// Doc is one document read by List.
type Doc interface {
	Key() Key
	Version() Version
	// DataTo decodes the document into dst, a pointer to a struct.
	DataTo(dst any) error
}

// Filter is an equality condition on one top-level field (by its firestore tag name).
type Filter struct {
	Field string
	Value any
}

// Query selects documents of one kind of one tenant (or of one global kind), ordered by
// document id. Make ids time-ordered (see NewSortableID) where time order matters.
type Query struct {
	Where []Filter
	// Desc orders by descending document id. The Firestore adapter needs at least one filter
	// with Desc (Firestore does not scan document names backwards) and answers ErrInvalidKey
	// without one.
	Desc bool
	// Limit caps the page; 0 means DefaultLimit, more than MaxLimit is cut to MaxLimit.
	Limit int
	// Cursor is the Next value of the previous page; empty starts at the beginning.
	Cursor string
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Store is the document database port. Implementations: shared/store/firestore.
type Store interface {
	// Get reads the document at k into dst (a pointer to a struct).
	Get(ctx context.Context, k Key, dst any) (Version, error)
	// Create writes v at k; ErrAlreadyExists if a document is there.
	Create(ctx context.Context, k Key, v any) (Version, error)
	// Put writes v at k, replacing what is there. With a non-zero ifVersion the write happens
	// only if the document is still at that version (else ErrConflict; ErrNotFound if gone).
	Put(ctx context.Context, k Key, v any, ifVersion Version) (Version, error)
	// Delete removes the document at k. With a non-zero ifVersion, only at that version
	// (else ErrConflict; ErrNotFound if gone). Deleting a missing document without a
	// precondition is not an error.
	Delete(ctx context.Context, k Key, ifVersion Version) error
	// List returns one page of the documents of kind (of tenant, or global when tenant is ""
	// and kind is global) matching q, and the cursor of the next page ("" at the end).
	List(ctx context.Context, tenant, kind string, q Query) (docs []Doc, next string, err error)
	// RunTransaction runs fn in a serializable transaction, retrying it on contention; fn may
	// run more than once and must not have side effects outside tx. Reads come before writes.
	RunTransaction(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Close releases the client.
	Close() error
}

// Tx is the view of the store inside a transaction. Writes are applied when fn returns nil.
type Tx interface {
	Get(k Key, dst any) (Version, error)
	Create(k Key, v any) error
	Put(k Key, v any) error
	Delete(k Key) error
}
