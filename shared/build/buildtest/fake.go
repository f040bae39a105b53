// Package buildtest holds test helpers of the build port: FakeCloudBuild, an in-process Cloud
// Build gRPC server driven by the real cloudbuild.Client.
package buildtest

import (
	"context"
	"fmt"
	"github.com/runyard/runyard/shared/grpcfake"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudbuild "cloud.google.com/go/cloudbuild/apiv1/v2"
	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// FakeCloudBuild is an in-process Cloud Build: a gRPC server implementing
// cloudbuildpb.CloudBuildServer (CreateBuild, GetBuild, CancelBuild, ListBuilds) and the
// longrunning Operations service (GetOperation) that the real cloudbuild.Client talks to.
//
// It follows the real API where Runyard depends on it: CreateBuild checks the parent and
// project, the steps, the tags rule and the user-specified service account's logging rule,
// stores the build QUEUED with a fresh id, name and log URL, and answers an unfinished
// operation whose metadata (BuildOperationMetadata) carries the build; the operation is done
// once the build is terminal. CancelBuild of a finished build answers FailedPrecondition (Cloud
// Build answers an HTTP 400). Builds move on only when a test calls SetStatus.
//
// Errors can be injected per method (FailNext); every call is counted (Calls).
type FakeCloudBuild struct {
	*grpcfake.Server

	cloudbuildpb.UnimplementedCloudBuildServer

	mu      sync.Mutex
	now     func() time.Time
	seq     int
	builds  map[string]*cloudbuildpb.Build // by id
	order   []string                       // ids, oldest first
	ops     map[string]string              // operation name → build id
	reqs    []*cloudbuildpb.CreateBuildRequest
	watches []func(*cloudbuildpb.Build)
}

// opsServer serves google.longrunning.Operations for the fake's operations.
type opsServer struct {
	longrunningpb.UnimplementedOperationsServer
	f *FakeCloudBuild
}

var (
	parentRE  = regexp.MustCompile(`^projects/([^/]+)(/locations/([^/]+))?$`)
	buildRE   = regexp.MustCompile(`^projects/([^/]+)(/locations/([^/]+))?/builds/([^/]+)$`)
	tagRE     = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	maxTimout = 24 * time.Hour
)

// NewFakeServer starts a FakeCloudBuild on an in-memory listener; it stops on tb's cleanup.
func NewFakeServer(tb testing.TB) *FakeCloudBuild {
	tb.Helper()
	f := &FakeCloudBuild{
		now:    time.Now,
		builds: map[string]*cloudbuildpb.Build{},
		ops:    map[string]string{},
		Server: grpcfake.New(),
	}
	f.Register(func(g *grpc.Server) {
		cloudbuildpb.RegisterCloudBuildServer(g, f)
		longrunningpb.RegisterOperationsServer(g, &opsServer{f: f})
	})
	f.Start(tb)
	return f
}

// NewFake starts a FakeCloudBuild and returns it with a real Cloud Build client connected to
// it; both are closed on tb's cleanup.
func NewFake(tb testing.TB) (*FakeCloudBuild, *cloudbuild.Client) {
	tb.Helper()
	f := NewFakeServer(tb)
	return f, f.Client(tb)
}

// Client returns a new real Cloud Build client connected to f, closed on tb's cleanup.
func (f *FakeCloudBuild) Client(tb testing.TB) *cloudbuild.Client {
	tb.Helper()
	c, err := cloudbuild.NewClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("cloudbuild.NewClient: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Requests returns copies of the CreateBuild requests the fake accepted, in order.
func (f *FakeCloudBuild) Requests() []*cloudbuildpb.CreateBuildRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*cloudbuildpb.CreateBuildRequest, len(f.reqs))
	for i, r := range f.reqs {
		out[i] = proto.Clone(r).(*cloudbuildpb.CreateBuildRequest)
	}
	return out
}

// Builds returns copies of the stored builds, oldest first.
func (f *FakeCloudBuild) Builds() []*cloudbuildpb.Build {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*cloudbuildpb.Build, len(f.order))
	for i, id := range f.order {
		out[i] = proto.Clone(f.builds[id]).(*cloudbuildpb.Build)
	}
	return out
}

