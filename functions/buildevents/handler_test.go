package buildevents_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runyard/runyard/functions/buildevents"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/buildtest"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/events/eventstest"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/usage"
)

type fixture struct {
	srv    *httptest.Server
	cb     *buildtest.FakeCloudBuild
	builds *build.Service
	pub    *eventstest.Recorder
	msgs   atomic.Int64
	// usage records build minutes; usagePub receives its events.
	usage    *usage.Service
	usagePub *eventstest.Recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cb, client := buildtest.NewFake(t)
	builder := cloudbuild.NewFromClient(client, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: "us-central1-docker.pkg.dev/test-project/runyard"})
	st := storetest.NewEmulatorStore(t)
	svc, err := build.NewService(st, builder)
	if err != nil {
		t.Fatal(err)
	}
	pub := &eventstest.Recorder{}
	h, err := buildevents.NewHandler(svc, pub, "build-events", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	usagePub := &eventstest.Recorder{}
	use, err := usage.NewService(st, usage.Options{Publisher: usagePub})
	if err != nil {
		t.Fatal(err)
	}
	h.WithUsage(use)
	// Served the way the functions framework serves a CloudEvent function.
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	rh, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(ctx context.Context, e cloudevents.Event) error {
		if err := h.Handle(ctx, e); err != nil {
			return cloudevents.NewHTTPResult(http.StatusInternalServerError, "%s", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rh)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, cb: cb, builds: svc, pub: pub, usage: use, usagePub: usagePub}
}

// deliver POSTs a Cloud Build notification as Eventarc does: a binary-mode CloudEvent of type
// messagePublished whose data is testdata/eventarc-envelope.json around the Build JSON.
func (f *fixture) deliver(t *testing.T, b *cloudbuildpb.Build) int {
	t.Helper()
	attrs, data, err := cloudbuild.EncodeNotification(b)
	if err != nil {
		t.Fatal(err)
	}
	return f.deliverRaw(t, attrs["buildId"], attrs["status"], data)
}

func (f *fixture) deliverRaw(t *testing.T, buildID, status string, data []byte) int {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/eventarc-envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(f.msgs.Add(1))
	body := strings.NewReplacer("{{DATA}}", base64.StdEncoding.EncodeToString(data), "{{BUILD_ID}}", buildID,
		"{{STATUS}}", status, "{{MESSAGE_ID}}", id).Replace(string(tmpl))
	req, _ := http.NewRequest("POST", f.srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", buildevents.MessagePublishedType)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/runyard-prod/topics/cloud-builds")
	req.Header.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fixture) start(t *testing.T, commit string) build.Record {
	t.Helper()
	r, err := f.builds.Create(context.Background(), "acme", build.Spec{Source: build.Source{RepoURL: "https://github.com/acme/app", Commit: commit},
		CacheKey: build.GitCacheKey("https://github.com/acme/app", commit)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestDuplicatesAndReordering(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, strings.Repeat("1", 40))
	working := f.cb.SetStatus(r.ExternalID, cloudbuildpb.Build_WORKING, "")
	workingCopy := snapshot(working)
	success := snapshot(f.cb.SetStatus(r.ExternalID, cloudbuildpb.Build_SUCCESS, digest))
	// SUCCESS arrives first, then the late WORKING, then SUCCESS again.
	for i, b := range []*cloudbuildpb.Build{success, workingCopy, success, workingCopy} {
		if code := f.deliver(t, b); code/100 != 2 {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	got, err := f.builds.Get(context.Background(), "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != build.StatusSuccess || got.Digest == "" || got.FinishedAt == nil {
		t.Errorf("record %+v", got)
	}
	msgs := f.pub.Messages()
	if len(msgs) == 0 {
		t.Fatal("no build.finished published")
	}
	for _, m := range msgs {
		var fin buildevents.Finished
		if err := json.Unmarshal(m.Data, &fin); err != nil || m.Topic != "build-events" || m.Attrs["type"] != buildevents.FinishedType ||
			fin.BuildID != r.ID || fin.Status != build.StatusSuccess || fin.Digest == "" {
			t.Errorf("published %+v (%v)", m, err)
		}
	}
	// The next request for that commit is answered from the cache.
	again := f.start(t, strings.Repeat("1", 40))
	if !again.Cached {
		t.Errorf("after SUCCESS the commit is not cached: %+v", again)
	}
}

func TestPublishFailureIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, strings.Repeat("2", 40))
	failure := snapshot(f.cb.SetStatus(r.ExternalID, cloudbuildpb.Build_FAILURE, ""))
	f.pub.FailNext(errors.New("pubsub down"))
	if code := f.deliver(t, failure); code != 500 {
		t.Fatalf("publish failure answered %d, want 500 so Eventarc redelivers", code)
	}
	if code := f.deliver(t, failure); code/100 != 2 {
		t.Fatalf("redelivery answered %d", code)
	}
	if n := len(f.pub.Messages()); n != 1 {
		t.Errorf("%d build.finished messages after the redelivery, want 1", n)
	}
	got, _ := f.builds.Get(context.Background(), "acme", r.ID)
	if got.Status != build.StatusFailure {
		t.Errorf("status %s", got.Status)
	}
}

func TestAcknowledgedAndIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	foreign, err := os.ReadFile("../../shared/build/cloudbuild/testdata/foreign.json")
	if err != nil {
		t.Fatal(err)
	}
	unknown := &cloudbuildpb.Build{Id: "no-such-build", Status: cloudbuildpb.Build_SUCCESS, Tags: build.Tags("acme", "nosuchbuild"),
		Results: &cloudbuildpb.Results{Images: []*cloudbuildpb.BuiltImage{{Name: "x", Digest: digest}}}}
	tests := []struct {
		name string
		send func() int
	}{
		{"foreign build", func() int { return f.deliverRaw(t, "f00", "SUCCESS", foreign) }},
		{"unknown build", func() int { return f.deliver(t, unknown) }},
		{"malformed build json", func() int { return f.deliverRaw(t, "x", "SUCCESS", []byte("{not json")) }},
		{"empty data", func() int { return f.deliverRaw(t, "x", "SUCCESS", nil) }},
	}
	for _, tc := range tests {
		if code := tc.send(); code/100 != 2 {
			t.Errorf("%s: status %d, want 2xx (acknowledged)", tc.name, code)
		}
	}
	if n := len(f.pub.Messages()); n != 0 {
		t.Errorf("%d events published for builds that are not ours", n)
	}
}

// snapshot copies a build (the fake keeps mutating its own).
func snapshot(b *cloudbuildpb.Build) *cloudbuildpb.Build { return proto.Clone(b).(*cloudbuildpb.Build) }

// TestBuildMinutesRecordedOnce: a finished build's minutes are recorded and published once,
// however often its terminal notification is delivered, and also when the first delivery
// failed after the record was written.
func TestBuildMinutesRecordedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, strings.Repeat("3", 40))
	f.cb.SetStatus(r.ExternalID, cloudbuildpb.Build_WORKING, "")
	success := snapshot(f.cb.SetStatus(r.ExternalID, cloudbuildpb.Build_SUCCESS, digest))
	success.StartTime = timestamppb.New(success.GetFinishTime().AsTime().Add(-150 * time.Second))
	f.pub.FailNext(errors.New("pubsub down"))
	if code := f.deliver(t, success); code != 500 {
		t.Fatalf("first delivery answered %d, want 500", code)
	}
	for i := range 3 {
		if code := f.deliver(t, success); code/100 != 2 {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	p, err := f.usage.Get(context.Background(), "acme", usage.BuildPeriodID(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != usage.KindBuild || p.BuildMinutes != 3 || p.Status != usage.StatusClosed || p.Outbox {
		t.Errorf("build period %+v, want 3 minutes, closed and published", p)
	}
	if n := len(f.usagePub.Messages()); n != 1 {
		t.Errorf("%d usage events, want 1", n)
	}
}
