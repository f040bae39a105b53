package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/runyard/runyard/shared/logging"
)

// MessagePublishedType is the CloudEvent type Eventarc gives Pub/Sub messages.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// Handler runs one sweep per tick.
type Handler struct {
	sw      *Sweeper
	timeout time.Duration
	log     *slog.Logger
}

// NewHandler returns a Handler running sw for at most timeout per tick (0: no bound beyond
// the request's own).
func NewHandler(sw *Sweeper, timeout time.Duration, log *slog.Logger) (*Handler, error) {
	if sw == nil {
		return nil, errors.New("sweeper.NewHandler: a sweeper is required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Handler{sw: sw, timeout: timeout, log: log}, nil
}

// Handle runs one tick. The tick's content does not matter (any message on the topic is a
// tick). It returns an error only when the sweep could not start (the store failed), so
// Eventarc redelivers; failed single actions are logged and retried by later ticks.
func (h *Handler) Handle(ctx context.Context, e event.Event) error {
	log := h.log.With("event_id", e.ID())
	ctx = logging.WithLogger(ctx, log)
	if e.Type() != MessagePublishedType {
		log.WarnContext(ctx, "ignoring event of unexpected type", "type", e.Type())
		return nil
	}
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	rep, err := h.sw.Tick(ctx)
	if err != nil {
		return fmt.Errorf("sweeper: tick: %w", err)
	}
	done := 0
	attrs := []any{"examined", rep.Examined, "skipped", rep.Skipped, "deferred", rep.Deferred, "failed", rep.Failed}
	for a, n := range rep.Done {
		done += n
		attrs = append(attrs, string(a), n)
	}
	log.InfoContext(ctx, "sweep", append(attrs, "done", done)...)
	return nil
}
