package firestore

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/store"
)

// RunTransaction runs fn in a Firestore read-write transaction, retrying it (up to the
// configured attempts) when the commit aborts on contention; when the attempts run out it
// returns store.ErrConflict. An error returned by fn rolls the transaction back and is returned
// exactly as fn returned it. A commit that fails because a document fn created exists returns
// store.ErrAlreadyExists. fn must not start another transaction.
func (s *Store) RunTransaction(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	err := s.c.RunTransaction(ctx, func(ctx context.Context, ftx *firestore.Transaction) error {
		if err := fn(ctx, &tx{s: s, tx: ftx}); err != nil {
			return txFnError{err}
		}
		return nil
	}, firestore.MaxAttempts(s.maxAttempts))
	if err != nil {
		return txError("firestore.Client.RunTransaction", store.Key{}, err)
	}
	return nil
}

// txFnError marks an error returned by a transaction function, so that RunTransaction can tell
// it from the client's own errors and hand it back untouched. It unwraps, so the client still
// retries when the function passed on an Aborted status.
type txFnError struct{ err error }

func (e txFnError) Error() string { return e.err.Error() }
func (e txFnError) Unwrap() error { return e.err }

// txError maps the error of a finished transaction: Aborted (attempts ran out) becomes
// store.ErrConflict, a function's error comes back as it was, other errors (from BeginTransaction
// or Commit) are mapped like single writes.
func txError(op string, k store.Key, err error) error {
	if status.Code(err) == codes.Aborted {
		return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
	}
	var fe txFnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if k == (store.Key{}) {
		if sentinel := sentinelOf(err); sentinel != nil {
			return fmt.Errorf("%s: %w: %w", op, sentinel, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return wrap(op, k, err)
}

// tx implements store.Tx over a Firestore transaction.
type tx struct {
	s  *Store
	tx *firestore.Transaction
}

// Get reads the document at k into dst; store.ErrNotFound if it does not exist.
func (t *tx) Get(k store.Key, dst any) (store.Version, error) {
	ref, err := t.s.ref(k)
	if err != nil {
		return store.Version{}, err
	}
	snap, err := t.tx.Get(ref)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return store.Version{}, fmt.Errorf("firestore.Transaction.Get %s: %w: %w", k, store.ErrNotFound, err)
		}
		// Not mapped: an Aborted status must reach the client unchanged so it retries.
		return store.Version{}, fmt.Errorf("firestore.Transaction.Get %s: %w", k, err)
	}
	if err := snap.DataTo(dst); err != nil {
		return store.Version{}, fmt.Errorf("firestore.DocumentSnapshot.DataTo %s: %w", k, err)
	}
	return store.NewVersion(snap.UpdateTime), nil
}

// Create adds v at k when the transaction commits; the commit fails with
// store.ErrAlreadyExists if a document is there.
func (t *tx) Create(k store.Key, v any) error {
	ref, err := t.s.ref(k)
	if err != nil {
		return err
	}
	if err := t.tx.Create(ref, v); err != nil {
		return fmt.Errorf("firestore.Transaction.Create %s: %w", k, err)
	}
	return nil
}

// Put replaces the document at k with v when the transaction commits.
func (t *tx) Put(k store.Key, v any) error {
	ref, err := t.s.ref(k)
	if err != nil {
		return err
	}
	if err := t.tx.Set(ref, v); err != nil {
		return fmt.Errorf("firestore.Transaction.Set %s: %w", k, err)
	}
	return nil
}

// Delete removes the document at k when the transaction commits.
func (t *tx) Delete(k store.Key) error {
	ref, err := t.s.ref(k)
	if err != nil {
		return err
	}
	if err := t.tx.Delete(ref); err != nil {
		return fmt.Errorf("firestore.Transaction.Delete %s: %w", k, err)
	}
	return nil
}
