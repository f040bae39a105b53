package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runyard/runyard/shared/store"
)

// Stripe event types that change an account.
const (
	EventSubscriptionCreated = "customer.subscription.created"
	EventSubscriptionUpdated = "customer.subscription.updated"
	EventSubscriptionDeleted = "customer.subscription.deleted"
	EventInvoicePaid         = "invoice.paid"
	EventInvoicePaymentFail  = "invoice.payment_failed"
)

// HandledEvents lists the event types Apply acts on; others are acknowledged and ignored.
var HandledEvents = []string{EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted,
	EventInvoicePaid, EventInvoicePaymentFail}

// Event is what a verified Stripe webhook event says about a customer.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// Customer is the customer the object belongs to.
	Customer string
	// Object is the subscription's or invoice's id.
	Object string
	// Status is a subscription's status (subscription events).
	Status string
	// Subscription is an invoice's subscription (invoice events; may be empty).
	Subscription string
}

// Outcome is what Apply did with an event.
type Outcome string

// Outcomes.
const (
	// OutcomeApplied: the account changed.
	OutcomeApplied Outcome = "applied"
	// OutcomeStale: the account already reflects a newer event; nothing changed.
	OutcomeStale Outcome = "stale"
	// OutcomeIgnored: an event type not handled, or a customer no tenant has.
	OutcomeIgnored Outcome = "ignored"
	// OutcomeDuplicate: Stripe delivered the event again (a new signature); it was handled.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeReplayed: the very same signed delivery came again (same event id and
	// signature time): a replay, rejected.
	OutcomeReplayed Outcome = "replayed"
)

// ledgerEntry is the event's entry in the idempotency ledger (events/stripe-{id}): the
// fields of store.EventRecord plus the signature time of the delivery that was applied.
type ledgerEntry struct {
	EventID     string    `firestore:"event_id"`
	ProcessedAt time.Time `firestore:"processed_at"`
	ExpireAt    time.Time `firestore:"expire_at,omitempty"`
	SignedAt    time.Time `firestore:"signed_at"`
	Tenant      string    `firestore:"tenant,omitempty"`
	Outcome     string    `firestore:"outcome"`
}

// LedgerID is the ledger id of a Stripe event id.
func LedgerID(eventID string) string { return "stripe-" + eventID }

// Apply records a verified event: in one transaction it claims the event id in the ledger
// (for ttl), finds the customer's tenant, and updates the tenant's account unless it already
// reflects a newer event (events carry their creation time; Stripe does not deliver in
// order). signedAt is the delivery's signature time: the same event id again with the same
// signature time is a replay (OutcomeReplayed), with a new one a redelivery by Stripe
// (OutcomeDuplicate); neither changes anything.
func (s *Service) Apply(ctx context.Context, ev Event, signedAt time.Time, ttl time.Duration) (Outcome, string, error) {
	if ev.ID == "" {
		return "", "", fmt.Errorf("%w: event without an id", ErrInvalid)
	}
	now := s.o.Now()
	var out Outcome
	var tenant string
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		out, tenant = "", ""
		lk := store.EventKey(LedgerID(ev.ID))
		var prev ledgerEntry
		_, err := tx.Get(lk, &prev)
		switch {
		case err == nil:
			out, tenant = OutcomeDuplicate, prev.Tenant
			if prev.SignedAt.Equal(signedAt) {
				out = OutcomeReplayed
			}
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		var a Account
		out = OutcomeIgnored
		if handled(ev.Type) && ev.Customer != "" {
			var link CustomerLink
			_, err := tx.Get(CustomerKey(ev.Customer), &link)
			switch {
			case err == nil:
				tenant = link.Tenant
				if a, err = accountTx(tx, tenant); err != nil {
					return err
				}
				out = apply(&a, ev)
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey):
			default:
				return err
			}
		}
		entry := ledgerEntry{EventID: ev.ID, ProcessedAt: now, SignedAt: signedAt.UTC(), Tenant: tenant, Outcome: string(out)}
		if ttl > 0 {
			entry.ExpireAt = now.Add(ttl)
		}
		if err := tx.Create(lk, entry); err != nil {
			return err
		}
		if out == OutcomeApplied {
			a.UpdatedAt = now
			return tx.Put(AccountKey(tenant), a)
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("billing: apply event %s: %w", ev.ID, err)
	}
	return out, tenant, nil
}

func handled(t string) bool {
	for _, h := range HandledEvents {
		if h == t {
			return true
		}
	}
	return false
}

// apply changes a by ev, unless a already reflects a newer event.
func apply(a *Account, ev Event) Outcome {
	switch ev.Type {
	case EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted:
		if ev.Created.Before(a.StatusAt) {
			return OutcomeStale
		}
		status := ev.Status
		if ev.Type == EventSubscriptionDeleted {
			status = StatusCanceled
		}
		if !ValidStatus(status) {
			return OutcomeIgnored
		}
		// The end of another subscription than the current one (a tenant that resubscribed)
		// does not touch the current one.
		if a.Subscription != "" && a.Subscription != ev.Object && ended(status) && !ended(a.Status) {
			return OutcomeStale
		}
		a.Subscription, a.Status, a.StatusAt = ev.Object, status, ev.Created.UTC()
		return OutcomeApplied
	case EventInvoicePaid, EventInvoicePaymentFail:
		if ev.Created.Before(a.InvoiceAt) {
			return OutcomeStale
		}
		a.Invoice, a.InvoiceAt = ev.Object, ev.Created.UTC()
		a.InvoiceStatus = InvoicePaid
		if ev.Type == EventInvoicePaymentFail {
			a.InvoiceStatus = InvoicePaymentFailed
		}
		return OutcomeApplied
	}
	return OutcomeIgnored
}

// ended reports whether a subscription in status s is over.
func ended(s string) bool { return s == StatusCanceled || s == StatusIncompleteExpired }