// Build returns a copy of the build with id, or nil.
func (f *FakeCloudBuild) Build(id string) *cloudbuildpb.Build {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.builds[id]; ok {
		return proto.Clone(b).(*cloudbuildpb.Build)
	}
	return nil
}

// Watch calls fn with a copy of a build each time one is created or changes status (the
// moments Cloud Build publishes on the cloud-builds topic), outside the fake's lock.
func (f *FakeCloudBuild) Watch(fn func(*cloudbuildpb.Build)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watches = append(f.watches, fn)
}

// notify runs the watchers on b; the caller holds no lock.
func (f *FakeCloudBuild) notify(b *cloudbuildpb.Build, watches []func(*cloudbuildpb.Build)) {
	for _, fn := range watches {
		fn(proto.Clone(b).(*cloudbuildpb.Build))
	}
}

// SetStatus moves build id to s as Cloud Build would: WORKING sets the start time, a terminal
// status the finish time. SUCCESS with a digest fills Results.Images for each of
// Build.Images, and reports the digest as the output (Results.BuildStepOutputs) of each step
// that writes $BUILDER_OUTPUT/output. FAILURE sets a FailureInfo. It returns a copy of the
// build, or nil if there is none.
func (f *FakeCloudBuild) SetStatus(id string, s cloudbuildpb.Build_Status, digest string) *cloudbuildpb.Build {
	f.mu.Lock()
	b, ok := f.builds[id]
	if !ok {
		f.mu.Unlock()
		return nil
	}
	now := timestamppb.New(f.now())
	b.Status = s
	if s != cloudbuildpb.Build_QUEUED && s != cloudbuildpb.Build_PENDING && b.StartTime == nil {
		b.StartTime = now
	}
	if terminal(s) {
		b.FinishTime = now
	}
	if s == cloudbuildpb.Build_SUCCESS && digest != "" {
		res := &cloudbuildpb.Results{}
		for _, img := range b.GetImages() {
			res.Images = append(res.Images, &cloudbuildpb.BuiltImage{Name: img, Digest: digest})
		}
		outs := make([][]byte, len(b.GetSteps()))
		wrote := false
		for i, st := range b.GetSteps() {
			if slices.ContainsFunc(st.GetArgs(), func(a string) bool { return strings.Contains(a, "BUILDER_OUTPUT") }) {
				outs[i], wrote = []byte(digest+"\n"), true
			}
		}
		if wrote {
			res.BuildStepOutputs = outs
		}
		b.Results = res
	}
	if s == cloudbuildpb.Build_FAILURE {
		b.StatusDetail = "Build failed; check build logs for details"
		b.FailureInfo = &cloudbuildpb.Build_FailureInfo{
			Type:   cloudbuildpb.Build_FailureInfo_USER_BUILD_STEP,
			Detail: fmt.Sprintf("Build step failure: build step 0 %q failed: step exited with non-zero status: 1", b.GetSteps()[0].GetName()),
		}
	}
	out, watches := proto.Clone(b).(*cloudbuildpb.Build), slices.Clone(f.watches)
	f.mu.Unlock()
	f.notify(out, watches)
	return out
}

func terminal(s cloudbuildpb.Build_Status) bool {
	switch s {
	case cloudbuildpb.Build_SUCCESS, cloudbuildpb.Build_FAILURE, cloudbuildpb.Build_INTERNAL_ERROR,
		cloudbuildpb.Build_TIMEOUT, cloudbuildpb.Build_CANCELLED, cloudbuildpb.Build_EXPIRED:
		return true
	}
	return false
}

func invalidArg(format string, args ...any) error {
	return grpcstatus.Errorf(codes.InvalidArgument, format, args...)
}

