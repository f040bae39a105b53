// Package localevents stands in for Eventarc Pub/Sub triggers in local mode and tests.
//
// For each Route it keeps a pull subscription on the Pub/Sub emulator (or pstest) and delivers
// every message to the route's URL as a binary-mode CloudEvent of type
// google.cloud.pubsub.topic.v1.messagePublished, shaped like the requests Eventarc sends
// (ce-* headers, JSON body {"message":{…},"subscription":…}). A 2xx answer acks the message;
// anything else, or a transport error, retries it with exponential backoff (MinBackoff doubling
// up to MaxBackoff), like an Eventarc trigger's Pub/Sub retry policy. Messages are handled
// concurrently, so one failing message never holds up the others.
package localevents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The CloudEvent type Eventarc uses for Pub/Sub messages.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// Defaults for Config fields left zero.
const (
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultTimeout        = 60 * time.Second
	DefaultMaxOutstanding = 100
)

// Route sends the messages of one topic to one URL.
type Route struct {
	// Topic is a topic id in Config.ProjectID, or a full "projects/P/topics/T" name.
	Topic string
	// URL receives the CloudEvents, e.g. "http://127.0.0.1:8080/OnBuild".
	URL string
	// Subscription is the pull subscription id to use; by default
	// "runyard-local-<topic>-<hash of URL>", so restarts reuse it and two URLs on one topic
	// each get every message.
	Subscription string
}

// Config configures a Pusher.
type Config struct {
	// ProjectID owns the topics and subscriptions; default: the client's project.
	ProjectID string
	Routes    []Route
	// MinBackoff and MaxBackoff bound the wait between deliveries of a failing message.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one delivery (HTTP request); default DefaultTimeout.
	Timeout time.Duration
	// MaxOutstanding is how many messages per route are delivered (or retried) at once.
	MaxOutstanding int
	// HTTPClient sends the requests; default a plain http.Client.
	HTTPClient *http.Client
	// Header is added to every request (for example an Authorization header for a local
	// stand-in of Eventarc's OIDC token).
	Header http.Header
	// Logger receives delivery failures; default slog.Default().
	Logger *slog.Logger
}

// Pusher delivers messages until Close is called or the context given to Start ends.
type Pusher struct {
	client *pubsub.Client
	cfg    Config
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
	subs   []string
}

// EnsureTopics creates the topics (ids in the client's project, or full names) that do not
// exist yet.
func EnsureTopics(ctx context.Context, client *pubsub.Client, topics ...string) error {
	for _, t := range topics {
		name := topicName(client.Project(), t)
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("localevents: create topic %s: %w", name, err)
		}
	}
	return nil
}

// EnsureSubscription creates the pull subscription sub (id or full name) on topic (id or full
// name) in project unless it exists.
func EnsureSubscription(ctx context.Context, client *pubsub.Client, project, sub, topic string) error {
	name := subscriptionName(project, sub)
	_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:  name,
		Topic: topicName(project, topic),
		// Pub/Sub's default, as on Eventarc's subscriptions; the client extends leases while a
		// delivery or retry is under way, and a short deadline makes a message lost between
		// receivers (say, dispatched to a stream that was closing) come back sooner.
		AckDeadlineSeconds: 10,
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("localevents: create subscription %s: %w", name, err)
	}
	return nil
}

