package cloudbuild_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/cloudbuild"
)

const (
	sampleID    = "5d2e1f0a-8b7c-4d6e-9f1a-2b3c4d5e6f70"
	sampleRepo  = "us-central1-docker.pkg.dev/runyard-prod/runyard-images"
	sampleLog   = "https://console.cloud.google.com/cloud-build/builds;region=us-central1/" + sampleID + "?project=123456789012"
	packDigest  = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	dockerImage = sampleRepo + "/globex:b-7"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecodeNotificationTestdata(t *testing.T) {
	t.Parallel()
	acme := func(status build.Status) build.Event {
		return build.Event{
			ExternalID: sampleID, Status: status, Tenant: "acme", BuildID: "b-01JD5Q8Z",
			Image: sampleRepo + "/acme:b-01JD5Q8Z", LogURL: sampleLog,
		}
	}
	working := acme(build.StatusWorking)
	working.StartTime = ts("2026-11-23T15:00:07.5Z")
	successPack := working
	successPack.Status = build.StatusSuccess
	successPack.FinishTime = ts("2026-11-23T15:03:41.25Z")
	successPack.Digest = packDigest
	failure := working
	failure.Status = build.StatusFailure
	failure.FinishTime = ts("2026-11-23T15:01:02Z")
	failure.Detail = `Build step failure: build step 0 "gcr.io/k8s-skaffold/pack" failed: step exited with non-zero status: 1`
	timeout := working
	timeout.Status = build.StatusTimeout
	timeout.FinishTime = ts("2026-11-23T15:20:07.5Z")
	timeout.Detail = "Build timeout after 1200s"

	tests := []struct {
		name    string
		file    string
		attrs   map[string]string
		want    build.Event
		wantErr error
	}{
		{"queued", "queued.json", map[string]string{"buildId": sampleID, "status": "QUEUED"}, acme(build.StatusQueued), nil},
		{"working with unknown fields", "working.json", map[string]string{"buildId": sampleID, "status": "WORKING"}, working, nil},
		{"success of a pack build", "success_pack.json", map[string]string{"buildId": sampleID, "status": "SUCCESS"}, successPack, nil},
		{"success of a docker build", "success.json", map[string]string{"buildId": "0c9b8a7f-6e5d-4c3b-a291-8f7e6d5c4b3a", "status": "SUCCESS"}, build.Event{
			ExternalID: "0c9b8a7f-6e5d-4c3b-a291-8f7e6d5c4b3a", Status: build.StatusSuccess, Tenant: "globex", BuildID: "b-7",
			Image:     dockerImage,
			Digest:    "sha256:3b1f8c2a9e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3",
			LogURL:    "https://console.cloud.google.com/cloud-build/builds;region=us-central1/0c9b8a7f-6e5d-4c3b-a291-8f7e6d5c4b3a?project=123456789012",
			StartTime: ts("2026-11-23T16:10:00Z"), FinishTime: ts("2026-11-23T16:12:30Z"),
		}, nil},
		{"failure", "failure.json", map[string]string{"buildId": sampleID, "status": "FAILURE"}, failure, nil},
		{"timeout", "timeout.json", map[string]string{"buildId": sampleID, "status": "TIMEOUT"}, timeout, nil},
		{"no attributes", "queued.json", nil, acme(build.StatusQueued), nil},
		{"foreign build", "foreign.json", map[string]string{"buildId": "11111111-2222-4333-8444-555555555555", "status": "SUCCESS"}, build.Event{}, cloudbuild.ErrNotOurs},
		{"buildId attribute disagrees", "queued.json", map[string]string{"buildId": "other"}, build.Event{}, cloudbuild.ErrMalformedNotification},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloudbuild.DecodeNotification(tc.attrs, readTestdata(t, tc.file))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("DecodeNotification = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecodeNotification (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNotificationMalformed(t *testing.T) {
	t.Parallel()
	tags := `"tags":["runyard","tenant-acme","build-b1"]`
	tests := []struct {
		name    string
		attrs   map[string]string
		data    string
		wantErr error
	}{
		{"empty", nil, ``, cloudbuild.ErrMalformedNotification},
		{"not json", nil, `not json`, cloudbuild.ErrMalformedNotification},
		{"json array", nil, `[]`, cloudbuild.ErrMalformedNotification},
		{"wrong type", nil, `{"id":"x","status":7.5,` + tags + `}`, cloudbuild.ErrMalformedNotification},
		{"unknown status name", nil, `{"id":"x","status":"EXPLODED",` + tags + `}`, cloudbuild.ErrMalformedNotification},
		{"no id anywhere", nil, `{"status":"QUEUED",` + tags + `}`, cloudbuild.ErrMalformedNotification},
		{"status unknown", nil, `{"id":"x","status":"STATUS_UNKNOWN",` + tags + `}`, cloudbuild.ErrMalformedNotification},
		{"no status", nil, `{"id":"x",` + tags + `}`, cloudbuild.ErrMalformedNotification},
		{"not ours wins over a bad status", nil, `{"id":"x","status":"STATUS_UNKNOWN","tags":["x"]}`, cloudbuild.ErrNotOurs},
		{"runyard tag without tenant", nil, `{"id":"x","status":"QUEUED","tags":["runyard","build-b1"]}`, cloudbuild.ErrNotOurs},
		{"id from the attribute", map[string]string{"buildId": "x"}, `{"status":"QUEUED",` + tags + `}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := cloudbuild.DecodeNotification(tc.attrs, []byte(tc.data))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("DecodeNotification = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeNotificationStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   cloudbuildpb.Build_Status
		want build.Status
	}{
		{"pending", cloudbuildpb.Build_PENDING, build.StatusQueued},
		{"queued", cloudbuildpb.Build_QUEUED, build.StatusQueued},
		{"working", cloudbuildpb.Build_WORKING, build.StatusWorking},
		{"success", cloudbuildpb.Build_SUCCESS, build.StatusSuccess},
		{"failure", cloudbuildpb.Build_FAILURE, build.StatusFailure},
		{"internal error", cloudbuildpb.Build_INTERNAL_ERROR, build.StatusFailure},
		{"timeout", cloudbuildpb.Build_TIMEOUT, build.StatusTimeout},
		{"expired", cloudbuildpb.Build_EXPIRED, build.StatusTimeout},
		{"cancelled", cloudbuildpb.Build_CANCELLED, build.StatusCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attrs, data, err := cloudbuild.EncodeNotification(&cloudbuildpb.Build{Id: "x", Status: tc.in, Tags: build.Tags("acme", "b1")})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := cloudbuild.DecodeNotification(attrs, data)
			if err != nil || ev.Status != tc.want {
				t.Errorf("DecodeNotification = %v, %v; want %s", ev.Status, err, tc.want)
			}
		})
	}
}

func TestEncodeNotification(t *testing.T) {
	t.Parallel()
	start, finish := ts("2026-11-23T15:00:07.5Z"), ts("2026-11-23T15:03:41.25Z")
	tests := []struct {
		name      string
		in        *cloudbuildpb.Build
		wantAttrs map[string]string
		want      build.Event
		wantErr   bool
	}{
		{
			name: "docker success",
			in: &cloudbuildpb.Build{
				Id: "b-uuid", Status: cloudbuildpb.Build_SUCCESS, Tags: append(build.Tags("acme", "b1"), "ck-x"),
				Images:  []string{sampleRepo + "/acme:b1", sampleRepo + "/acme-cache:latest"},
				Results: &cloudbuildpb.Results{Images: []*cloudbuildpb.BuiltImage{{Name: sampleRepo + "/acme:b1", Digest: packDigest}}},
				LogUrl:  "https://log", StartTime: timestamppb.New(start), FinishTime: timestamppb.New(finish),
				CreateTime: timestamppb.New(start),
			},
			wantAttrs: map[string]string{"buildId": "b-uuid", "status": "SUCCESS"},
			want: build.Event{ExternalID: "b-uuid", Status: build.StatusSuccess, Tenant: "acme", BuildID: "b1",
				Image: sampleRepo + "/acme:b1", Digest: packDigest, LogURL: "https://log", StartTime: start, FinishTime: finish},
		},
		{
			name: "failure with status detail only",
			in: &cloudbuildpb.Build{Id: "b-uuid", Status: cloudbuildpb.Build_INTERNAL_ERROR, Tags: build.Tags("acme", "b1"),
				StatusDetail: "internal error"},
			wantAttrs: map[string]string{"buildId": "b-uuid", "status": "INTERNAL_ERROR"},
			want:      build.Event{ExternalID: "b-uuid", Status: build.StatusFailure, Tenant: "acme", BuildID: "b1", Detail: "internal error"},
		},
		{
			name: "a digest that is not one is dropped",
			in: &cloudbuildpb.Build{Id: "b-uuid", Status: cloudbuildpb.Build_SUCCESS, Tags: build.Tags("acme", "b1"),
				Steps:   []*cloudbuildpb.BuildStep{{Id: cloudbuild.BuildStepID}, {Id: cloudbuild.DigestStepID, Env: []string{"IMAGE=img:b1"}}},
				Results: &cloudbuildpb.Results{BuildStepOutputs: [][]byte{nil, []byte("ERROR: (gcloud) denied\n")}}},
			wantAttrs: map[string]string{"buildId": "b-uuid", "status": "SUCCESS"},
			want:      build.Event{ExternalID: "b-uuid", Status: build.StatusSuccess, Tenant: "acme", BuildID: "b1", Image: "img:b1"},
		},
		{name: "nil", in: nil, wantErr: true},
		{name: "no id", in: &cloudbuildpb.Build{Status: cloudbuildpb.Build_QUEUED}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attrs, data, err := cloudbuild.EncodeNotification(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Error("EncodeNotification succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("EncodeNotification: %v", err)
			}
			if diff := cmp.Diff(tc.wantAttrs, attrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			// The data is what Cloud Build publishes: camelCase proto JSON with enum names.
			if !strings.Contains(string(data), `"status":"`+tc.wantAttrs["status"]+`"`) {
				t.Errorf("data %s does not carry the status by name", data)
			}
			var back cloudbuildpb.Build
			if err := protojson.Unmarshal(data, &back); err != nil {
				t.Fatalf("data is not a proto-JSON Build: %v", err)
			}
			if diff := cmp.Diff(tc.in, &back, protocmp.Transform()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			ev, err := cloudbuild.DecodeNotification(attrs, data)
			if err != nil {
				t.Fatalf("DecodeNotification: %v", err)
			}
			if diff := cmp.Diff(tc.want, ev); diff != "" {
				t.Errorf("DecodeNotification (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTestdataIsCloudBuildJSON checks every sample is proto JSON of a Build with camelCase
// field names: a strict parse (working.json carries an unknown field on purpose).
func TestTestdataIsCloudBuildJSON(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data := readTestdata(t, filepath.Base(f))
			var b cloudbuildpb.Build
			if err := (protojson.UnmarshalOptions{DiscardUnknown: filepath.Base(f) == "working.json"}).Unmarshal(data, &b); err != nil {
				t.Errorf("not a Build: %v", err)
			}
		})
	}
}

func FuzzDecodeNotification(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("", data)
		f.Add(sampleID, data)
	}
	f.Add("x", []byte(`{"id":"x","status":"QUEUED","tags":["runyard","tenant-a","build-b"],"steps":[{"id":"digest"}],"results":{"buildStepOutputs":["c2hhMjU2Og=="]}}`))
	f.Add("", []byte(`{"startTime":"9999-12-31T23:59:59Z","finishTime":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		attrs := map[string]string{"buildId": id, "status": "SUCCESS"}
		ev, err := cloudbuild.DecodeNotification(attrs, data)
		if err != nil {
			if !errors.Is(err, cloudbuild.ErrMalformedNotification) && !errors.Is(err, cloudbuild.ErrNotOurs) {
				t.Fatalf("DecodeNotification error %v is neither malformed nor not ours", err)
			}
			if ev != (build.Event{}) {
				t.Fatalf("DecodeNotification returned %+v with error %v", ev, err)
			}
			return
		}
		if ev.ExternalID == "" || ev.Tenant == "" || ev.BuildID == "" || !ev.Status.Valid() {
			t.Fatalf("DecodeNotification = %+v without an id, tenant, build or valid status", ev)
		}
		if ev.Digest != "" && !strings.HasPrefix(ev.Digest, "sha256:") {
			t.Fatalf("digest %q", ev.Digest)
		}
	})
}
