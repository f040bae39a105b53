// Package firestore is the Cloud Firestore adapter of the store port (shared/store), over
// cloud.google.com/go/firestore. Values are encoded by the client's own struct encoding
// (`firestore:"…"` tags); a document's Version is its update time.
//
// The client connects to the emulator by itself when FIRESTORE_EMULATOR_HOST is set.
package firestore

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/store"
)

// DefaultMaxAttempts is how many times RunTransaction (and a conditional Put) tries a
// transaction that aborts on contention before it gives up with store.ErrConflict. It is larger
// than the client's default (5) because contended transactions on one document queue on locks.
const DefaultMaxAttempts = 20

// Config selects the database.
type Config struct {
	// ProjectID is the Google Cloud project (any id when the emulator is used).
	ProjectID string
	// DatabaseID is the Firestore database; empty means "(default)".
	DatabaseID string
	// MaxAttempts caps the attempts of one transaction; 0 means DefaultMaxAttempts.
	MaxAttempts int
}

// Store implements store.Store over a Firestore client.
type Store struct {
	c           *firestore.Client
	maxAttempts int
}

var _ store.Store = (*Store)(nil)

// New connects to the "(default)" database of projectID.
func New(ctx context.Context, projectID string, opts ...option.ClientOption) (*Store, error) {
	return NewWithConfig(ctx, Config{ProjectID: projectID}, opts...)
}

// Or returns st when it is set (tests, runyard dev), else a Store over Firestore for cfg: the
// store default of every function.
func Or(ctx context.Context, st store.Store, cfg Config) (store.Store, error) {
	if st != nil {
		return st, nil
	}
	fs, err := NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return fs, nil
}

// NewWithConfig connects to the database cfg names.
func NewWithConfig(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Store, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("firestore: project id is required")
	}
	db := cfg.DatabaseID
	if db == "" {
		db = firestore.DefaultDatabaseID
	}
	c, err := firestore.NewClientWithDatabase(ctx, cfg.ProjectID, db, opts...)
	if err != nil {
		return nil, fmt.Errorf("firestore.NewClientWithDatabase: %w", err)
	}
	return NewFromClient(c, cfg.MaxAttempts), nil
}

// NewFromClient wraps an existing client; maxAttempts 0 means DefaultMaxAttempts. Close closes
// the client.
func NewFromClient(c *firestore.Client, maxAttempts int) *Store {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	return &Store{c: c, maxAttempts: maxAttempts}
}

// Client returns the underlying client (for admin tasks and tests, not for domain code).
func (s *Store) Client() *firestore.Client { return s.c }

// Close releases the client.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("firestore.Client.Close: %w", err)
	}
	return nil
}

// ref returns the document reference of a validated key.
func (s *Store) ref(k store.Key) (*firestore.DocumentRef, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return s.c.Doc(k.String()), nil
}

// Get reads the document at k into dst.
func (s *Store) Get(ctx context.Context, k store.Key, dst any) (store.Version, error) {
	ref, err := s.ref(k)
	if err != nil {
		return store.Version{}, err
	}
	snap, err := ref.Get(ctx)
	if err != nil {
		return store.Version{}, wrap("firestore.DocumentRef.Get", k, err)
	}
	if err := snap.DataTo(dst); err != nil {
		return store.Version{}, fmt.Errorf("firestore.DocumentSnapshot.DataTo %s: %w", k, err)
	}
	return store.NewVersion(snap.UpdateTime), nil
}

// Create writes v at k unless a document is there (store.ErrAlreadyExists).
func (s *Store) Create(ctx context.Context, k store.Key, v any) (store.Version, error) {
	ref, err := s.ref(k)
	if err != nil {
		return store.Version{}, err
	}
	wr, err := ref.Create(ctx, v)
	if err != nil {
		return store.Version{}, wrap("firestore.DocumentRef.Create", k, err)
	}
	return store.NewVersion(wr.UpdateTime), nil
}