// checkBuild applies the rules of the real API the fake knows.
func checkBuild(b *cloudbuildpb.Build) error {
	if b == nil {
		return invalidArg("build is required")
	}
	if len(b.GetSteps()) == 0 {
		return invalidArg("invalid build: no build steps")
	}
	for i, s := range b.GetSteps() {
		if s.GetName() == "" {
			return invalidArg("invalid build: build step %d: name is required", i)
		}
	}
	for _, t := range b.GetTags() {
		if !tagRE.MatchString(t) {
			return invalidArg("invalid build tag %q: must match format %q", t, tagRE.String())
		}
	}
	if d := b.GetTimeout(); d != nil && (d.CheckValid() != nil || d.AsDuration() <= 0 || d.AsDuration() > maxTimout) {
		return invalidArg("invalid timeout %v", d)
	}
	if b.GetServiceAccount() != "" {
		l := b.GetOptions().GetLogging()
		if l != cloudbuildpb.BuildOptions_CLOUD_LOGGING_ONLY && l != cloudbuildpb.BuildOptions_NONE && b.GetLogsBucket() == "" {
			return invalidArg("if 'build.service_account' is specified, the build must either (a) specify 'build.logs_bucket', (b) use the REGIONAL_USER_OWNED_BUCKET build.options.default_logs_bucket_behavior option, or (c) use either CLOUD_LOGGING_ONLY / NONE logging options")
		}
	}
	if b.GetSource() != nil {
		switch s := b.GetSource().GetSource().(type) {
		case *cloudbuildpb.Source_StorageSource:
			if s.StorageSource.GetBucket() == "" || s.StorageSource.GetObject() == "" {
				return invalidArg("invalid storage source: bucket and object are required")
			}
		case *cloudbuildpb.Source_GitSource:
			if s.GitSource.GetUrl() == "" {
				return invalidArg("invalid git source: url is required")
			}
		}
	}
	return nil
}

func logURL(project, region, id string) string {
	if region == "" {
		return "https://console.cloud.google.com/cloud-build/builds/" + id + "?project=" + project
	}
	return "https://console.cloud.google.com/cloud-build/builds;region=" + region + "/" + id + "?project=" + project
}

// CreateBuild implements the RPC.
func (f *FakeCloudBuild) CreateBuild(_ context.Context, req *cloudbuildpb.CreateBuildRequest) (*longrunningpb.Operation, error) {
	if req.GetProjectId() == "" {
		return nil, invalidArg("project_id is required")
	}
	region := ""
	if req.GetParent() != "" {
		m := parentRE.FindStringSubmatch(req.GetParent())
		if m == nil || m[1] != req.GetProjectId() {
			return nil, invalidArg("parent %q does not match project %q", req.GetParent(), req.GetProjectId())
		}
		region = m[3]
	}
	if err := checkBuild(req.GetBuild()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.seq++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
	b := proto.Clone(req.GetBuild()).(*cloudbuildpb.Build)
	b.Id = id
	b.ProjectId = req.GetProjectId()
	b.Name = "projects/" + req.GetProjectId() + "/builds/" + id
	if region != "" {
		b.Name = "projects/" + req.GetProjectId() + "/locations/" + region + "/builds/" + id
	}
	b.Status = cloudbuildpb.Build_QUEUED
	b.CreateTime = timestamppb.New(f.now())
	b.LogUrl = logURL(req.GetProjectId(), region, id)
	opName := "projects/" + req.GetProjectId() + "/operations/build-" + id
	if region != "" {
		opName = "projects/" + req.GetProjectId() + "/locations/" + region + "/operations/build-" + id
	}
	f.builds[id] = b
	f.order = append(f.order, id)
	f.ops[opName] = id
	f.reqs = append(f.reqs, proto.Clone(req).(*cloudbuildpb.CreateBuildRequest))
	op, err := operationLocked(opName, b)
	out, watches := proto.Clone(b).(*cloudbuildpb.Build), slices.Clone(f.watches)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.notify(out, watches)
	return op, nil
}

// operationLocked is the operation of build b: not done until b is terminal; then its result
// is b (SUCCESS) or an error.
func operationLocked(name string, b *cloudbuildpb.Build) (*longrunningpb.Operation, error) {
	meta, err := anypb.New(&cloudbuildpb.BuildOperationMetadata{Build: b})
	if err != nil {
		return nil, grpcstatus.Errorf(codes.Internal, "fake: anypb.New: %v", err)
	}
	op := &longrunningpb.Operation{Name: name, Metadata: meta}
	if !terminal(b.GetStatus()) {
		return op, nil
	}
	op.Done = true
	if b.GetStatus() == cloudbuildpb.Build_SUCCESS {
		res, err := anypb.New(b)
		if err != nil {
			return nil, grpcstatus.Errorf(codes.Internal, "fake: anypb.New: %v", err)
		}
		op.Result = &longrunningpb.Operation_Response{Response: res}
		return op, nil
	}
	op.Result = &longrunningpb.Operation_Error{Error: &status.Status{
		Code:    int32(codes.Unknown),
		Message: fmt.Sprintf("build %s finished with status %s", b.GetId(), b.GetStatus()),
	}}
	return op, nil
}

// GetOperation implements the longrunning RPC.
func (o *opsServer) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	f := o.f
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ops[req.GetName()]
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "operation %q not found", req.GetName())
	}
	return operationLocked(req.GetName(), f.builds[id])
}

