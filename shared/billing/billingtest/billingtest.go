// Package billingtest holds test helpers for billing: a Stripe configuration for stripe-mock
// (shared/stripemock/stripemocktest has the mock's URL and a recording proxy), and Stripe
// webhook events signed as Stripe signs them.
package billingtest

import (
	"encoding/json"
	"time"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/stripe"
)

// TestKey is the secret key tests give stripe-mock (it accepts any sk_test_ key).
const TestKey = "sk_test_runyard"

// Config is a billing configuration with Stripe at url (stripe-mock or its proxy) and one
// metered price.
func Config(url string) stripe.EnvConfig {
	return stripe.EnvConfig{SecretKey: TestKey, APIURL: url, PriceIDs: []string{"price_runyard_vcpu"}, Timeout: 10 * time.Second,
		SuccessURL: "https://app.runyard.test/billing/done", CancelURL: "https://app.runyard.test/billing",
		ReturnURL: "https://app.runyard.test/settings", Prices: billing.DefaultPriceConfig}
}

// WebhookSecret is the signing secret tests sign webhooks with.
const WebhookSecret = "whsec_runyard_test"

// SignedEvent is a Stripe event payload and its Stripe-Signature header at time at.
func SignedEvent(payload []byte, at time.Time) (body []byte, header string) {
	return payload, stripe.SignTest(payload, WebhookSecret, at)
}

// EventJSON is a Stripe event of type typ created at created with data.object obj, in the
// shape Stripe sends (api_version of a recent account default, not the one stripe-go pins).
func EventJSON(id, typ string, created time.Time, obj map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2024-06-20", "type": typ,
		"created": created.Unix(), "livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": obj}})
	if err != nil {
		panic(err)
	}
	return b
}

// Subscription is a subscription object of customer with status.
func Subscription(id, customer, status string) map[string]any {
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"metadata": map[string]any{}}
}

// Invoice is an invoice object of customer and subscription.
func Invoice(id, customer, subscription string) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "subscription": subscription}
}
