package main

import (
	"context"
	"fmt"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/secrets"
)

// devEnv is what the local stack hands each function it builds.
type devEnv struct {
	projectID string
	dev       *auth.DevTokens
	base      string // http://127.0.0.1:PORT
	secrets   secrets.Manager
}

// httpFunction is an HTTP function served under /<name>/.
type httpFunction struct {
	name  string
	build func(ctx context.Context, e devEnv) (http.Handler, error)
}

// eventFunction is a CloudEvent function served under /<name>/ and fed, as Eventarc does,
// from a Pub/Sub topic.
type eventFunction struct {
	name  string
	topic string
	fn    func(ctx context.Context, e event.Event) error
}

// devAudience is the ID token audience of the local stack.
const devAudience = "runyard-local"

// httpFunctions lists every HTTP function; each new function adds itself here.
var httpFunctions = []httpFunction{
	{name: api.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
		return api.Build(ctx, api.Config{
			ProjectID: e.projectID, Audiences: []string{devAudience},
			RequestTimeout: api.DefaultRequestTimeout, MaxBodyBytes: api.DefaultMaxBodyBytes,
		}, api.Options{Logger: logging.FromContext(ctx), Dev: e.dev, Secrets: e.secrets})
	}},
}

// eventFunctions lists every event function and its trigger topic.
var eventFunctions []eventFunction

// Topics of the architecture, created by `runyard dev` whether or not a function uses them yet.
const (
	TopicCloudBuilds = "cloud-builds"
	TopicUsage       = "usage"
	TopicSweeperTick = "sweeper-tick"
)

var devTopics = []string{TopicCloudBuilds, TopicUsage, TopicSweeperTick}

// eventHandler serves fn as the functions framework does for a CloudEvent function: binary or
// structured CloudEvents in, 2xx when fn returns nil, 500 (so the sender redelivers) when not.
func eventHandler(ctx context.Context, fn func(context.Context, event.Event) error) (http.Handler, error) {
	p, err := cloudevents.NewHTTP()
	if err != nil {
		return nil, fmt.Errorf("cloudevents.NewHTTP: %w", err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, e event.Event) error {
		if err := fn(ctx, e); err != nil {
			return cloudevents.NewHTTPResult(http.StatusInternalServerError, "%s", err.Error())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cloudevents.NewHTTPReceiveHandler: %w", err)
	}
	return h, nil
}
