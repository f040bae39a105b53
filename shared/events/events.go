// Package events is the port for publishing events between Runyard's functions (build
// notifications, usage periods …): a topic, a payload and string attributes, as Pub/Sub
// carries them. Adapters: events/pubsub (Pub/Sub and its emulator); eventstest.Recorder
// records calls for tests.
package events

import (
	"context"
	"errors"
)

// Publisher publishes one message to a topic and returns its id once the backend has it.
// topic is a topic id ("cloud-builds") or a full name ("projects/p/topics/cloud-builds").
type Publisher interface {
	Publish(ctx context.Context, topic string, data []byte, attrs map[string]string) (id string, err error)
}

// Errors publishers return.
var (
	// ErrClosed: the publisher was closed.
	ErrClosed = errors.New("events: publisher closed")
	// ErrTopicNotFound: the topic does not exist.
	ErrTopicNotFound = errors.New("events: topic not found")
	// ErrInvalid: an empty topic or an unusable message.
	ErrInvalid = errors.New("events: invalid message")
)
