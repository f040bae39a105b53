package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/usage"
)

// Error codes of billing.
const (
	CodeBillingDisabled = "billing_disabled"
	CodeBillingRejected = "billing_rejected"
)

// billingError maps billing errors to answers.
func billingError(err error) error {
	switch {
	case errors.Is(err, billing.ErrDisabled):
		return httpx.Errorf(http.StatusNotImplemented, CodeBillingDisabled, "billing is not enabled on this deployment")
	case errors.Is(err, billing.ErrInvalid):
		return httpx.BadRequest(httpx.CodeInvalidArgument, "%s", detail(err, billing.ErrInvalid))
	case errors.Is(err, billing.ErrRejected):
		return httpx.Errorf(http.StatusBadGateway, CodeBillingRejected, "the payment provider refused the request; the operator must fix the billing configuration").WithCause(err)
	case errors.Is(err, billing.ErrUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "the payment provider is unavailable; retry").WithCause(err)
	case errors.Is(err, usage.ErrInvalid):
		return httpx.BadRequest(httpx.CodeInvalidArgument, "%s", detail(err, usage.ErrInvalid))
	}
	return err
}

// BudgetRequest is the body of PUT /v1/tenants/{t}/budget: monthly_usd, a non-negative amount
// with at most six decimals, or null for no budget.
type BudgetRequest struct {
	MonthlyUSD json.RawMessage `json:"monthly_usd"`
}

// BudgetAnswer is a tenant's budget.
type BudgetAnswer struct {
	MonthlyUSD *float64 `json:"monthly_usd"`
}

func budgetUSD(a billing.Account) *float64 {
	if a.BudgetMicroUSD == nil {
		return nil
	}
	v := billing.MicroUSD(*a.BudgetMicroUSD).USD()
	return &v
}

func (s *Server) handlePutBudget(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActBudgetWrite, "billing/budget"); err != nil {
		return err
	}
	var req BudgetRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	raw := bytes.TrimSpace(req.MonthlyUSD)
	var budget *billing.MicroUSD
	switch {
	case len(raw) == 0:
		return httpx.BadRequest(httpx.CodeInvalidArgument, "monthly_usd is required (a number of US dollars, or null for no budget)")
	case string(raw) == "null":
	default:
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		// json.Number also takes a quoted number: only a bare JSON number is a budget.
		if err := dec.Decode(&n); err != nil || raw[0] == '"' {
			return httpx.BadRequest(httpx.CodeInvalidArgument, "monthly_usd must be a number of US dollars, or null")
		}
		m, err := billing.ParseMicroUSD(n.String())
		if err != nil {
			return httpx.BadRequest(httpx.CodeInvalidArgument, "monthly_usd must be 0 to 1000000000 US dollars with at most six decimals")
		}
		budget = &m
	}
	a, err := s.billing.SetBudget(r.Context(), c, t, budget)
	if err != nil {
		return billingError(err)
	}
	httpx.JSON(w, r, http.StatusOK, BudgetAnswer{MonthlyUSD: budgetUSD(a)})
	return nil
}

// UsageAnswer is GET /v1/tenants/{t}/usage: the tenant's usage over [from, to) by meter and
// UTC day with its cost, this calendar month's spend and the budget.
type UsageAnswer struct {
	usage.Totals
	// SpendUSD is what the range's usage costs at the unit prices.
	SpendUSD float64 `json:"spend_usd"`
	// PricesUSD are the unit prices, per meter.
	PricesUSD map[string]float64 `json:"prices_usd"`
	// MonthToDateUSD is the spend since the first of this month (UTC).
	MonthToDateUSD float64 `json:"month_to_date_usd"`
	// BudgetUSD is the monthly budget (null: none); BudgetExceeded says whether starts are
	// refused for it.
	BudgetUSD      *float64      `json:"budget_usd"`
	BudgetExceeded bool          `json:"budget_exceeded"`
	Billing        BillingStatus `json:"billing"`
}

