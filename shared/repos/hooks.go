package repos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/store"
)

// Hooks is the webhook side of connections: it finds a connection and its signing secret and
// records the deliveries and pushes it handles. It authorizes nobody: the githubhook function
// authenticates each delivery by its signature before calling BeginPush.
type Hooks struct {
	store   store.Store
	secrets secrets.Manager
	// ledgerTTL is how long a delivery id is remembered (the events ledger's expire_at).
	ledgerTTL time.Duration
	// staleAfter is when an accepted push whose prebuild never finished may be retried.
	staleAfter time.Duration
	now        func() time.Time
}

// Defaults of Hooks.
const (
	DefaultLedgerTTL  = 30 * 24 * time.Hour
	DefaultStaleAfter = 10 * time.Minute
)

// NewHooks returns Hooks remembering delivery ids for ledgerTTL (DefaultLedgerTTL when 0).
func NewHooks(st store.Store, sec secrets.Manager, ledgerTTL time.Duration) (*Hooks, error) {
	if st == nil || sec == nil {
		return nil, errors.New("repos.NewHooks: store and secrets are required")
	}
	if ledgerTTL <= 0 {
		ledgerTTL = DefaultLedgerTTL
	}
	return &Hooks{store: st, secrets: sec, ledgerTTL: ledgerTTL, staleAfter: DefaultStaleAfter,
		now: now}, nil
}

// Lookup returns connection id of tenant and its signing secret. A malformed or unknown
// tenant or id, and a connection whose secret is gone (a disconnect half done), are all
// ErrNotFound alike, so the answer never tells whether the tenant exists.
func (h *Hooks) Lookup(ctx context.Context, tenant, id string) (Repo, []byte, error) {
	r, err := getRepo(ctx, h.store, tenant, id)
	if err != nil {
		return Repo{}, nil, err
	}
	secret, err := h.secrets.Access(ctx, tenant, r.HookSecretRef, secrets.Latest)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return Repo{}, nil, ErrNotFound
	case err != nil:
		return Repo{}, nil, backendError("lookup", err)
	}
	return r, secret, nil
}

// Begin is what BeginPush decided.
type Begin int

// BeginPush outcomes.
const (
	// BeginNew: the delivery and the commit are new; start the prebuild, then FinishPush.
	BeginNew Begin = iota
	// BeginDuplicateDelivery: this delivery id was handled already; nothing was written.
	BeginDuplicateDelivery
	// BeginDuplicateCommit: a new delivery of a commit already handled for this connection
	// (a replayed body with a fresh delivery id, or a push of an old commit); only the delivery
	// id was recorded.
	BeginDuplicateCommit
)

// PushRequest is a verified push to a connection's default branch.
type PushRequest struct {
	Tenant   string
	Repo     Repo
	Delivery string
	Ref      string
	Commit   string
	Actor    string
}

// ledgerID is the idempotency ledger's event id of a delivery: namespaced by tenant and
// connection, so no delivery id of one connection can shadow another's.
func ledgerID(tenant, repo, delivery string) string {
	return "githubhook/" + tenant + "/" + repo + "/" + delivery
}

// BeginPush claims the delivery (store.ClaimEventTx) and writes the push record
// (PushAccepted) in one transaction, so a delivery is handled once however often it arrives.
// A push record of the same commit that failed, or that was accepted but never finished within
// the stale period, is taken over; any other is BeginDuplicateCommit.
func (h *Hooks) BeginPush(ctx context.Context, pr PushRequest) (Push, Begin, error) {
	if pr.Delivery == "" || !ValidID(pr.Repo.ID) {
		return Push{}, 0, fmt.Errorf("repos: begin push: %w", store.ErrInvalidKey)
	}
	now := h.now()
	p := Push{ID: PushID(pr.Repo.ID, pr.Commit), Repo: pr.Repo.ID, RepoURL: pr.Repo.RepoURL, Ref: pr.Ref, Commit: pr.Commit,
		Delivery: pr.Delivery, Actor: pr.Actor, Status: PushAccepted, ReceivedAt: now, UpdatedAt: now}
	var outcome Begin
	err := h.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		var r Repo
		if _, err := tx.Get(store.Key{Tenant: pr.Tenant, Kind: KindRepos, ID: pr.Repo.ID}, &r); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		pk := store.Key{Tenant: pr.Tenant, Kind: KindPushes, ID: p.ID}
		var prev Push
		_, err := tx.Get(pk, &prev)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		first, err := store.ClaimEventTx(tx, ledgerID(pr.Tenant, pr.Repo.ID, pr.Delivery), h.ledgerTTL)
		if err != nil {
			return err
		}
		if !first {
			outcome = BeginDuplicateDelivery
			return nil
		}
		retry := prev.Status == PushFailed || (prev.Status == PushAccepted && now.Sub(prev.UpdatedAt) > h.staleAfter)
		if exists && !retry {
			outcome, p = BeginDuplicateCommit, prev
			return nil
		}
		outcome = BeginNew
		return tx.Put(pk, p)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Push{}, 0, err
		}
		return Push{}, 0, fmt.Errorf("repos: begin push: %w", err)
	}
	return p, outcome, nil
}

// maxPushError bounds the error text kept on a failed push.
const maxPushError = 200

// FinishPush records the prebuild's outcome on p. On failure (prebuildErr not nil) the push is
// PushFailed and the delivery id is released from the ledger, so GitHub's "Redeliver" (or
// another push of the commit) tries again.
func (h *Hooks) FinishPush(ctx context.Context, tenant string, p Push, buildID string, cached bool, prebuildErr error) error {
	now := h.now()
	err := h.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		pk := store.Key{Tenant: tenant, Kind: KindPushes, ID: p.ID}
		var cur Push
		if _, err := tx.Get(pk, &cur); err != nil {
			return err
		}
		if cur.Delivery != p.Delivery {
			return nil // another delivery took the push over; its outcome wins
		}
		cur.UpdatedAt = now
		if prebuildErr != nil {
			msg := prebuildErr.Error()
			if len(msg) > maxPushError {
				msg = msg[:maxPushError]
			}
			cur.Status, cur.Error = PushFailed, msg
			if err := tx.Delete(store.EventKey(ledgerID(tenant, p.Repo, p.Delivery))); err != nil {
				return err
			}
		} else {
			cur.Status, cur.BuildID, cur.Cached, cur.Error = PushStarted, buildID, cached, ""
		}
		return tx.Put(pk, cur)
	})
	if err != nil {
		return fmt.Errorf("repos: finish push: %w", err)
	}
	return nil
}

// GetPush reads a push record (for tests and operators).
func (h *Hooks) GetPush(ctx context.Context, tenant, id string) (Push, error) {
	var p Push
	if _, err := h.store.Get(ctx, store.Key{Tenant: tenant, Kind: KindPushes, ID: id}, &p); err != nil {
		if errorIs(err, store.ErrNotFound, store.ErrInvalidKey) {
			return Push{}, ErrNotFound
		}
		return Push{}, fmt.Errorf("repos: get push: %w", err)
	}
	return p, nil
}
