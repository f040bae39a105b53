package buildtest_test

import (
	"testing"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/runyard/runyard/shared/build/buildtest"
)

const digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func request(parent string) *cloudbuildpb.CreateBuildRequest {
	return &cloudbuildpb.CreateBuildRequest{
		Parent: parent, ProjectId: "proj-1",
		Build: &cloudbuildpb.Build{
			Steps:  []*cloudbuildpb.BuildStep{{Name: "gcr.io/cloud-builders/docker", Args: []string{"build", "-t", "img:1", "."}}},
			Images: []string{"img:1"},
			Tags:   []string{"runyard"},
		},
	}
}

// TestWait drives the real client's LRO path: the operation is not done until the build is
// terminal, and Wait then answers the final build (about one second: the client's first
// poll waits).
func TestWait(t *testing.T) {
	t.Parallel()
	fake, c := buildtest.NewFake(t)
	op, err := c.CreateBuild(t.Context(), request("projects/proj-1/locations/us-central1"))
	if err != nil {
		t.Fatalf("CreateBuild: %v", err)
	}
	if op.Done() {
		t.Fatal("operation done before the build ran")
	}
	meta, err := op.Metadata()
	if err != nil || meta.GetBuild().GetStatus() != cloudbuildpb.Build_QUEUED {
		t.Fatalf("Metadata = %v, %v; want a QUEUED build", meta, err)
	}
	id := meta.GetBuild().GetId()
	fake.SetStatus(id, cloudbuildpb.Build_SUCCESS, digest)
	got, err := c.CreateBuildOperation(op.Name()).Wait(t.Context())
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	want := []*cloudbuildpb.BuiltImage{{Name: "img:1", Digest: digest}}
	if diff := cmp.Diff(want, got.GetResults().GetImages(), protocmp.Transform()); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got.GetName() != "projects/proj-1/locations/us-central1/builds/"+id {
		t.Errorf("name = %q", got.GetName())
	}
	if fake.Calls("GetOperation") == 0 {
		t.Error("Wait did not poll")
	}
}

func TestGetListCancel(t *testing.T) {
	t.Parallel()
	fake, c := buildtest.NewFake(t)
	var ids []string
	for range 2 {
		op, err := c.CreateBuild(t.Context(), request("projects/proj-1"))
		if err != nil {
			t.Fatalf("CreateBuild: %v", err)
		}
		meta, _ := op.Metadata()
		ids = append(ids, meta.GetBuild().GetId())
	}

	tests := []struct {
		name     string
		req      *cloudbuildpb.GetBuildRequest
		wantCode codes.Code
	}{
		{"by name", &cloudbuildpb.GetBuildRequest{Name: "projects/proj-1/builds/" + ids[0]}, codes.OK},
		{"by project and id", &cloudbuildpb.GetBuildRequest{ProjectId: "proj-1", Id: ids[0]}, codes.OK},
		{"other project", &cloudbuildpb.GetBuildRequest{ProjectId: "proj-2", Id: ids[0]}, codes.NotFound},
		{"wrong location", &cloudbuildpb.GetBuildRequest{Name: "projects/proj-1/locations/x/builds/" + ids[0]}, codes.NotFound},
		{"unknown", &cloudbuildpb.GetBuildRequest{ProjectId: "proj-1", Id: "nope"}, codes.NotFound},
		{"empty", &cloudbuildpb.GetBuildRequest{}, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetBuild(t.Context(), tc.req)
			if got := status.Code(err); got != tc.wantCode {
				t.Errorf("GetBuild = %v, want %s", err, tc.wantCode)
			}
		})
	}

	// The client retries GetBuild on Unavailable by itself.
	fake.FailNext("GetBuild", codes.Unavailable, 1)
	before := fake.Calls("GetBuild")
	if _, err := c.GetBuild(t.Context(), &cloudbuildpb.GetBuildRequest{ProjectId: "proj-1", Id: ids[1]}); err != nil {
		t.Errorf("GetBuild after one Unavailable: %v", err)
	}
	if n := fake.Calls("GetBuild") - before; n != 2 {
		t.Errorf("GetBuild calls = %d, want 2", n)
	}

	it := c.ListBuilds(t.Context(), &cloudbuildpb.ListBuildsRequest{ProjectId: "proj-1"})
	var listed []string
	for {
		b, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("ListBuilds: %v", err)
		}
		listed = append(listed, b.GetId())
	}
	if diff := cmp.Diff([]string{ids[1], ids[0]}, listed); diff != "" {
		t.Errorf("ListBuilds (-want +got):\n%s", diff)
	}

	if _, err := c.CancelBuild(t.Context(), &cloudbuildpb.CancelBuildRequest{ProjectId: "proj-1", Id: ids[0]}); err != nil {
		t.Fatalf("CancelBuild: %v", err)
	}
	if got := fake.Build(ids[0]); got.GetStatus() != cloudbuildpb.Build_CANCELLED || got.GetFinishTime() == nil {
		t.Errorf("after CancelBuild: %v", got)
	}
	_, err := c.CancelBuild(t.Context(), &cloudbuildpb.CancelBuildRequest{ProjectId: "proj-1", Id: ids[0]})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("second CancelBuild = %v, want FailedPrecondition", err)
	}
}

func TestCreateBuildRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(r *cloudbuildpb.CreateBuildRequest)
	}{
		{"no project", func(r *cloudbuildpb.CreateBuildRequest) { r.ProjectId = "" }},
		{"parent of another project", func(r *cloudbuildpb.CreateBuildRequest) { r.Parent = "projects/other" }},
		{"no steps", func(r *cloudbuildpb.CreateBuildRequest) { r.Build.Steps = nil }},
		{"bad tag", func(r *cloudbuildpb.CreateBuildRequest) { r.Build.Tags = []string{"ck:1"} }},
		{"service account with default logging", func(r *cloudbuildpb.CreateBuildRequest) {
			r.Build.ServiceAccount = "projects/proj-1/serviceAccounts/b@proj-1.iam.gserviceaccount.com"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, c := buildtest.NewFake(t)
			r := request("projects/proj-1")
			tc.mutate(r)
			_, err := c.CreateBuild(t.Context(), r)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("CreateBuild = %v, want InvalidArgument", err)
			}
			if len(fake.Builds()) != 0 || len(fake.Requests()) != 0 {
				t.Error("a refused build was stored")
			}
		})
	}
}
