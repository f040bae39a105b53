package buildevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/logging"
)

// MessagePublishedType is the CloudEvent type Eventarc gives Pub/Sub messages.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// FinishedType is the type attribute of the events this function publishes.
const FinishedType = "build.finished"

// Finished is the data of a build.finished event.
type Finished struct {
	Tenant   string       `json:"tenant"`
	BuildID  string       `json:"build_id"`
	Status   build.Status `json:"status"`
	CacheKey string       `json:"cache_key,omitempty"`
	Image    string       `json:"image,omitempty"`
	Digest   string       `json:"digest,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// Continuer continues what waits on a build: the runtimes to deploy with its image
// (runtime.Orchestrator implements it).
type Continuer interface {
	OnBuildFinished(ctx context.Context, b build.Record) error
}

// Handler handles cloud-builds notifications.
type Handler struct {
	builds *build.Service
	pub    events.Publisher
	topic  string
	log    *slog.Logger
	next   Continuer
	usage  BuildRecorder
}

// BuildRecorder records a finished build's minutes, once per build however often it is
// called (usage.Service implements it).
type BuildRecorder interface {
	RecordBuild(ctx context.Context, tenant, build string, start, end time.Time) error
}

// WithContinuer makes the handler continue the runtimes waiting on finished builds.
func (h *Handler) WithContinuer(c Continuer) *Handler { h.next = c; return h }

// WithUsage makes the handler record the build minutes of finished builds.
func (h *Handler) WithUsage(u BuildRecorder) *Handler { h.usage = u; return h }

// NewHandler returns a Handler.
func NewHandler(b *build.Service, pub events.Publisher, topic string, log *slog.Logger) (*Handler, error) {
	if b == nil || pub == nil || topic == "" {
		return nil, errors.New("buildevents.NewHandler: build service, publisher and topic are required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Handler{builds: b, pub: pub, topic: topic, log: log}, nil
}

// pubsubEnvelope is the data of a messagePublished CloudEvent.
type pubsubEnvelope struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Handle records one notification. It returns an error only when a retry can help (the store
// or the publisher failed); anything malformed, foreign or unknown is logged and acknowledged.
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
	ev, err := cloudbuild.DecodeNotification(env.Message.Attributes, env.Message.Data)
	switch {
	case errors.Is(err, cloudbuild.ErrNotOurs):
		log.DebugContext(ctx, "notification of a build that is not Runyard's", "build_id", env.Message.Attributes["buildId"])
		return nil
	case err != nil:
		log.ErrorContext(ctx, "malformed build notification; dropped", "error", err, "build_id", env.Message.Attributes["buildId"])
		return nil
	}
	log = log.With("tenant", ev.Tenant, "build", ev.BuildID, "status", ev.Status)
	rec, outcome, err := h.builds.Apply(ctx, ev)
	switch {
	case errors.Is(err, build.ErrUnknownBuild):
		log.WarnContext(ctx, "notification of an unknown build; acknowledged", "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("buildevents: apply: %w", err)
	}
	log.InfoContext(ctx, "build notification", "outcome", outcome, "recorded_status", rec.Status)
	// Publish when this event finished the build, and again when a redelivered terminal
	// notification matches the record: an earlier publish may have failed after the record
	// was written. build.finished is therefore at least once; consumers key on the build id.
	if !rec.Status.Terminal() || (outcome != build.Finished && ev.Status != rec.Status) {
		return nil
	}
	if h.usage != nil && rec.StartedAt != nil && rec.FinishedAt != nil {
		// Build minutes, once per build (keyed by the build id), before the event is acked.
		if err := h.usage.RecordBuild(ctx, rec.Tenant, rec.ID, *rec.StartedAt, *rec.FinishedAt); err != nil {
			return fmt.Errorf("buildevents: record build minutes: %w", err)
		}
	}
	if h.next != nil {
		// Runtimes that wait on the build deploy (or fail) before the event goes out; a
		// failure here makes Eventarc redeliver, and the continuation is idempotent.
		if err := h.next.OnBuildFinished(ctx, rec); err != nil {
			return fmt.Errorf("buildevents: continue runtimes: %w", err)
		}
	}
	data, err := json.Marshal(Finished{Tenant: rec.Tenant, BuildID: rec.ID, Status: rec.Status, CacheKey: rec.CacheKey,
		Image: rec.Image, Digest: rec.Digest, Error: rec.Error})
	if err != nil {
		return fmt.Errorf("buildevents: encode: %w", err)
	}
	if _, err := h.pub.Publish(ctx, h.topic, data, map[string]string{"type": FinishedType, "tenant": rec.Tenant, "build_id": rec.ID, "status": string(rec.Status)}); err != nil {
		return fmt.Errorf("buildevents: publish %s: %w", FinishedType, err)
	}
	return nil
}
