package billing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// UsageTotals returns a tenant's recorded usage between from and to, per meter (in the
// meter's unit: seconds, minutes). shared/usage provides it.
type UsageTotals func(ctx context.Context, tenant string, from, to time.Time) (map[string]float64, error)

// Options configure a Service.
type Options struct {
	// Provider is Stripe; nil turns billing off (checkout and portal answer ErrDisabled).
	Provider Provider
	// Usage is where spend comes from; nil counts no usage (budgets never trip).
	Usage UsageTotals
	// Prices turn usage into spend (nil: the defaults).
	Prices Prices
	// SuccessURL, CancelURL and ReturnURL are where Stripe sends the user back to after
	// Checkout and the Billing Portal when the request names none.
	SuccessURL, CancelURL, ReturnURL string
	// Now is the clock (default time.Now in UTC).
	Now func() time.Time
}

// Service keeps tenants' billing accounts and enforces payment and budgets. It authorizes
// nobody: callers (the api) authorize the request first.
type Service struct {
	store store.Store
	o     Options
}

// NewService returns a Service over st.
func NewService(st store.Store, o Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("billing.NewService: a store is required")
	}
	if o.Prices == nil {
		p, err := DefaultPriceConfig.Prices()
		if err != nil {
			return nil, err
		}
		o.Prices = p
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{store: st, o: o}, nil
}

// Enabled reports whether billing is on (a provider is configured).
func (s *Service) Enabled() bool { return s.o.Provider != nil }

// Prices returns the unit prices.
func (s *Service) Prices() Prices { return s.o.Prices }

// Account returns the tenant's account; a tenant that never had one gets an empty account.
func (s *Service) Account(ctx context.Context, tenant string) (Account, error) {
	var a Account
	_, err := s.store.Get(ctx, AccountKey(tenant), &a)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Account{Tenant: tenant}, nil
	case err != nil:
		return Account{}, fmt.Errorf("billing: read account: %w", err)
	}
	return a, nil
}

// Check is the gate in front of starting runtimes: ErrPaymentRequired when the tenant is
// past due (or, with billing on, canceled), ErrBudgetExceeded when its spend this month has
// reached its budget, nil otherwise. Other errors mean the check could not be made.
func (s *Service) Check(ctx context.Context, tenant string) error {
	a, err := s.Account(ctx, tenant)
	if err != nil {
		return err
	}
	if why := a.PaymentProblem(s.Enabled()); why != "" {
		return fmt.Errorf("%w: %s", ErrPaymentRequired, why)
	}
	if a.BudgetMicroUSD == nil {
		return nil
	}
	spend, err := s.MonthToDate(ctx, tenant)
	if err != nil {
		return err
	}
	if budget := MicroUSD(*a.BudgetMicroUSD); spend >= budget {
		return fmt.Errorf("%w: spent $%.2f of the $%.2f budget this month", ErrBudgetExceeded, spend.USD(), budget.USD())
	}
	return nil
}

// MonthToDate is the tenant's spend since the start of this calendar month (UTC).
func (s *Service) MonthToDate(ctx context.Context, tenant string) (MicroUSD, error) {
	if s.o.Usage == nil {
		return 0, nil
	}
	now := s.o.Now()
	totals, err := s.o.Usage(ctx, tenant, MonthStart(now), now)
	if err != nil {
		return 0, fmt.Errorf("billing: usage totals: %w", err)
	}
	return s.o.Prices.Spend(totals), nil
}

// MaxBudgetMicroUSD bounds a budget: one billion US dollars.
const MaxBudgetMicroUSD = 1e9 * 1e6

// SetBudget sets (or, with nil, removes) the tenant's monthly budget and audits the change in
// the same transaction.
func (s *Service) SetBudget(ctx context.Context, c tenancy.Caller, tenant string, budget *MicroUSD) (Account, error) {
	if budget != nil && (*budget < 0 || *budget > MaxBudgetMicroUSD) {
		return Account{}, fmt.Errorf("%w: monthly_usd must be 0 to 1000000000", ErrInvalid)
	}
	now := s.o.Now()
	var out Account
	err := s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		a, err := accountTx(tx, tenant)
		if err != nil {
			return err
		}
		reason := "no budget"
		if budget == nil {
			a.BudgetMicroUSD = nil
		} else {
			v := int64(*budget)
			a.BudgetMicroUSD = &v
			reason = "monthly budget $" + strconv.FormatFloat(budget.USD(), 'f', -1, 64)
		}
		a.UpdatedAt = now
		if err := tx.Put(AccountKey(tenant), a); err != nil {
			return err
		}
		out = a
		return tenancy.AuditTx(tx, c, tenant, tenancy.ActBudgetWrite, "billing/budget", tenancy.OutcomeSuccess, reason, now)
	})
	if err != nil {
		return Account{}, fmt.Errorf("billing: set budget: %w", err)
	}
	return out, nil
}

