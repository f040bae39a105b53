package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	stripe "github.com/stripe/stripe-go/v76"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/store"
	usagesvc "github.com/runyard/runyard/shared/usage"
)

// MessagePublishedType is the CloudEvent type Eventarc gives Pub/Sub messages.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// MeterEvents sends one meter event to Stripe (stripe-go's billing/meterevent client
// implements it).
type MeterEvents interface {
	New(params *stripe.BillingMeterEventParams) (*stripe.BillingMeterEvent, error)
}

// Customers finds a tenant's Stripe customer: "" when it has none yet (customers are created
// on the tenant's first checkout, see shared/billing).
type Customers interface {
	StripeCustomer(ctx context.Context, tenant string) (string, error)
}

// Periods is what the handler needs of the usage service.
type Periods interface {
	Get(ctx context.Context, tenant, id string) (usagesvc.Period, error)
	RecordOutcome(ctx context.Context, tenant, id string, o usagesvc.Outcome) (usagesvc.Period, error)
}

// Handler turns usage events into Stripe meter events.
type Handler struct {
	periods   Periods
	customers Customers
	meter     MeterEvents // nil: billing off
	log       *slog.Logger
}

// NewHandler returns a Handler. A nil meter turns billing off: periods are marked
// "billing_off" and acknowledged.
func NewHandler(periods Periods, customers Customers, meter MeterEvents, log *slog.Logger) (*Handler, error) {
	if periods == nil || customers == nil {
		return nil, errors.New("usage.NewHandler: periods and customers are required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Handler{periods: periods, customers: customers, meter: meter, log: log}, nil
}

// pubsubEnvelope is the data of a messagePublished CloudEvent.
type pubsubEnvelope struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
	} `json:"message"`
}

// Handle bills one closed period. It returns an error only when a retry can help (the store
// failed, Stripe was unreachable, rate limited or failed on its side), so Eventarc redelivers;
// anything malformed, unknown or permanently rejected is recorded or logged and acknowledged.
func (h *Handler) Handle(ctx context.Context, e event.Event) error {
	log := h.log.With("event_id", e.ID())
	ctx = logging.WithLogger(ctx, log)
	if e.Type() != MessagePublishedType {
		log.WarnContext(ctx, "ignoring event of unexpected type", "type", e.Type())
		return nil
	}
	var env pubsubEnvelope
	if err := json.Unmarshal(e.Data(), &env); err != nil {
		log.ErrorContext(ctx, "malformed messagePublished data; dropped", "error", err)
		return nil
	}
	ev, err := usagesvc.DecodeEvent(env.Message.Data)
	if err != nil {
		log.ErrorContext(ctx, "malformed usage event; dropped", "error", err)
		return nil
	}
	log = log.With("tenant", ev.Tenant, "period", ev.Period)
	ctx = logging.WithLogger(ctx, log)
	return h.bill(ctx, log, ev.Tenant, ev.Period)
}

