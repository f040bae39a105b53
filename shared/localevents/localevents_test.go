package localevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/emulators"
	"github.com/runyard/runyard/shared/emulators/emulatorstest"
)

// testTimeout bounds every wait for an event; generous, never asserted as a duration.
const testTimeout = 2 * time.Minute

// TestMain points the Pub/Sub client at an emulator: the one PUBSUB_EMULATOR_HOST names
// (`runyard testenv` sets it), else a Pub/Sub emulator started for this package.
func TestMain(m *testing.M) { os.Exit(emulatorstest.Run(m, emulators.PubSub)) }

func TestDeliverOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	project := projectFor(t)
	client := newClient(t, project)
	fn := newRecorder(nil)
	srv := serveEvents(t, fn)
	if err := EnsureTopics(ctx, client, "builds"); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, client, Config{Routes: []Route{{Topic: "builds", URL: srv.URL + "/OnBuild"}}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	data := []byte(`{"buildId":"build-1","status":"SUCCESS"}`)
	id := publish(t, ctx, client, "builds", data, map[string]string{"buildId": "build-1"})

	got := fn.next(t, ctx)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	sub := p.Subscriptions()[0]
	publishTime := got.data.Message.PublishTime
	want := seen{
		specVersion: "1.0",
		id:          id,
		typ:         MessagePublishedType,
		source:      "//pubsub.googleapis.com/projects/" + project + "/topics/builds",
		contentType: "application/json",
		time:        publishTime,
		data: MessagePublishedData{
			Message: PubsubMessage{
				Data:             data,
				Attributes:       map[string]string{"buildId": "build-1"},
				MessageID:        id,
				MessageIDSnake:   id,
				PublishTime:      publishTime,
				PublishTimeSnake: publishTime,
			},
			Subscription: sub,
		},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	if _, err := time.Parse(time.RFC3339Nano, publishTime); err != nil {
		t.Errorf("publishTime %q is not RFC 3339: %v", publishTime, err)
	}
	if n := fn.count(); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
	if n := pending(t, ctx, client, sub); n != 0 {
		t.Errorf("%d messages left on the subscription after the ack, want 0", n)
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := newClient(t, projectFor(t))
	failures := 2
	fn := newRecorder(func(n int, _ seen) error {
		if n <= failures {
			return fmt.Errorf("attempt %d fails", n)
		}
		return nil
	})
	srv := serveEvents(t, fn)
	if err := EnsureTopics(ctx, client, "runs"); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, client, Config{Routes: []Route{{Topic: "runs", URL: srv.URL}}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	id := publish(t, ctx, client, "runs", []byte(`{}`), nil)

	var ids []string
	for range failures + 1 {
		ids = append(ids, fn.next(t, ctx).id)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if diff := cmp.Diff([]string{id, id, id}, ids); diff != "" {
		t.Errorf("delivered ids mismatch (-want +got):\n%s", diff)
	}
	if n := fn.count(); n != failures+1 {
		t.Errorf("delivered %d times, want %d", n, failures+1)
	}
	if n := pending(t, ctx, client, p.Subscriptions()[0]); n != 0 {
		t.Errorf("%d messages left on the subscription after success, want 0", n)
	}
}

func TestFailingMessageDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := newClient(t, projectFor(t))
	fn := newRecorder(func(_ int, s seen) error {
		if string(s.data.Message.Data) == `"bad"` {
			return errors.New("always fails")
		}
		return nil
	})
	srv := serveEvents(t, fn)
	if err := EnsureTopics(ctx, client, "mixed"); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, client, Config{Routes: []Route{{Topic: "mixed", URL: srv.URL}}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	publish(t, ctx, client, "mixed", []byte(`"bad"`), nil)
	// Wait until the bad message has failed twice, so it is being retried, then send a good one.
	for n := 0; n < 2; {
		if string(fn.next(t, ctx).data.Message.Data) == `"bad"` {
			n++
		}
	}
	goodID := publish(t, ctx, client, "mixed", []byte(`"good"`), nil)
	for fn.next(t, ctx).id != goodID {
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The good message is acked; the bad one went back to the subscription on Close, so a new
	// Pusher on the same subscription gets it (and only it).
	fixed := newRecorder(nil)
	srv2 := serveEvents(t, fixed)
	p2, err := Start(ctx, client, Config{Routes: []Route{{Topic: "mixed", URL: srv2.URL, Subscription: p.Subscriptions()[0]}}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Close() })
	if got := string(fixed.next(t, ctx).data.Message.Data); got != `"bad"` {
		t.Errorf("after restart got %s, want the failing message \"bad\"", got)
	}
}

func TestTwoTopicsTwoURLs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	project := projectFor(t)
	client := newClient(t, project)
	fnA, fnB := newRecorder(nil), newRecorder(nil)
	srvA, srvB := serveEvents(t, fnA), serveEvents(t, fnB)
	if err := EnsureTopics(ctx, client, "topic-a", "topic-b"); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, client, Config{
		ProjectID: project,
		Routes:    []Route{{Topic: "topic-a", URL: srvA.URL + "/A"}, {Topic: "topic-b", URL: srvB.URL + "/B"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	idA := publish(t, ctx, client, "topic-a", []byte(`"a"`), nil)
	idB := publish(t, ctx, client, "topic-b", []byte(`"b"`), nil)

	type delivered struct{ ID, Source, Data string }
	gotA, gotB := fnA.next(t, ctx), fnB.next(t, ctx)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tests := []struct {
		name  string
		got   seen
		count int
		want  delivered
	}{
		{name: "topic-a", got: gotA, count: fnA.count(), want: delivered{idA, "//pubsub.googleapis.com/projects/" + project + "/topics/topic-a", `"a"`}},
		{name: "topic-b", got: gotB, count: fnB.count(), want: delivered{idB, "//pubsub.googleapis.com/projects/" + project + "/topics/topic-b", `"b"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := delivered{tc.got.id, tc.got.source, string(tc.got.data.Message.Data)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("delivery mismatch (-want +got):\n%s", diff)
			}
			if tc.count != 1 {
				t.Errorf("URL got %d deliveries, want 1", tc.count)
			}
		})
	}
}

func TestEnsureIdempotent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	project := projectFor(t)
	client := newClient(t, project)
	for range 2 {
		if err := EnsureTopics(ctx, client, "topic-1", "projects/"+project+"/topics/topic-2"); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
		if err := EnsureSubscription(ctx, client, project, "sub-1", "topic-1"); err != nil {
			t.Fatalf("EnsureSubscription: %v", err)
		}
	}
	for _, name := range []string{"projects/" + project + "/topics/topic-1", "projects/" + project + "/topics/topic-2"} {
		if _, err := client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name}); err != nil {
			t.Errorf("GetTopic(%s): %v", name, err)
		}
	}
}

func TestStartValidation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := newClient(t, projectFor(t))
	tests := []struct {
		name    string
		client  *pubsub.Client
		cfg     Config
		wantErr string
	}{
		{name: "nil client", cfg: Config{}, wantErr: "nil client"},
		{name: "route without URL", client: client, cfg: Config{Routes: []Route{{Topic: "x"}}}, wantErr: "route 0: Topic and URL are required"},
		{name: "missing topic", client: client, cfg: Config{Routes: []Route{{Topic: "nope", URL: "http://127.0.0.1:1/"}}}, wantErr: "create subscription"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Start(ctx, tc.client, tc.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("Start succeeded, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestRequestShape checks the exact headers and body against the Eventarc example in
// gcp-notes §4.2, without an emulator.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	publishTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		msg         *pubsub.Message
		topic       string
		wantHeaders http.Header
		wantBody    string
	}{
		{
			name:  "with attributes",
			msg:   &pubsub.Message{ID: "111", Data: []byte(`{"id":"b"}`), Attributes: map[string]string{"buildId": "build-1"}, PublishTime: publishTime},
			topic: "cloud-builds",
			wantHeaders: http.Header{
				"Content-Type":   {"application/json"},
				"Ce-Specversion": {"1.0"},
				"Ce-Type":        {"google.cloud.pubsub.topic.v1.messagePublished"},
				"Ce-Source":      {"//pubsub.googleapis.com/projects/demo/topics/cloud-builds"},
				"Ce-Id":          {"111"},
				"Ce-Time":        {"2026-01-01T00:00:00Z"},
			},
			wantBody: `{"message":{"data":"eyJpZCI6ImIifQ==","attributes":{"buildId":"build-1"},"messageId":"111","message_id":"111","publishTime":"2026-01-01T00:00:00Z","publish_time":"2026-01-01T00:00:00Z"},"subscription":"projects/demo/subscriptions/s"}`,
		},
		{
			name:  "full topic name, no attributes, ordering key",
			msg:   &pubsub.Message{ID: "7", Data: []byte("x"), OrderingKey: "k", PublishTime: publishTime.Add(123 * time.Millisecond)},
			topic: "projects/demo/topics/t",
			wantHeaders: http.Header{
				"Content-Type":   {"application/json"},
				"Ce-Specversion": {"1.0"},
				"Ce-Type":        {"google.cloud.pubsub.topic.v1.messagePublished"},
				"Ce-Source":      {"//pubsub.googleapis.com/projects/demo/topics/t"},
				"Ce-Id":          {"7"},
				"Ce-Time":        {"2026-01-01T00:00:00.123Z"},
			},
			wantBody: `{"message":{"data":"eA==","messageId":"7","message_id":"7","publishTime":"2026-01-01T00:00:00.123Z","publish_time":"2026-01-01T00:00:00.123Z","orderingKey":"k"},"subscription":"projects/demo/subscriptions/s"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := encode("demo", tc.topic, "projects/demo/subscriptions/s", tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantHeaders, d.headers); diff != "" {
				t.Errorf("headers mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBody, string(d.body)); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// seen is what the event function observed for one delivery.
type seen struct {
	specVersion, id, typ, source, contentType, time string
	data                                            MessagePublishedData
}

// recorder is an event function that records deliveries and answers with fail's result.
type recorder struct {
	fail func(n int, s seen) error // n counts deliveries from 1; nil always succeeds
	ch   chan seen
	mu   sync.Mutex
	n    int
}

func newRecorder(fail func(n int, s seen) error) *recorder {
	return &recorder{fail: fail, ch: make(chan seen, 1000)}
}

func (r *recorder) handle(_ context.Context, e event.Event) error {
	s := seen{
		specVersion: e.SpecVersion(),
		id:          e.ID(),
		typ:         e.Type(),
		source:      e.Source(),
		contentType: e.DataContentType(),
		time:        e.Time().UTC().Format(time.RFC3339Nano),
	}
	if err := e.DataAs(&s.data); err != nil {
		return fmt.Errorf("decode messagePublished data: %w", err)
	}
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	r.ch <- s
	if r.fail != nil {
		return r.fail(n, s)
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// next waits for the next delivery.
func (r *recorder) next(tb testing.TB, ctx context.Context) seen {
	tb.Helper()
	select {
	case s := <-r.ch:
		return s
	case <-ctx.Done():
		tb.Fatalf("no delivery: %v", ctx.Err())
		return seen{}
	}
}

// serveEvents serves fn with the CloudEvents SDK handler functions-framework-go uses.
func serveEvents(tb testing.TB, r *recorder) *httptest.Server {
	tb.Helper()
	proto, err := cloudevents.NewHTTP()
	if err != nil {
		tb.Fatal(err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(context.Background(), proto, r.handle)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// quietLogger drops the retry warnings of tests that fail deliveries on purpose.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// projectFor gives each test its own emulator project, so tests share nothing.
func projectFor(tb testing.TB) string {
	p := "le-" + strings.Trim(nonID.ReplaceAllString(strings.ToLower(tb.Name()), "-"), "-")
	return p[:min(len(p), 30)]
}

func newClient(tb testing.TB, project string) *pubsub.Client {
	tb.Helper()
	c, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		tb.Fatalf("pubsub.NewClient: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func publish(tb testing.TB, ctx context.Context, c *pubsub.Client, topic string, data []byte, attrs map[string]string) string {
	tb.Helper()
	pub := c.Publisher(topic)
	defer pub.Stop()
	id, err := pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		tb.Fatalf("publish to %s: %v", topic, err)
	}
	return id
}

// pending counts the messages a synchronous pull gets from sub right now, and leaves them
// there (it does not ack).
func pending(tb testing.TB, ctx context.Context, c *pubsub.Client, sub string) int {
	tb.Helper()
	// ReturnImmediately is deprecated for production (it may answer empty while messages
	// exist); here that can only hide a leftover, never invent one, and it never blocks.
	//lint:ignore SA1019 see above
	resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true})
	if err != nil {
		tb.Fatalf("pull %s: %v", sub, err)
	}
	return len(resp.ReceivedMessages)
}

func TestMessagePublishedDataJSON(t *testing.T) {
	t.Parallel()
	// The struct must decode what Eventarc sends (camelCase and snake_case both present).
	in := `{"message":{"data":"eA==","attributes":{"a":"b"},"messageId":"1","message_id":"1","publishTime":"2026-01-01T00:00:00Z","publish_time":"2026-01-01T00:00:00Z"},"subscription":"projects/p/subscriptions/s"}`
	var got MessagePublishedData
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := MessagePublishedData{
		Message:      PubsubMessage{Data: []byte("x"), Attributes: map[string]string{"a": "b"}, MessageID: "1", MessageIDSnake: "1", PublishTime: "2026-01-01T00:00:00Z", PublishTimeSnake: "2026-01-01T00:00:00Z"},
		Subscription: "projects/p/subscriptions/s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decode mismatch (-want +got):\n%s", diff)
	}
}