// accountTx reads the account in tx; a missing one is a new empty account.
func accountTx(tx store.Tx, tenant string) (Account, error) {
	var a Account
	_, err := tx.Get(AccountKey(tenant), &a)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Account{Tenant: tenant}, nil
	case err != nil:
		return Account{}, err
	}
	return a, nil
}

// Customer returns the tenant's Stripe customer, creating it on first use. Two first uses at
// once create one customer: the provider call carries an idempotency key made of the tenant id
// and its creation time (so a tenant id taken again after a deletion gets a new customer), and
// the id is stored in a transaction that keeps whichever was stored first.
func (s *Service) Customer(ctx context.Context, tenant, email string) (string, error) {
	if s.o.Provider == nil {
		return "", ErrDisabled
	}
	a, err := s.Account(ctx, tenant)
	if err != nil {
		return "", err
	}
	if a.Customer != "" {
		return a.Customer, nil
	}
	var t tenancy.Tenant
	if _, err := s.store.Get(ctx, store.TenantKey(tenant), &t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", tenancy.ErrTenantNotFound
		}
		return "", fmt.Errorf("billing: read tenant: %w", err)
	}
	id, err := s.o.Provider.CreateCustomer(ctx, CustomerRequest{Tenant: tenant, Name: t.Name, Email: email,
		IdempotencyKey: CustomerIdempotencyKey(tenant, t.CreatedAt)})
	if err != nil {
		return "", err
	}
	now := s.o.Now()
	var stored string
	err = s.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		a, err := accountTx(tx, tenant)
		if err != nil {
			return err
		}
		var link CustomerLink
		_, lerr := tx.Get(CustomerKey(id), &link)
		if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
			return lerr
		}
		if a.Customer != "" {
			stored = a.Customer
			return nil
		}
		if lerr == nil && link.Tenant != tenant {
			return fmt.Errorf("billing: customer %s already belongs to another tenant", id)
		}
		a.Customer, a.UpdatedAt, stored = id, now, id
		if err := tx.Put(AccountKey(tenant), a); err != nil {
			return err
		}
		return tx.Put(CustomerKey(id), CustomerLink{Customer: id, Tenant: tenant, CreatedAt: now})
	})
	if err != nil {
		return "", fmt.Errorf("billing: store customer: %w", err)
	}
	return stored, nil
}

// CustomerIdempotencyKey is the provider idempotency key of the tenant's customer.
func CustomerIdempotencyKey(tenant string, created time.Time) string {
	return "runyard-customer-" + tenant + "-" + strconv.FormatInt(created.UnixNano(), 36)
}

// Checkout starts a subscription Checkout session for the tenant (creating its customer on
// first use); empty URLs take the configured ones.
func (s *Service) Checkout(ctx context.Context, c tenancy.Caller, tenant, successURL, cancelURL string) (Session, error) {
	if s.o.Provider == nil {
		return Session{}, ErrDisabled
	}
	successURL, cancelURL = or(successURL, s.o.SuccessURL), or(cancelURL, s.o.CancelURL)
	if err := checkURL("success_url", successURL); err != nil {
		return Session{}, err
	}
	if err := checkURL("cancel_url", cancelURL); err != nil {
		return Session{}, err
	}
	cus, err := s.Customer(ctx, tenant, c.Email)
	if err != nil {
		return Session{}, err
	}
	return s.o.Provider.CheckoutSession(ctx, CheckoutRequest{Tenant: tenant, Customer: cus, SuccessURL: successURL, CancelURL: cancelURL})
}

// Portal starts a Billing Portal session for the tenant (creating its customer on first use).
func (s *Service) Portal(ctx context.Context, c tenancy.Caller, tenant, returnURL string) (Session, error) {
	if s.o.Provider == nil {
		return Session{}, ErrDisabled
	}
	returnURL = or(returnURL, s.o.ReturnURL)
	if err := checkURL("return_url", returnURL); err != nil {
		return Session{}, err
	}
	cus, err := s.Customer(ctx, tenant, c.Email)
	if err != nil {
		return Session{}, err
	}
	return s.o.Provider.PortalSession(ctx, PortalRequest{Customer: cus, ReturnURL: returnURL})
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// maxURL bounds the URLs Stripe sends users back to.
const maxURL = 2048

// checkURL accepts an absolute https URL, or http on a loopback host (local development).
func checkURL(field, v string) error {
	if v == "" {
		return fmt.Errorf("%w: %s is required (none is configured)", ErrInvalid, field)
	}
	u, err := url.Parse(v)
	if len(v) > maxURL || err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %s must be an absolute https URL of at most %d characters", ErrInvalid, field, maxURL)
	}
	switch h := u.Hostname(); {
	case u.Scheme == "https":
	case u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1"):
	default:
		return fmt.Errorf("%w: %s must be an absolute https URL of at most %d characters", ErrInvalid, field, maxURL)
	}
	return nil
}

// CheckURL is checkURL for configuration: "" is allowed (no default).
func CheckURL(field, v string) error {
	if v == "" {
		return nil
	}
	return checkURL(field, v)
}
