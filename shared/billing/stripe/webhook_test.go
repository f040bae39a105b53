package stripe_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/billingtest"
	"github.com/runyard/runyard/shared/billing/stripe"
)

const secret = billingtest.WebhookSecret

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sub := billingtest.EventJSON("evt_1", billing.EventSubscriptionUpdated, now.Add(-time.Minute),
		billingtest.Subscription("sub_1", "cus_1", "past_due"))
	inv := billingtest.EventJSON("evt_2", billing.EventInvoicePaymentFail, now, billingtest.Invoice("in_1", "cus_1", "sub_1"))
	other := billingtest.EventJSON("evt_3", "charge.succeeded", now, map[string]any{"id": "ch_1", "object": "charge"})
	expanded := billingtest.EventJSON("evt_4", billing.EventInvoicePaid, now,
		map[string]any{"id": "in_2", "object": "invoice", "customer": map[string]any{"id": "cus_2", "object": "customer"}, "subscription": nil})
	badStatus := billingtest.EventJSON("evt_5", billing.EventSubscriptionCreated, now, billingtest.Subscription("sub_1", "cus_1", "bogus"))
	noCustomer := billingtest.EventJSON("evt_6", billing.EventSubscriptionCreated, now, billingtest.Subscription("sub_1", "", "active"))
	wrongObject := billingtest.EventJSON("evt_7", billing.EventInvoicePaid, now, billingtest.Subscription("sub_1", "cus_1", "active"))
	sign := func(p []byte, at time.Time) string { return stripe.SignTest(p, secret, at) }
	tests := []struct {
		name    string
		payload []byte
		header  string
		secret  string
		want    billing.Event
		wantErr error
	}{
		{name: "subscription", payload: sub, header: sign(sub, now),
			want: billing.Event{ID: "evt_1", Type: billing.EventSubscriptionUpdated, Created: time.Unix(now.Add(-time.Minute).Unix(), 0).UTC(),
				Customer: "cus_1", Object: "sub_1", Status: "past_due"}},
		{name: "invoice", payload: inv, header: sign(inv, now),
			want: billing.Event{ID: "evt_2", Type: billing.EventInvoicePaymentFail, Created: time.Unix(now.Unix(), 0).UTC(),
				Customer: "cus_1", Object: "in_1", Subscription: "sub_1"}},
		{name: "unhandled type", payload: other, header: sign(other, now),
			want: billing.Event{ID: "evt_3", Type: "charge.succeeded", Created: time.Unix(now.Unix(), 0).UTC()}},
		{name: "expanded customer", payload: expanded, header: sign(expanded, now),
			want: billing.Event{ID: "evt_4", Type: billing.EventInvoicePaid, Created: time.Unix(now.Unix(), 0).UTC(), Customer: "cus_2", Object: "in_2"}},
		{name: "signature 4 minutes old", payload: sub, header: sign(sub, now.Add(-4*time.Minute)),
			want: billing.Event{ID: "evt_1", Type: billing.EventSubscriptionUpdated, Created: time.Unix(now.Add(-time.Minute).Unix(), 0).UTC(),
				Customer: "cus_1", Object: "sub_1", Status: "past_due"}},
		{name: "not signed", payload: sub, header: "", wantErr: stripe.ErrNotSigned},
		{name: "wrong secret", payload: sub, header: stripe.SignTest(sub, "whsec_other", now), wantErr: stripe.ErrBadSignature},
		{name: "body changed", payload: append([]byte(" "), sub...), header: sign(sub, now), wantErr: stripe.ErrBadSignature},
		{name: "v0 scheme only", payload: sub, header: "t=1,v0=00", wantErr: stripe.ErrBadSignature},
		{name: "garbage header", payload: sub, header: "nonsense", wantErr: stripe.ErrBadSignature},
		{name: "old timestamp", payload: sub, header: sign(sub, now.Add(-6*time.Minute)), wantErr: stripe.ErrTooOld},
		{name: "empty secret configured", payload: sub, header: stripe.SignTest(sub, "", now), secret: "-", wantErr: stripe.ErrBadSignature},
		{name: "signed non-JSON", payload: []byte("hello"), header: sign([]byte("hello"), now), wantErr: stripe.ErrMalformed},
		{name: "bad status", payload: badStatus, header: sign(badStatus, now), wantErr: stripe.ErrMalformed},
		{name: "no customer", payload: noCustomer, header: sign(noCustomer, now), wantErr: stripe.ErrMalformed},
		{name: "wrong object", payload: wrongObject, header: sign(wrongObject, now), wantErr: stripe.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := secret
			if tc.secret == "-" {
				s = ""
			}
			got, at, err := stripe.VerifyWebhook(tc.payload, tc.header, s, 0)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got)\n%s", diff)
			}
			if at.IsZero() {
				t.Error("no signature time")
			}
		})
	}
}