// bill sends the period's meter events that Stripe has not accepted yet.
func (h *Handler) bill(ctx context.Context, log *slog.Logger, tenant, id string) error {
	// The period, not the message, is the truth: it says what was already billed.
	p, err := h.periods.Get(ctx, tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey):
		log.WarnContext(ctx, "usage event of an unknown period (tenant deleted?); acknowledged")
		return nil
	case err != nil:
		return fmt.Errorf("usage: read period: %w", err)
	}
	if p.Status != usagesvc.StatusClosed {
		log.WarnContext(ctx, "usage event of a period that is not closed; acknowledged")
		return nil
	}
	if p.NotBilled == usagesvc.NotBilledPermanent {
		log.InfoContext(ctx, "period rejected by Stripe before; not resent", "stripe_error", p.StripeError)
		return nil
	}
	todo := pending(p)
	if len(todo) == 0 {
		log.DebugContext(ctx, "period already billed or nothing to bill")
		return nil
	}
	if h.meter == nil {
		return h.notBilled(ctx, log, p, usagesvc.NotBilledOff, "")
	}
	customer, err := h.customers.StripeCustomer(ctx, tenant)
	if err != nil {
		return fmt.Errorf("usage: tenant's customer: %w", err)
	}
	if customer == "" {
		return h.notBilled(ctx, log, p, usagesvc.NotBilledNoCustomer, "")
	}

	// One meter event per meter. The meter events API takes one event per call (the batch
	// endpoint is Stripe's v2 API, which stripe-go v76 does not have), so the calls of a
	// period go out concurrently.
	type result struct {
		id  string
		err error
	}
	results := make([]result, len(todo))
	var wg sync.WaitGroup
	for i, meter := range todo {
		wg.Go(func() {
			mid := usagesvc.MeterEventID(p.ID, meter)
			params := &stripe.BillingMeterEventParams{
				Params:     stripe.Params{Context: ctx},
				EventName:  stripe.String(meter),
				Identifier: stripe.String(mid),
				Payload: map[string]string{
					"stripe_customer_id": customer,
					"value":              strconv.FormatInt(p.Quantities(p.End)[meter], 10),
				},
				Timestamp: stripe.Int64(p.End.Unix()),
			}
			params.SetIdempotencyKey(mid)
			_, err := h.meter.New(params)
			results[i] = result{id: mid, err: err}
		})
	}
	wg.Wait()

	var accepted []string
	var retry []error
	permanent := ""
	for _, r := range results {
		switch {
		case r.err == nil:
			accepted = append(accepted, r.id)
		case retryable(r.err):
			retry = append(retry, fmt.Errorf("stripe meter event %s: %w", r.id, r.err))
		default:
			permanent = describe(r.err)
			log.ErrorContext(ctx, "Stripe rejected a meter event; recorded on the period and acknowledged", "meter_event", r.id, "stripe_error", permanent)
		}
	}
	o := usagesvc.Outcome{MeterEvents: accepted, StripeError: permanent}
	if permanent != "" {
		o.NotBilled = usagesvc.NotBilledPermanent
	}
	if len(accepted) > 0 || permanent != "" {
		if _, err := h.periods.RecordOutcome(ctx, p.Tenant, p.ID, o); err != nil {
			// Stripe has the events; the redelivery sends them again with the same identifiers
			// and idempotency keys, which Stripe answers without billing twice.
			return fmt.Errorf("usage: record outcome: %w", err)
		}
	}
	if len(retry) > 0 {
		return errors.Join(retry...)
	}
	log.InfoContext(ctx, "period billed", "meter_events", len(accepted), "rejected", permanent != "")
	return nil
}

// notBilled records why a period was acknowledged without billing.
func (h *Handler) notBilled(ctx context.Context, log *slog.Logger, p usagesvc.Period, reason, detail string) error {
	if p.NotBilled == reason {
		return nil
	}
	if _, err := h.periods.RecordOutcome(ctx, p.Tenant, p.ID, usagesvc.Outcome{NotBilled: reason, StripeError: detail}); err != nil {
		return fmt.Errorf("usage: record outcome: %w", err)
	}
	log.InfoContext(ctx, "period not billed", "reason", reason)
	return nil
}

// pending lists the meters of p with something to bill that Stripe has not accepted yet, in a
// stable order.
func pending(p usagesvc.Period) []string {
	var out []string
	for meter, v := range p.Quantities(p.End) {
		if v > 0 && !contains(p.MeterEvents, usagesvc.MeterEventID(p.ID, meter)) {
			out = append(out, meter)
		}
	}
	sort.Strings(out)
	return out
}

// retryable reports whether a retry of the call may succeed: a network error, a timeout, rate
// limiting, a conflict on the idempotency key (a concurrent request with it) or a Stripe
// server error.
func retryable(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return true
	}
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode == http.StatusConflict,
		se.HTTPStatusCode >= 500, se.HTTPStatusCode == 0:
		return true
	}
	return false
}

// keyRE matches Stripe API keys (secret and restricted, test and live, masked or not): Stripe's
// and stripe-mock's error messages may quote the key a request carried.
var keyRE = regexp.MustCompile(`\b(sk|rk)_(test|live)_[A-Za-z0-9_*]+`)

// describe is a Stripe error for the period record and the log: its status, type, code and
// message, with any API key in it redacted.
func describe(err error) string {
	return keyRE.ReplaceAllString(describeRaw(err), "[redacted key]")
}

func describeRaw(err error) string {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	s := fmt.Sprintf("%d %s", se.HTTPStatusCode, se.Type)
	if se.Code != "" {
		s += " " + string(se.Code)
	}
	if se.Msg != "" {
		s += ": " + se.Msg
	}
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
