// Package billing is the domain of a tenant's billing: its Stripe customer and subscription,
// the subscription's status as Stripe's webhooks report it, its monthly budget, the unit
// prices that turn recorded usage into spend, and the gate that keeps a tenant that is past
// due or over budget from starting runtimes.
//
// The account lives at tenants/{tenant}/billing/account (not in the tenant document, which
// tenancy rewrites whole), and customers/{customer} maps a Stripe customer back to its tenant
// for the webhooks; both are written in one transaction and deleted with the tenant.
//
// Stripe itself is behind the Provider port (adapter: shared/billing/stripe). Without a
// provider billing is off (the local default): checkout and portal answer ErrDisabled, while
// budgets still hold, from recorded usage.
package billing

import (
	"errors"
	"slices"
	"time"

	"github.com/runyard/runyard/shared/store"
)

// Where billing keeps its documents.
const (
	// KindBilling is the collection under tenants/{tenant} holding the account document.
	KindBilling = "billing"
	// AccountID is the id of the one document in it.
	AccountID = "account"
)

// Errors the edges map to answers.
var (
	// ErrPaymentRequired: the tenant's subscription is past due, unpaid or (with billing on)
	// canceled, or its last invoice's payment failed (402 payment_required).
	ErrPaymentRequired = errors.New("billing: payment required")
	// ErrBudgetExceeded: the tenant's spend this calendar month (UTC) has reached its monthly
	// budget (429 budget_exceeded).
	ErrBudgetExceeded = errors.New("billing: monthly budget exceeded")
	// ErrDisabled: billing is off (no Stripe key configured).
	ErrDisabled = errors.New("billing: billing is disabled")
	// ErrInvalid: a bad argument (budget, URL).
	ErrInvalid = errors.New("billing: invalid argument")
	// ErrUnavailable: Stripe failed or timed out; retrying may help.
	ErrUnavailable = errors.New("billing: provider unavailable")
	// ErrRejected: Stripe refused the request (a configuration problem, e.g. an unknown
	// price); retrying does not help.
	ErrRejected = errors.New("billing: provider rejected the request")
)

// Subscription statuses, as Stripe names them.
const (
	StatusActive            = "active"
	StatusTrialing          = "trialing"
	StatusPastDue           = "past_due"
	StatusUnpaid            = "unpaid"
	StatusCanceled          = "canceled"
	StatusIncomplete        = "incomplete"
	StatusIncompleteExpired = "incomplete_expired"
	StatusPaused            = "paused"
)

// Statuses lists every subscription status Stripe sends.
var Statuses = []string{StatusActive, StatusTrialing, StatusPastDue, StatusUnpaid, StatusCanceled, StatusIncomplete,
	StatusIncompleteExpired, StatusPaused}

// Invoice outcomes recorded from invoice.paid and invoice.payment_failed.
const (
	InvoicePaid          = "paid"
	InvoicePaymentFailed = "payment_failed"
)

// Account is the document tenants/{tenant}/billing/account.
type Account struct {
	Tenant string `firestore:"tenant" json:"tenant"`
	// Customer is the tenant's Stripe customer ("" until first needed).
	Customer string `firestore:"customer" json:"customer,omitempty"`
	// Subscription and Status are the tenant's current subscription and its Stripe status
	// ("" when it never subscribed).
	Subscription string `firestore:"subscription" json:"subscription,omitempty"`
	Status       string `firestore:"status" json:"status,omitempty"`
	// StatusAt is the creation time of the Stripe event that set Status: an older event
	// arriving later never overwrites a newer one.
	StatusAt time.Time `firestore:"status_at" json:"status_at,omitzero"`
	// Invoice and InvoiceStatus are the last invoice event (paid or payment_failed), and
	// InvoiceAt its event's creation time.
	Invoice       string    `firestore:"invoice" json:"invoice,omitempty"`
	InvoiceStatus string    `firestore:"invoice_status" json:"invoice_status,omitempty"`
	InvoiceAt     time.Time `firestore:"invoice_at" json:"invoice_at,omitzero"`
	// BudgetMicroUSD is the monthly budget in millionths of a US dollar; nil means none.
	BudgetMicroUSD *int64    `firestore:"budget_micro_usd" json:"-"`
	UpdatedAt      time.Time `firestore:"updated_at" json:"updated_at,omitzero"`
}

// CustomerLink is the document customers/{customer}: which tenant a Stripe customer is.
type CustomerLink struct {
	Customer  string    `firestore:"customer"`
	Tenant    string    `firestore:"tenant"`
	CreatedAt time.Time `firestore:"created_at"`
}

// AccountKey is where tenant's account lives.
func AccountKey(tenant string) store.Key {
	return store.Key{Tenant: tenant, Kind: KindBilling, ID: AccountID}
}

// CustomerKey is the link of a Stripe customer to its tenant.
func CustomerKey(customer string) store.Key {
	return store.Key{Kind: store.KindCustomers, ID: customer}
}

// PaymentProblem says why the account may not start runtimes for lack of payment, or "" when
// it may. enabled is whether billing is on: a canceled or expired subscription blocks only
// then (with billing off nothing can be paid, and only webhooks set a status anyway).
func (a Account) PaymentProblem(enabled bool) string {
	switch {
	case a.Status == StatusPastDue:
		return "the subscription is past due"
	case a.Status == StatusUnpaid:
		return "the subscription is unpaid"
	case a.InvoiceStatus == InvoicePaymentFailed:
		return "the payment of invoice " + a.Invoice + " failed"
	case enabled && (a.Status == StatusCanceled || a.Status == StatusIncompleteExpired):
		return "the subscription is " + a.Status
	}
	return ""
}

// ValidStatus reports whether s is a Stripe subscription status.
func ValidStatus(s string) bool { return slices.Contains(Statuses, s) }
