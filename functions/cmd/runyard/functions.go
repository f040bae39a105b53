package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/functions/buildevents"
	"github.com/runyard/runyard/functions/gateway"
	"github.com/runyard/runyard/functions/githubhook"
	"github.com/runyard/runyard/functions/runtimeapi"
	"github.com/runyard/runyard/functions/stripehook"
	"github.com/runyard/runyard/functions/sweeper"
	fnusage "github.com/runyard/runyard/functions/usage"
	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	deploylocal "github.com/runyard/runyard/shared/deploy/local"
	"github.com/runyard/runyard/shared/events"
	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/sources"
)

// devEnv is what the local stack hands each function it builds.
type devEnv struct {
	projectID string
	dev       *auth.DevTokens
	base      string // http://127.0.0.1:PORT
	secrets   secrets.Manager
	builder   build.Builder
	publisher events.Publisher
	sources   sources.Store
	builds    *build.Service
	deployer  deploy.Deployer
	// runtimes continues runtimes waiting on builds (buildevents).
	runtimes *runtime.Orchestrator
	// previewHost is "localhost:PORT": preview URLs are http://{port}-{runtime}.{previewHost}/.
	previewHost string
	// billing is the api's, runtimeapi's and sweeper's billing configuration (devBilling).
	billing stripe.EnvConfig
	// identity records tenant service accounts and grants (no cloud calls).
	identity identity.Manager
	// previewKey signs preview links (the api mints them, the gateway checks them).
	previewKey config.Secret
	// local is the local runtime driver (the gateway's upstream).
	local *deploylocal.Driver
}

// localRuntimes is the runtime settings of the local stack: one cell, tenant identities
// recorded by the local identity adapter.
func localRuntimes(e devEnv) cloudrun.EnvConfig {
	return cloudrun.EnvConfig{Cells: []string{localCell(e.projectID)}, IngressImage: "local", Identity: cloudrun.IdentityTenant}
}

// localDomain puts c in domain mode under host ("localhost:PORT"), served over http.
func localDomain(c cloudrun.EnvConfig, host string) cloudrun.EnvConfig {
	c.RuntimeDomain, c.RuntimeScheme = host, "http"
	return c
}

// localCell is the one cell of the local stack.
func localCell(project string) string { return "local:" + project + ":local:50" }

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
	build func(ctx context.Context, e devEnv) (func(context.Context, event.Event) error, error)
}

// devBilling is the local stack's billing configuration, from the environment like a deployed
// function's: off unless STRIPE_SECRET_KEY is set (a test key, with STRIPE_API_URL pointing at
// stripe-mock, or Stripe's test mode); prices from PRICE_* or their defaults.
func devBilling(ctx context.Context) (stripe.EnvConfig, error) {
	var b stripe.EnvConfig
	if err := config.Load(ctx, &b); err != nil {
		return stripe.EnvConfig{}, fmt.Errorf("billing settings: %w", err)
	}
	return b, nil
}

// devAudience is the ID token audience of the local stack.
const devAudience = "runyard-local"

// httpFunctions lists every HTTP function; each new function adds itself here.
var httpFunctions = []httpFunction{
	{name: api.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
		return api.Build(ctx, api.Config{
			ProjectID: e.projectID, Audiences: []string{devAudience},
			RequestTimeout: api.DefaultRequestTimeout, MaxBodyBytes: api.DefaultMaxBodyBytes,
			MaxUploadBytes: api.DefaultMaxUploadBytes, BuildAllowedHosts: build.DefaultAllowedHosts,
			Repos: repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: e.base + "/" + githubhook.FunctionName},
			// Domain mode, as the gateway serves it on *.localhost: the api's runtime URLs are
			// http://{runtime}.localhost:PORT, vscode-…, {port}-… (runtimeapi keeps the direct
			// URLs locally: OpenHands' server-side clients do not resolve *.localhost).
			Runtimes:    localDomain(localRuntimes(e), e.previewHost),
			PreviewHost: e.previewHost, PreviewLinkKey: e.previewKey,
			Billing: e.billing,
		}, api.Options{Logger: logging.FromContext(ctx), Dev: e.dev, Secrets: e.secrets, Builder: e.builder, Sources: e.sources,
			Deployer: e.deployer, Identity: e.identity, Publisher: e.publisher})
	}},
	{name: runtimeapi.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
		return runtimeapi.Build(ctx, runtimeapi.Config{
			ProjectID: e.projectID, RequestTimeout: runtimeapi.DefaultRequestTimeout,
			MaxBodyBytes: runtimeapi.DefaultMaxBodyBytes, AliveTimeout: runtimeapi.DefaultAliveTimeout,
			Runtimes: localRuntimes(e),
			Billing:  e.billing,
		}, runtimeapi.Options{Logger: logging.FromContext(ctx), Builder: e.builder, Deployer: e.deployer, LocalImages: true,
			Identity: e.identity, Publisher: e.publisher})
	}},
	{name: githubhook.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
		return githubhook.Build(ctx, githubhook.Config{ProjectID: e.projectID, RequestTimeout: githubhook.DefaultRequestTimeout,
			MaxBodyBytes: githubhook.DefaultMaxBodyBytes, DeliveryTTL: githubhook.DefaultDeliveryTTL},
			githubhook.Options{Logger: logging.FromContext(ctx), Secrets: e.secrets, Prebuilder: e.builds})
	}},
	{name: stripehook.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
		// Off (501 billing_disabled) unless a signing secret is in the environment, e.g. from
		// `stripe listen --forward-to 127.0.0.1:8080/stripehook/v1/events`.
		return stripehook.Build(ctx, stripehook.Config{ProjectID: e.projectID, WebhookSecret: config.Secret(os.Getenv("STRIPE_WEBHOOK_SECRET")),
			Tolerance: stripehook.DefaultTolerance, EventTTL: stripehook.DefaultEventTTL, RequestTimeout: stripehook.DefaultRequestTimeout,
			MaxBodyBytes: stripehook.DefaultMaxBodyBytes}, stripehook.Options{Logger: logging.FromContext(ctx)})
	}},
}