// Put replaces the document at k with v. A non-zero ifVersion makes the write conditional.
//
// Firestore has the right precondition (update_time on a full-document write), but the Go
// client's Set takes no precondition, and Update merges fields instead of replacing the
// document. So a conditional Put is a transaction: read the document, compare its update time
// with ifVersion (store.ErrNotFound if it is gone, store.ErrConflict if it moved on), Set, and
// take the new update time from the commit response. The read puts the document in the
// transaction's read set, so a write by anyone else between the read and the commit makes the
// commit abort (or wait for it); the retry then sees the new update time and reports
// store.ErrConflict. Being a transaction, a conditional Put cannot run inside RunTransaction.
func (s *Store) Put(ctx context.Context, k store.Key, v any, ifVersion store.Version) (store.Version, error) {
	ref, err := s.ref(k)
	if err != nil {
		return store.Version{}, err
	}
	if ifVersion.IsZero() {
		wr, err := ref.Set(ctx, v)
		if err != nil {
			return store.Version{}, wrap("firestore.DocumentRef.Set", k, err)
		}
		return store.NewVersion(wr.UpdateTime), nil
	}
	var resp firestore.CommitResponse
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := checkVersion(tx, ref, k, ifVersion); err != nil {
			return err
		}
		return tx.Set(ref, v)
	}, firestore.MaxAttempts(s.maxAttempts), firestore.WithCommitResponseTo(&resp))
	if err != nil {
		return store.Version{}, txError("firestore.Client.RunTransaction", k, err)
	}
	wrs, err := resp.WriteResults()
	if err != nil {
		return store.Version{}, fmt.Errorf("firestore.CommitResponse.WriteResults %s: %w", k, err)
	}
	if len(wrs) != 1 {
		return store.Version{}, fmt.Errorf("firestore.CommitResponse.WriteResults %s: %d results, want 1", k, len(wrs))
	}
	return store.NewVersion(wrs[0].UpdateTime), nil
}

// Delete removes the document at k; with a non-zero ifVersion only at that update time.
//
// A conditional Delete is a transaction like a conditional Put, not a delete with an update-time
// precondition: that precondition answers differently for a missing document and for a version
// newer than the stored one (the emulator refuses the latter as InvalidArgument), while the
// transaction gives store.ErrNotFound and store.ErrConflict exactly as Put does.
func (s *Store) Delete(ctx context.Context, k store.Key, ifVersion store.Version) error {
	ref, err := s.ref(k)
	if err != nil {
		return err
	}
	if ifVersion.IsZero() {
		if _, err := ref.Delete(ctx); err != nil {
			return wrap("firestore.DocumentRef.Delete", k, err)
		}
		return nil
	}
	err = s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := checkVersion(tx, ref, k, ifVersion); err != nil {
			return err
		}
		return tx.Delete(ref)
	}, firestore.MaxAttempts(s.maxAttempts))
	if err != nil {
		return txError("firestore.Client.RunTransaction", k, err)
	}
	return nil
}

// checkVersion reads ref in tx and fails unless it exists at ifVersion. The read adds the
// document to the transaction's read set, so the commit fails if anyone writes it before.
func checkVersion(tx *firestore.Transaction, ref *firestore.DocumentRef, k store.Key, ifVersion store.Version) error {
	snap, err := tx.Get(ref)
	if err != nil {
		return txFnError{wrap("firestore.Transaction.Get", k, err)}
	}
	if !snap.UpdateTime.Equal(ifVersion.Time()) {
		return txFnError{fmt.Errorf("%w: %s is at another version", store.ErrConflict, k)}
	}
	return nil
}

// wrap maps a gRPC error of an operation on k to the store's sentinels, keeping the original
// error in the chain too.
func wrap(op string, k store.Key, err error) error {
	if sentinel := sentinelOf(err); sentinel != nil {
		return fmt.Errorf("%s %s: %w: %w", op, k, sentinel, err)
	}
	return fmt.Errorf("%s %s: %w", op, k, err)
}

// sentinelOf returns the store sentinel for a gRPC status, or nil.
func sentinelOf(err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return store.ErrNotFound
	case codes.AlreadyExists:
		return store.ErrAlreadyExists
	case codes.FailedPrecondition:
		// Single writes carry no precondition but Create's "must not exist" (AlreadyExists);
		// a failed update-time precondition reads FailedPrecondition.
		return store.ErrConflict
	case codes.Aborted:
		// Only reaches here after the client's transaction retries ran out.
		return store.ErrConflict
	}
	return nil
}
