package stripehook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
)

// EventResponse is the answer Stripe records for a delivery (shown in its dashboard).
type EventResponse struct {
	// Status is applied, stale, ignored or duplicate (billing.Outcome).
	Status  string `json:"status"`
	EventID string `json:"event_id"`
}

func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	if err := s.event(w, r); err != nil {
		httpx.Error(w, r, err)
	}
}

func (s *Server) event(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return httpx.Errorf(http.StatusRequestEntityTooLarge, httpx.CodeBodyTooLarge, "request body exceeds %d bytes", maxErr.Limit)
		}
		return httpx.BadRequest(httpx.CodeInvalidArgument, "could not read the request body").WithCause(err)
	}
	if s.cfg.WebhookSecret == "" {
		return httpx.Errorf(http.StatusNotImplemented, CodeBillingDisabled, "billing is not enabled on this deployment (no webhook signing secret)")
	}
	// Nothing below runs, and nothing is written, for an event not signed with the secret.
	ev, signedAt, err := stripe.VerifyWebhook(body, r.Header.Get(stripe.HeaderSignature), s.cfg.WebhookSecret.Reveal(), s.cfg.Tolerance)
	switch {
	case errors.Is(err, stripe.ErrNotSigned):
		return httpx.Unauthenticated(CodeMissingSignature, "the %s header is missing", stripe.HeaderSignature)
	case errors.Is(err, stripe.ErrBadSignature):
		return httpx.Unauthenticated(CodeInvalidSignature, "%s must carry a v1 HMAC-SHA256 of the body with the endpoint's signing secret", stripe.HeaderSignature)
	case errors.Is(err, stripe.ErrTooOld):
		return httpx.Unauthenticated(CodeSignatureExpired, "the signature's timestamp is older than %s", s.cfg.Tolerance)
	case errors.Is(err, stripe.ErrMalformed):
		return httpx.BadRequest(CodeMalformedEvent, "%s", err.Error())
	case err != nil:
		return httpx.BadRequest(CodeMalformedEvent, "the event could not be read").WithCause(err)
	}
	log := logging.FromContext(ctx).With("event_id", ev.ID, "event_type", ev.Type)
	out, tenant, err := s.billing.Apply(ctx, ev, signedAt, s.cfg.EventTTL)
	if err != nil {
		// Nothing was claimed: Stripe retries the delivery.
		if errors.Is(err, context.DeadlineExceeded) {
			return httpx.Errorf(http.StatusGatewayTimeout, httpx.CodeTimeout, "the request timed out").WithCause(err)
		}
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "a backend is unavailable, retry").WithCause(fmt.Errorf("stripehook: %w", err))
	}
	log.InfoContext(ctx, "stripehook: event", "outcome", string(out), "tenant", tenant, "customer", ev.Customer)
	if out == billing.OutcomeReplayed {
		return httpx.Unauthenticated(CodeReplayedEvent, "this delivery was already handled")
	}
	httpx.JSON(w, r, http.StatusOK, EventResponse{Status: string(out), EventID: ev.ID})
	return nil
}