// gatewayFunction is the gateway (domain mode). It is not mounted under /gateway/: runyard dev
// serves it on every runtime host under localhost ({runtime}.localhost:PORT, vscode-…,
// work-1-…, {port}-…), with the local driver as its upstream.
var gatewayFunction = httpFunction{name: gateway.FunctionName, build: func(ctx context.Context, e devEnv) (http.Handler, error) {
	return gateway.Build(ctx, gateway.Config{ProjectID: e.projectID, RuntimeDomain: deploylocal.PreviewDomain, PreviewKey: e.previewKey,
		CacheTTL: gateway.DefaultCacheTTL, CacheSize: gateway.DefaultCacheSize, DialTimeout: gateway.DefaultDialTimeout,
		LookupTimeout: gateway.DefaultLookupTimeout}, gateway.Options{Logger: logging.FromContext(ctx), Local: e.local.ServePort})
}}

// eventFunctions lists every event function and its trigger topic.
var eventFunctions = []eventFunction{
	{name: buildevents.FunctionName, topic: TopicCloudBuilds, build: func(ctx context.Context, e devEnv) (func(context.Context, event.Event) error, error) {
		h, err := buildevents.Build(ctx, buildevents.Config{ProjectID: e.projectID, FinishedTopic: TopicBuildEvents},
			buildevents.Options{Logger: logging.FromContext(ctx), Publisher: e.publisher, Continuer: e.runtimes})
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}},
	{name: fnusage.FunctionName, topic: TopicUsage, build: func(ctx context.Context, e devEnv) (func(context.Context, event.Event) error, error) {
		// Billing is off locally unless STRIPE_SECRET_KEY is set (STRIPE_API_URL may point at
		// stripe-mock): usage is recorded and acknowledged either way.
		h, err := fnusage.Build(ctx, fnusage.Config{ProjectID: e.projectID, StripeSecretKey: config.Secret(os.Getenv("STRIPE_SECRET_KEY")),
			StripeAPIURL: os.Getenv("STRIPE_API_URL"), StripeTimeout: 10 * time.Second, StripeMaxRetries: 2},
			fnusage.Options{Logger: logging.FromContext(ctx)})
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}},
	{name: sweeper.FunctionName, topic: TopicSweeperTick, build: func(ctx context.Context, e devEnv) (func(context.Context, event.Event) error, error) {
		h, err := sweeper.Build(ctx, sweeper.Config{ProjectID: e.projectID, MaxPerTick: sweeper.DefaultMaxPerTick,
			StuckAfter: sweeper.DefaultStuckAfter, LeaseTTL: sweeper.DefaultLeaseTTL, TickTimeout: sweeper.DefaultTickTimeout,
			Runtimes: cloudrun.EnvConfig{Cells: []string{localCell(e.projectID)}, IngressImage: "local"}, Billing: e.billing},
			sweeper.Options{Logger: logging.FromContext(ctx), Deployer: e.deployer, Publisher: e.publisher})
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}},
}

// Topics of the architecture, created by `runyard dev` whether or not a function uses them yet.
const (
	TopicCloudBuilds = "cloud-builds"
	TopicUsage       = "usage"
	TopicSweeperTick = "sweeper-tick"
	TopicBuildEvents = "build-events"
)

var devTopics = []string{TopicCloudBuilds, TopicUsage, TopicSweeperTick, TopicBuildEvents}

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
