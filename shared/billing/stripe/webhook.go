package stripe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/runyard/runyard/shared/billing"
)

// Webhook errors, for the edge to answer.
var (
	// ErrNotSigned: no Stripe-Signature header.
	ErrNotSigned = errors.New("stripe: webhook is not signed")
	// ErrBadSignature: a malformed header, or no v1 signature that is the HMAC of the payload
	// with the signing secret.
	ErrBadSignature = errors.New("stripe: webhook signature does not verify")
	// ErrTooOld: the signature's timestamp is older than the tolerance.
	ErrTooOld = errors.New("stripe: webhook signature is too old")
	// ErrMalformed: a verified payload that is not a Stripe event Runyard can read.
	ErrMalformed = errors.New("stripe: malformed webhook event")
)

// DefaultTolerance is how old a webhook signature may be (stripe-go's default, 5 minutes).
const DefaultTolerance = webhook.DefaultTolerance

// HeaderSignature is Stripe's signature header.
const HeaderSignature = "Stripe-Signature"

// VerifyWebhook checks payload against the Stripe-Signature header with the endpoint's signing
// secret (stripe-go webhook.ConstructEventWithOptions: HMAC-SHA256, constant-time, timestamp
// within tolerance) and returns the event and the signature's time (the replay ledger tells a
// replay from a redelivery by it).
//
// The event's API version is not checked (IgnoreAPIVersionMismatch): Runyard reads only
// fields every API version since 2020 has (id, type, created, and the object's id, customer,
// status and subscription) with its own parser, not stripe-go's types, so an endpoint created
// with the account's default API version works; stripe-go's check would otherwise reject
// every event whose version is not the one v76 pins (2023-10-16).
func VerifyWebhook(payload []byte, header, secret string, tolerance time.Duration) (billing.Event, time.Time, error) {
	if secret == "" {
		// HMAC with an empty key is something anyone can compute.
		return billing.Event{}, time.Time{}, fmt.Errorf("%w: no signing secret configured", ErrBadSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header, secret,
		webhook.ConstructEventOptions{Tolerance: tolerance, IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return billing.Event{}, time.Time{}, ErrNotSigned
	case errors.Is(err, webhook.ErrTooOld):
		return billing.Event{}, time.Time{}, ErrTooOld
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return billing.Event{}, time.Time{}, ErrBadSignature
	case err != nil:
		// The signature verified; the body is not an event (stripe-go could not decode it).
		return billing.Event{}, time.Time{}, fmt.Errorf("%w: not a JSON event", ErrMalformed)
	}
	var raw json.RawMessage
	if ev.Data != nil {
		raw = ev.Data.Raw
	}
	out, err := ParseEvent(ev.ID, string(ev.Type), ev.Created, raw)
	if err != nil {
		return billing.Event{}, time.Time{}, err
	}
	return out, signatureTime(header), nil
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)

// object is what Runyard reads of a subscription or invoice.
type object struct {
	ID           string          `json:"id"`
	Object       string          `json:"object"`
	Customer     json.RawMessage `json:"customer"`
	Status       string          `json:"status"`
	Subscription json.RawMessage `json:"subscription"`
}

// ParseEvent reads a (verified) event: its id, type and creation time, and for the types
// billing handles, the object's id and customer, a subscription's status and an invoice's
// subscription. Types billing does not handle are returned with only id, type and time.
func ParseEvent(id, typ string, created int64, raw json.RawMessage) (billing.Event, error) {
	if !idRE.MatchString(id) {
		return billing.Event{}, fmt.Errorf("%w: event id", ErrMalformed)
	}
	if typ == "" || len(typ) > 100 || strings.Trim(typ, "abcdefghijklmnopqrstuvwxyz0123456789._") != "" {
		return billing.Event{}, fmt.Errorf("%w: event type", ErrMalformed)
	}
	if created <= 0 || created > 1<<40 {
		return billing.Event{}, fmt.Errorf("%w: event created time", ErrMalformed)
	}
	ev := billing.Event{ID: id, Type: typ, Created: time.Unix(created, 0).UTC()}
	var want string
	switch typ {
	case billing.EventSubscriptionCreated, billing.EventSubscriptionUpdated, billing.EventSubscriptionDeleted:
		want = "subscription"
	case billing.EventInvoicePaid, billing.EventInvoicePaymentFail:
		want = "invoice"
	default:
		return ev, nil
	}
	var o object
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&o); err != nil {
		return billing.Event{}, fmt.Errorf("%w: data.object: %v", ErrMalformed, err)
	}
	if o.Object != want || !idRE.MatchString(o.ID) {
		return billing.Event{}, fmt.Errorf("%w: data.object is not a %s", ErrMalformed, want)
	}
	cus, ok := refID(o.Customer)
	if !ok || cus == "" {
		return billing.Event{}, fmt.Errorf("%w: data.object.customer", ErrMalformed)
	}
	ev.Object, ev.Customer = o.ID, cus
	if want == "subscription" {
		if !billing.ValidStatus(o.Status) {
			return billing.Event{}, fmt.Errorf("%w: subscription status %q", ErrMalformed, truncate(o.Status))
		}
		ev.Status = o.Status
		return ev, nil
	}
	sub, ok := refID(o.Subscription)
	if !ok {
		return billing.Event{}, fmt.Errorf("%w: data.object.subscription", ErrMalformed)
	}
	ev.Subscription = sub
	return ev, nil
}

// refID reads a reference that Stripe sends as an id, an expanded object with an id, or null.
func refID(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return "", false
		}
		id = o.ID
	}
	if !idRE.MatchString(id) {
		return "", false
	}
	return id, true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// signatureTime is the t= of a Stripe-Signature header that verified.
func signatureTime(header string) time.Time {
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Unix(n, 0).UTC()
			}
		}
	}
	return time.Time{}
}

// SignTest signs payload as Stripe does at time t (webhook.GenerateTestSignedPayload) and
// returns the Stripe-Signature header value: for tests and the local stack.
func SignTest(payload []byte, secret string, t time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: t}).Header
}
