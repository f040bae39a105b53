// Package pubsub is the events.Publisher adapter over Cloud Pub/Sub
// (cloud.google.com/go/pubsub/v2), also used against the Pub/Sub emulator. It keeps one
// batching pubsub.Publisher per topic; Close flushes and stops them.
package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/events"
)

// DefaultTimeout bounds one Publish when the caller's context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// Publisher implements events.Publisher. Safe for concurrent use.
type Publisher struct {
	client  *pubsub.Client
	timeout time.Duration

	mu     sync.Mutex
	closed bool
	pubs   map[string]*pubsub.Publisher
}

var _ events.Publisher = (*Publisher)(nil)

// Option configures New.
type Option func(*Publisher)

// WithTimeout sets the deadline of one Publish (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(p *Publisher) {
		if d > 0 {
			p.timeout = d
		}
	}
}

// New returns a publisher over client. The client stays the caller's: Close does not close it.
func New(client *pubsub.Client, opts ...Option) *Publisher {
	p := &Publisher{client: client, timeout: DefaultTimeout, pubs: map[string]*pubsub.Publisher{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Or returns pub when it is set (tests, runyard dev), else a publisher over a new Pub/Sub
// client for project: the default of every function that publishes.
func Or(ctx context.Context, pub events.Publisher, project string) (events.Publisher, error) {
	if pub != nil {
		return pub, nil
	}
	client, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("pubsub: client: %w", err)
	}
	return New(client), nil
}

// Publish sends one message and waits for its server id.
func (p *Publisher) Publish(ctx context.Context, topic string, data []byte, attrs map[string]string) (string, error) {
	if topic == "" {
		return "", fmt.Errorf("%w: empty topic", events.ErrInvalid)
	}
	if len(data) == 0 && len(attrs) == 0 {
		return "", fmt.Errorf("%w: a message needs data or attributes", events.ErrInvalid)
	}
	pub, err := p.publisher(topic)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	id, err := pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return "", fmt.Errorf("events/pubsub: publish to %s: %w: %w", topic, events.ErrTopicNotFound, err)
		}
		return "", fmt.Errorf("events/pubsub: publish to %s: %w", topic, err)
	}
	return id, nil
}

func (p *Publisher) publisher(topic string) (*pubsub.Publisher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, events.ErrClosed
	}
	pub, ok := p.pubs[topic]
	if !ok {
		pub = p.client.Publisher(topic)
		p.pubs[topic] = pub
	}
	return pub, nil
}

// Close sends what is pending and stops every topic's publisher; later Publish calls fail with
// events.ErrClosed. It does not close the client.
func (p *Publisher) Close() {
	p.mu.Lock()
	pubs := p.pubs
	p.closed, p.pubs = true, nil
	p.mu.Unlock()
	for _, pub := range pubs {
		pub.Stop()
	}
}
