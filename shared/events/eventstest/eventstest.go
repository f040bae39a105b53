// Package eventstest holds test doubles of the events port: Recorder, an events.Publisher
// that keeps every message (Runyard's own interface, so a fake is fine; the Pub/Sub adapter
// itself is tested against pstest).
package eventstest

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/runyard/runyard/shared/events"
)

// Message is one recorded Publish.
type Message struct {
	ID    string
	Topic string
	Data  []byte
	Attrs map[string]string
}

// Recorder implements events.Publisher in memory. The zero value is ready to use.
type Recorder struct {
	mu      sync.Mutex
	msgs    []Message
	failing []error
	changed chan struct{}
}

var _ events.Publisher = (*Recorder)(nil)

// Publish records the message (copies of data and attrs) unless an error was queued by FailNext.
func (r *Recorder) Publish(_ context.Context, topic string, data []byte, attrs map[string]string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failing) > 0 {
		err := r.failing[0]
		r.failing = r.failing[1:]
		return "", err
	}
	id := strconv.Itoa(len(r.msgs) + 1)
	r.msgs = append(r.msgs, Message{ID: id, Topic: topic, Data: slices.Clone(data), Attrs: maps.Clone(attrs)})
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	return id, nil
}

// FailNext makes the next Publish calls fail with errs, in order.
func (r *Recorder) FailNext(errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing = append(r.failing, errs...)
}

// Messages returns what was published so far.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Wait blocks until done(messages) is true or ctx ends, and returns the messages then.
func (r *Recorder) Wait(ctx context.Context, done func([]Message) bool) ([]Message, error) {
	for {
		r.mu.Lock()
		msgs := slices.Clone(r.msgs)
		if done(msgs) {
			r.mu.Unlock()
			return msgs, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return msgs, ctx.Err()
		}
	}
}