// lookupLocked finds a build by name or project and id.
func (f *FakeCloudBuild) lookupLocked(name, project, id string) (*cloudbuildpb.Build, error) {
	if name != "" {
		m := buildRE.FindStringSubmatch(name)
		if m == nil {
			return nil, invalidArg("invalid build name %q", name)
		}
		project, id = m[1], m[4]
		if b, ok := f.builds[id]; ok && b.GetName() != name {
			return nil, grpcstatus.Errorf(codes.NotFound, "build %q not found", name)
		}
	}
	if project == "" || id == "" {
		return nil, invalidArg("name, or project_id and id, are required")
	}
	b, ok := f.builds[id]
	if !ok || b.GetProjectId() != project {
		return nil, grpcstatus.Errorf(codes.NotFound, "build %q not found", id)
	}
	return b, nil
}

// GetBuild implements the RPC.
func (f *FakeCloudBuild) GetBuild(_ context.Context, req *cloudbuildpb.GetBuildRequest) (*cloudbuildpb.Build, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := f.lookupLocked(req.GetName(), req.GetProjectId(), req.GetId())
	if err != nil {
		return nil, err
	}
	return proto.Clone(b).(*cloudbuildpb.Build), nil
}

// CancelBuild implements the RPC: a queued or working build becomes CANCELLED; a finished one
// answers FailedPrecondition.
func (f *FakeCloudBuild) CancelBuild(_ context.Context, req *cloudbuildpb.CancelBuildRequest) (*cloudbuildpb.Build, error) {
	f.mu.Lock()
	b, err := f.lookupLocked(req.GetName(), req.GetProjectId(), req.GetId())
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if terminal(b.GetStatus()) {
		f.mu.Unlock()
		return nil, grpcstatus.Errorf(codes.FailedPrecondition, "build %s is already finished (%s)", b.GetId(), b.GetStatus())
	}
	b.Status = cloudbuildpb.Build_CANCELLED
	b.FinishTime = timestamppb.New(f.now())
	out, watches := proto.Clone(b).(*cloudbuildpb.Build), slices.Clone(f.watches)
	f.mu.Unlock()
	f.notify(out, watches)
	return out, nil
}

// ListBuilds implements the RPC: the project's builds, newest first, in one page. Filters
// other than none answer InvalidArgument.
func (f *FakeCloudBuild) ListBuilds(_ context.Context, req *cloudbuildpb.ListBuildsRequest) (*cloudbuildpb.ListBuildsResponse, error) {
	if req.GetFilter() != "" {
		return nil, invalidArg("fake: filters are not supported")
	}
	project := req.GetProjectId()
	if m := parentRE.FindStringSubmatch(req.GetParent()); m != nil {
		project = m[1]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &cloudbuildpb.ListBuildsResponse{}
	for _, id := range slices.Backward(f.order) {
		if b := f.builds[id]; b.GetProjectId() == project {
			resp.Builds = append(resp.Builds, proto.Clone(b).(*cloudbuildpb.Build))
		}
	}
	return resp, nil
}
