package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Update reads the document at k into a T, lets fn change it, and writes it back, all in one
// transaction. It returns ErrNotFound if the document does not exist; an error from fn aborts
// the transaction (nothing is written) and is returned as is. fn may run more than once (the
// transaction retries on contention), each time on a freshly read value, so it must not have
// side effects. Update returns the value that was committed.
func Update[T any](ctx context.Context, s Store, k Key, fn func(*T) error) (T, error) {
	var out T
	err := s.RunTransaction(ctx, func(ctx context.Context, tx Tx) error {
		var v T
		if _, err := tx.Get(k, &v); err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
		if err := tx.Put(k, &v); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// ListOf returns one page of List decoded into Ts, and the cursor of the next page ("" at the
// end).
func ListOf[T any](ctx context.Context, s Store, tenant, kind string, q Query) ([]T, string, error) {
	docs, next, err := s.List(ctx, tenant, kind, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, len(docs))
	for i, d := range docs {
		if err := d.DataTo(&out[i]); err != nil {
			return nil, "", fmt.Errorf("store: decode %s: %w", d.Key(), err)
		}
	}
	return out, next, nil
}

// sortableIDTimeWidth is the width of the base-36 nanosecond time prefix of NewSortableID:
// enough for every int64 (the largest is "1y2p0ij32e8e7").
const sortableIDTimeWidth = 13

// lowerBase32 encodes random bytes with digits and lowercase letters only.
var lowerBase32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewSortableID returns a 29-character document id of lowercase letters and digits that sorts
// (as a string, and so as a document id) by t: 13 characters of t in nanoseconds since the Unix
// epoch in fixed-width base 36 (times before 1970 count as the epoch), then 16 random
// characters (80 bits from crypto/rand) so ids made at the same instant do not collide. List
// with Desc (and a filter, on Firestore) returns such documents newest first; see also
// NewReverseSortableID. Ids made within the same nanosecond sort in random order.
func NewSortableID(t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	ts := strconv.FormatInt(ns, 36)
	var b [10]byte
	rand.Read(b[:]) // never returns an error (crypto/rand panics instead)
	return strings.Repeat("0", sortableIDTimeWidth-len(ts)) + ts + lowerBase32.EncodeToString(b[:])
}

// NewReverseSortableID is NewSortableID in reverse time order: ids of later times sort first, so
// an ascending List returns the documents newest first. Use it where newest-first is the usual
// read and there is no filter to go with Desc (the Firestore adapter needs one for Desc).
func NewReverseSortableID(t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	ts := strconv.FormatInt(math.MaxInt64-ns, 36)
	var b [10]byte
	rand.Read(b[:]) // never returns an error (crypto/rand panics instead)
	return strings.Repeat("0", sortableIDTimeWidth-len(ts)) + ts + lowerBase32.EncodeToString(b[:])
}

// EventRecord is the ledger entry stored at events/{EventDocID(id)} by ClaimEvent and
// ClaimEventTx. ExpireAt is the field for a Firestore TTL policy on the events collection
// group; it is absent when the claim was made without a TTL.
type EventRecord struct {
	EventID     string    `firestore:"event_id"`
	ProcessedAt time.Time `firestore:"processed_at"`
	ExpireAt    time.Time `firestore:"expire_at,omitempty"`
}

func newEventRecord(eventID string, ttl time.Duration) EventRecord {
	now := time.Now().UTC()
	r := EventRecord{EventID: eventID, ProcessedAt: now}
	if ttl > 0 {
		r.ExpireAt = now.Add(ttl)
	}
	return r
}

// EventKey is the ledger key of an event id.
func EventKey(eventID string) Key { return Key{Kind: KindEvents, ID: EventDocID(eventID)} }

var safeEventIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// hashedEventPrefix starts every hashed ledger id; ids that start with it are always hashed, so
// an id kept as is never equals the hash of another.
const hashedEventPrefix = "sha256-"

// EventDocID maps an event id (a Pub/Sub message id, a CloudEvent id, a Stripe event id — any
// string) to a ledger document id. Short ids of letters, digits, "_" and "-" are kept as they are
// (readable in the console); any other id becomes "sha256-" and the hex SHA-256 of the id.
// Distinct event ids map to distinct document ids.
func EventDocID(eventID string) string {
	if safeEventIDRE.MatchString(eventID) && !strings.HasPrefix(eventID, hashedEventPrefix) && !strings.HasPrefix(eventID, "__") {
		return eventID
	}
	sum := sha256.Sum256([]byte(eventID))
	return hashedEventPrefix + hex.EncodeToString(sum[:])
}

// ClaimEvent records eventID in the idempotency ledger (the global events kind) and reports
// whether this call was the first to do so. A duplicate is not an error: first is false. With
// ttl > 0 the record carries expire_at = now+ttl for a Firestore TTL policy; a duplicate is
// detected for at least ttl (TTL deletion runs late, never early).
//
// Claim-then-process is at-most-once: if the process fails after the claim, a redelivery is
// seen as a duplicate and the effect never happens. Where the effect is a store write, use
// ClaimEventTx in the same transaction as the effect instead: that is exactly-once.
func ClaimEvent(ctx context.Context, s Store, eventID string, ttl time.Duration) (first bool, err error) {
	if eventID == "" {
		return false, fmt.Errorf("%w: empty event id", ErrInvalidKey)
	}
	_, err = s.Create(ctx, EventKey(eventID), newEventRecord(eventID, ttl))
	switch {
	case errors.Is(err, ErrAlreadyExists):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// ClaimEventTx is ClaimEvent inside a transaction: it reads the ledger entry and, if there is
// none, creates it in tx. The claim commits together with the transaction's other writes, so
// "claim and apply the effect" is all or nothing: exactly-once for effects that are store writes.
// When first is false the caller should write nothing and return nil (the event was handled).
// ClaimEventTx reads, then writes: call it after the transaction's other reads and before its
// other writes (a Firestore transaction does all its reads before any write).
func ClaimEventTx(tx Tx, eventID string, ttl time.Duration) (first bool, err error) {
	if eventID == "" {
		return false, fmt.Errorf("%w: empty event id", ErrInvalidKey)
	}
	k := EventKey(eventID)
	var rec EventRecord
	_, err = tx.Get(k, &rec)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, ErrNotFound):
		return false, err
	}
	if err := tx.Create(k, newEventRecord(eventID, ttl)); err != nil {
		return false, err
	}
	return true, nil
}