// Start creates (idempotently) a subscription per route and starts delivering until Close is
// called or ctx ends. The topics must
// exist (see EnsureTopics); messages published before Start returns are delivered only if the
// subscription already existed.
func Start(ctx context.Context, client *pubsub.Client, cfg Config) (*Pusher, error) {
	if client == nil {
		return nil, errors.New("localevents: Start: nil client")
	}
	if cfg.ProjectID == "" {
		cfg.ProjectID = client.Project()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = DefaultMaxOutstanding
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var problems []error
	for i, r := range cfg.Routes {
		if r.Topic == "" || r.URL == "" {
			problems = append(problems, fmt.Errorf("route %d: Topic and URL are required", i))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("localevents: Start: %w", errors.Join(problems...))
	}

	subs := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		sub := r.Subscription
		if sub == "" {
			sub = DefaultSubscription(r)
		}
		subs[i] = subscriptionName(cfg.ProjectID, sub)
		if err := EnsureSubscription(ctx, client, cfg.ProjectID, subs[i], r.Topic); err != nil {
			return nil, err
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	p := &Pusher{client: client, cfg: cfg, cancel: cancel, subs: subs}
	for i, r := range cfg.Routes {
		p.wg.Go(func() { p.receive(runCtx, r, subs[i]) })
	}
	return p, nil
}

// Subscriptions returns the full names of the subscriptions, in route order.
func (p *Pusher) Subscriptions() []string { return append([]string(nil), p.subs...) }

// Close stops the receivers and waits for them and for requests in flight to end (each at
// most Timeout). Messages waiting for a retry are nacked, so the next Pusher on the same
// subscriptions gets them.
// It returns the errors the receivers ended with, if any.
func (p *Pusher) Close() error {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// receive runs the route's receiver until ctx ends, restarting it after errors.
func (p *Pusher) receive(ctx context.Context, r Route, sub string) {
	s := p.client.Subscriber(sub)
	s.ReceiveSettings.MaxOutstandingMessages = p.cfg.MaxOutstanding
	s.ReceiveSettings.NumGoroutines = 1
	// A message being retried keeps its lease for up to a day, like the longest an Eventarc
	// trigger keeps retrying.
	s.ReceiveSettings.MaxExtension = 24 * time.Hour
	wait := p.cfg.MinBackoff
	for {
		err := s.Receive(ctx, func(ctx context.Context, m *pubsub.Message) { p.handle(ctx, r, sub, m) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("receive ended")
		}
		p.cfg.Logger.Warn("localevents: receiver stopped; restarting", "subscription", sub, "error", err.Error(), "retry_in", wait.String())
		if !sleep(ctx, wait) {
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Errorf("localevents: receive %s: %w", sub, err))
			p.mu.Unlock()
			return
		}
		wait = min(wait*2, p.cfg.MaxBackoff)
	}
}

// handle delivers one message until the endpoint accepts it or the Pusher stops.
func (p *Pusher) handle(ctx context.Context, r Route, sub string, m *pubsub.Message) {
	d, err := encode(p.cfg.ProjectID, r.Topic, sub, m)
	if err != nil { // cannot happen for a well-formed message; do not loop on it
		p.cfg.Logger.Error("localevents: cannot encode message; dropping it", "subscription", sub, "message_id", m.ID, "error", err.Error())
		m.Ack()
		return
	}
	wait := p.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		err := p.deliver(ctx, r, d)
		if err == nil {
			m.Ack()
			return
		}
		if ctx.Err() != nil {
			m.Nack()
			return
		}
		p.cfg.Logger.Warn("localevents: delivery failed; will retry",
			"url", r.URL, "subscription", sub, "message_id", m.ID, "attempt", attempt,
			"retry_in", wait.String(), "error", err.Error())
		if !sleep(ctx, wait) {
			m.Nack()
			return
		}
		wait = min(wait*2, p.cfg.MaxBackoff)
	}
}

// delivery is one message encoded for its route.
type delivery struct {
	headers http.Header
	body    []byte
}

// deliver posts the event once; any non-2xx answer is an error. A request in flight is not
// cut short when the Pusher stops (only by Timeout), so Close does not turn a delivery the
// function has already handled into a duplicate.
func (p *Pusher) deliver(ctx context.Context, r Route, d delivery) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(d.body))
	if err != nil {
		return fmt.Errorf("localevents: build request: %w", err)
	}
	for k, vs := range p.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range d.headers {
		req.Header[k] = vs
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("localevents: post %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("localevents: post %s: %s: %s", r.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// MessagePublishedData is the CloudEvent data of a messagePublished event
// (google.events.cloud.pubsub.v1.MessagePublishedData), as Eventarc encodes it.
type MessagePublishedData struct {
	Message      PubsubMessage `json:"message"`
	Subscription string        `json:"subscription"`
}

// PubsubMessage is the message inside MessagePublishedData. Data is base64 in JSON. Eventarc
// sends messageId and publishTime twice, also as message_id and publish_time; so does this
// package.
type PubsubMessage struct {
	Data             []byte            `json:"data,omitempty"`
	Attributes       map[string]string `json:"attributes,omitempty"`
	MessageID        string            `json:"messageId"`
	MessageIDSnake   string            `json:"message_id,omitempty"`
	PublishTime      string            `json:"publishTime"`
	PublishTimeSnake string            `json:"publish_time,omitempty"`
	OrderingKey      string            `json:"orderingKey,omitempty"`
}

// encode builds the headers and body of the binary-mode CloudEvent for m.
func encode(project, topic, sub string, m *pubsub.Message) (delivery, error) {
	published := m.PublishTime.UTC().Format(time.RFC3339Nano)
	body, err := json.Marshal(MessagePublishedData{
		Message: PubsubMessage{
			Data:             m.Data,
			Attributes:       m.Attributes,
			MessageID:        m.ID,
			MessageIDSnake:   m.ID,
			PublishTime:      published,
			PublishTimeSnake: published,
			OrderingKey:      m.OrderingKey,
		},
		Subscription: sub,
	})
	if err != nil {
		return delivery{}, fmt.Errorf("localevents: encode message %s: %w", m.ID, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Type", MessagePublishedType)
	h.Set("Ce-Source", "//pubsub.googleapis.com/"+topicName(project, topic))
	h.Set("Ce-Id", m.ID)
	h.Set("Ce-Time", published)
	return delivery{headers: h, body: body}, nil
}

// DefaultSubscription is the subscription id used for a route without one.
func DefaultSubscription(r Route) string {
	sum := sha256.Sum256([]byte(r.URL))
	t := r.Topic
	if i := strings.LastIndex(t, "/"); i >= 0 {
		t = t[i+1:]
	}
	return "runyard-local-" + t + "-" + hex.EncodeToString(sum[:4])
}

func topicName(project, t string) string {
	if strings.HasPrefix(t, "projects/") {
		return t
	}
	return "projects/" + project + "/topics/" + t
}

func subscriptionName(project, s string) string {
	if strings.HasPrefix(s, "projects/") {
		return s
	}
	return "projects/" + project + "/subscriptions/" + s
}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
