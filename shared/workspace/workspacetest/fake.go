// Package workspacetest holds the test doubles of workspace buckets: fake-gcs-server for
// buckets and objects (JSON API), and an in-process gRPC fake of the Cloud Storage v2 API's
// bucket IAM methods (google.storage.v2.Storage GetIamPolicy/SetIamPolicy), which the real
// storage client's gRPC transport (storage.NewGRPCClient) talks to.
package workspacetest

import (
	"context"
	"regexp"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/grpcfake"
)

// bucketResourceRE is the v2 API's bucket resource name ("_" is the global project alias).
var bucketResourceRE = regexp.MustCompile(`^projects/_/buckets/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])$`)

// FakeStorage is fake-gcs-server plus the bucket IAM fake; a bucket's policy can be read and
// written only while fake-gcs-server has the bucket.
type FakeStorage struct {
	// GCS serves buckets and objects.
	GCS *fakestorage.Server
	// IAM serves bucket IAM policies over gRPC.
	IAM      *grpcfake.Server
	policies *grpcfake.Policies
}

// New starts both fakes; they stop on tb's cleanup.
func New(tb testing.TB) *FakeStorage {
	tb.Helper()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		tb.Fatalf("fakestorage: %v", err)
	}
	tb.Cleanup(gcs.Stop)
	f := &FakeStorage{GCS: gcs, IAM: grpcfake.New(), policies: grpcfake.NewPolicies()}
	f.IAM.Register(func(g *grpc.Server) { g.RegisterService(&storageIAMDesc, f) })
	f.IAM.Start(tb)
	return f
}

// IAMClient returns a real storage client on the gRPC transport connected to the IAM fake
// (only bucket IAM calls are served), closed on tb's cleanup.
func (f *FakeStorage) IAMClient(tb testing.TB) *storage.Client {
	tb.Helper()
	c, err := storage.NewGRPCClient(context.Background(), f.IAM.ClientOption(tb), storage.WithDisabledClientMetrics())
	if err != nil {
		tb.Fatalf("storage.NewGRPCClient: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Policy returns a copy of bucket's IAM policy, or nil if none was set.
func (f *FakeStorage) Policy(bucket string) *iampb.Policy {
	return f.policies.Policy("projects/_/buckets/" + bucket)
}

// PoliciesWithMember returns the bucket resources whose policy binds member to role.
func (f *FakeStorage) PoliciesWithMember(role, member string) []string {
	return f.policies.WithMember(role, member)
}

// IAMResources returns every bucket resource whose policy was read or written.
func (f *FakeStorage) IAMResources() []string { return f.policies.Touched() }

func (f *FakeStorage) bucket(resource string) (string, error) {
	m := bucketResourceRE.FindStringSubmatch(resource)
	if m == nil {
		return "", status.Errorf(codes.InvalidArgument, "fake: resource %q is not projects/_/buckets/BUCKET", resource)
	}
	if _, err := f.GCS.Client().Bucket(m[1]).Attrs(context.Background()); err != nil {
		return "", status.Errorf(codes.NotFound, "fake: bucket %s not found", m[1])
	}
	return m[1], nil
}

func (f *FakeStorage) getIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := f.bucket(req.GetResource()); err != nil {
		return nil, err
	}
	pol := f.policies.Get(req.GetResource())
	if pol.GetVersion() == 3 && req.GetOptions().GetRequestedPolicyVersion() < 3 {
		return nil, status.Error(codes.InvalidArgument, "fake: the policy has conditions; request version 3")
	}
	return pol, nil
}

func (f *FakeStorage) setIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := f.bucket(req.GetResource()); err != nil {
		return nil, err
	}
	for _, b := range req.GetPolicy().GetBindings() {
		if b.GetCondition() != nil && req.GetPolicy().GetVersion() != 3 {
			return nil, status.Error(codes.InvalidArgument, "fake: a conditioned binding needs policy version 3")
		}
	}
	return f.policies.Set(req.GetResource(), req.GetPolicy())
}

// storageIAMDesc serves the bucket IAM methods of google.storage.v2.Storage. The generated
// server interface lives in the storage module's internal package, so the methods are
// declared here; the wire protocol (method names, iampb messages) is the real one.
var storageIAMDesc = grpc.ServiceDesc{
	ServiceName: "google.storage.v2.Storage",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "GetIamPolicy", Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(iampb.GetIamPolicyRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/google.storage.v2.Storage/GetIamPolicy"},
				func(ctx context.Context, req any) (any, error) {
					return srv.(*FakeStorage).getIamPolicy(ctx, req.(*iampb.GetIamPolicyRequest))
				})
		}},
		{MethodName: "SetIamPolicy", Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(iampb.SetIamPolicyRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/google.storage.v2.Storage/SetIamPolicy"},
				func(ctx context.Context, req any) (any, error) {
					return srv.(*FakeStorage).setIamPolicy(ctx, req.(*iampb.SetIamPolicyRequest))
				})
		}},
	},
	Metadata: "google/storage/v2/storage.proto",
}