// FuzzParseEvent: no input panics; an accepted handled event names a customer and object of
// safe ids, and a subscription event a known status.
func FuzzParseEvent(f *testing.F) {
	for _, o := range []map[string]any{
		billingtest.Subscription("sub_1", "cus_1", "active"), billingtest.Invoice("in_1", "cus_1", "sub_1"),
		{"id": "in_2", "object": "invoice", "customer": map[string]any{"id": "cus_2"}},
	} {
		b, _ := json.Marshal(o)
		f.Add("evt_1", billing.EventSubscriptionUpdated, int64(1700000000), b)
		f.Add("evt_1", billing.EventInvoicePaid, int64(1700000000), b)
	}
	f.Add("evt_1", "charge.succeeded", int64(1), []byte(`null`))
	f.Add("", "", int64(0), []byte(`{`))
	f.Add("evt_1", billing.EventSubscriptionDeleted, int64(1), []byte(`{"id":"sub_1","object":"subscription","customer":{"id":7},"status":"canceled"}`))
	f.Fuzz(func(t *testing.T, id, typ string, created int64, raw []byte) {
		ev, err := stripe.ParseEvent(id, typ, created, raw)
		if err != nil {
			if !errors.Is(err, stripe.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ev.ID != id || ev.Type != typ || ev.Created.Unix() != created {
			t.Fatalf("event %+v from %q %q %d", ev, id, typ, created)
		}
		switch typ {
		case billing.EventSubscriptionCreated, billing.EventSubscriptionUpdated, billing.EventSubscriptionDeleted:
			if !billing.ValidStatus(ev.Status) {
				t.Fatalf("status %q accepted", ev.Status)
			}
			fallthrough
		case billing.EventInvoicePaid, billing.EventInvoicePaymentFail:
			if ev.Customer == "" || ev.Object == "" {
				t.Fatalf("handled event without customer or object: %+v", ev)
			}
		}
	})
}

// FuzzVerifyWebhook: any body signed with the secret either verifies into an event or fails
// as malformed, never panics; the same body with another secret never verifies.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add(billingtest.EventJSON("evt_1", billing.EventSubscriptionUpdated, time.Unix(1700000000, 0), billingtest.Subscription("sub_1", "cus_1", "active")))
	f.Add([]byte(`{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{"object":"invoice"}}}`))
	f.Add([]byte(`{"data":{"object":"x"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		now := time.Now()
		_, _, err := stripe.VerifyWebhook(body, stripe.SignTest(body, secret, now), secret, 0)
		if err != nil && !errors.Is(err, stripe.ErrMalformed) {
			t.Fatalf("own signature: %v", err)
		}
		if _, _, err := stripe.VerifyWebhook(body, stripe.SignTest(body, "whsec_other", now), secret, 0); !errors.Is(err, stripe.ErrBadSignature) {
			t.Fatalf("other secret: %v", err)
		}
	})
}
