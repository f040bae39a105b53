package billing

import "context"

// Provider is the port to the payment provider (Stripe; adapter shared/billing/stripe).
// Errors wrap ErrUnavailable (retry may help) or ErrRejected (it will not).
type Provider interface {
	// CreateCustomer creates a customer. Requests with the same IdempotencyKey create one
	// customer: a second call returns the first one's id.
	CreateCustomer(ctx context.Context, req CustomerRequest) (id string, err error)
	// CheckoutSession starts a subscription Checkout session and returns its URL.
	CheckoutSession(ctx context.Context, req CheckoutRequest) (Session, error)
	// PortalSession starts a Billing Portal session and returns its URL.
	PortalSession(ctx context.Context, req PortalRequest) (Session, error)
}

// CustomerRequest asks for a customer of a tenant.
type CustomerRequest struct {
	Tenant         string
	Name           string
	Email          string
	IdempotencyKey string
}

// CheckoutRequest asks for a subscription Checkout session of a customer.
type CheckoutRequest struct {
	Tenant     string
	Customer   string
	SuccessURL string
	CancelURL  string
}

// PortalRequest asks for a Billing Portal session of a customer.
type PortalRequest struct {
	Customer  string
	ReturnURL string
}

// Session is a hosted Stripe page to send the user to.
type Session struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}