// BillingStatus is the tenant's billing state as Stripe last reported it.
type BillingStatus struct {
	Enabled      bool   `json:"enabled"`
	Subscription string `json:"subscription,omitempty"`
	Status       string `json:"status,omitempty"`
	// PaymentProblem says why runtimes cannot start for lack of payment ("" when they can).
	PaymentProblem string `json:"payment_problem,omitempty"`
}

// maxTimeParam bounds from and to.
const maxTimeParam = 64

// timeParam reads a query time: RFC 3339, or a UTC day (2006-01-02).
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	if len(v) <= maxTimeParam {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC(), nil
		}
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, httpx.BadRequest(httpx.CodeInvalidArgument, "%s must be an RFC 3339 time or a day (2006-01-02)", name)
}

func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActUsageRead, ""); err != nil {
		return err
	}
	now := s.now().UTC()
	from, err := timeParam(r, "from", billing.MonthStart(now))
	if err != nil {
		return err
	}
	to, err := timeParam(r, "to", now)
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return httpx.BadRequest(httpx.CodeInvalidArgument, "from must be before to")
	}
	ctx := r.Context()
	totals, err := s.usage.Totals(ctx, t, from, to)
	if err != nil {
		return billingError(err)
	}
	a, err := s.billing.Account(ctx, t)
	if err != nil {
		return err
	}
	mtd, err := s.billing.MonthToDate(ctx, t)
	if err != nil {
		return billingError(err)
	}
	prices := s.billing.Prices()
	ans := UsageAnswer{Totals: totals, PricesUSD: map[string]float64{}, MonthToDateUSD: mtd.USD(), BudgetUSD: budgetUSD(a),
		Billing: BillingStatus{Enabled: s.billing.Enabled(), Subscription: a.Subscription, Status: a.Status,
			PaymentProblem: a.PaymentProblem(s.billing.Enabled())}}
	units := map[string]float64{}
	for m, v := range totals.Meters {
		units[m] = float64(v)
	}
	ans.SpendUSD = prices.Spend(units).USD()
	for m, p := range prices {
		ans.PricesUSD[m] = float64(p) / 1e9
	}
	ans.BudgetExceeded = a.BudgetMicroUSD != nil && int64(mtd) >= *a.BudgetMicroUSD
	httpx.JSON(w, r, http.StatusOK, ans)
	return nil
}

// CheckoutRequest is the body of POST /v1/tenants/{t}/billing/checkout (may be empty): where
// Stripe sends the user back to, overriding the configured URLs.
type CheckoutRequest struct {
	SuccessURL string `json:"success_url"`
	CancelURL  string `json:"cancel_url"`
}

// PortalRequest is the body of POST /v1/tenants/{t}/billing/portal (may be empty).
type PortalRequest struct {
	ReturnURL string `json:"return_url"`
}

// decodeOptional decodes a JSON body that may be absent.
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return httpx.DecodeJSON(w, r, dst)
}

func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActBillingManage, "billing/checkout"); err != nil {
		return err
	}
	var req CheckoutRequest
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	sess, err := s.billing.Checkout(r.Context(), c, t, req.SuccessURL, req.CancelURL)
	if err != nil {
		return billingError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActBillingManage, "billing/checkout", tenancy.OutcomeSuccess, "checkout session "+sess.ID)
	httpx.JSON(w, r, http.StatusCreated, sess)
	return nil
}

func (s *Server) handlePortal(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, tenancy.ActBillingManage, "billing/portal"); err != nil {
		return err
	}
	var req PortalRequest
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	sess, err := s.billing.Portal(r.Context(), c, t, req.ReturnURL)
	if err != nil {
		return billingError(err)
	}
	s.tenancy.Audit(r.Context(), c, t, tenancy.ActBillingManage, "billing/portal", tenancy.OutcomeSuccess, "portal session "+sess.ID)
	httpx.JSON(w, r, http.StatusCreated, sess)
	return nil
}
