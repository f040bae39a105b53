package secretstest

import (
	"context"
	"fmt"
	"github.com/runyard/runyard/shared/grpcfake"
	"hash/crc32"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// FakeSecretManager is an in-process Secret Manager: a gRPC server implementing
// secretmanagerpb.SecretManagerServiceServer (secrets, versions, IAM policies with etags) that the
// real secretmanager.Client talks to. It follows the real API where Runyard depends on it: secret
// id and label rules, AlreadyExists on a second CreateSecret, "latest" and numbered versions,
// FailedPrecondition when a destroyed version is accessed, paginated lists, the
// `labels.k=v AND labels.k2=v2` filter form, payload size and CRC32C checks, and Aborted on a
// SetIamPolicy whose etag is stale. Methods it does not need answer Unimplemented.
//
// Errors can be injected per method (FailNext); every call is counted (Calls).
type FakeSecretManager struct {
	*grpcfake.Server

	secretmanagerpb.UnimplementedSecretManagerServiceServer

	mu       sync.Mutex
	now      func() time.Time
	secrets  map[string]*fakeSecret // by resource name projects/P/secrets/ID
	policies *grpcfake.Policies
	etag     int
}

type fakeSecret struct {
	pb       *secretmanagerpb.Secret
	versions []*fakeVersion // versions[i] is version i+1
}

type fakeVersion struct {
	pb   *secretmanagerpb.SecretVersion
	data []byte
}

// Real API limits and rules the fake enforces.
const (
	fakeMaxPayload  = 64 << 10
	fakeMaxPageSize = 25000
	defaultPageSize = 25
)

var (
	secretIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	projectRE    = regexp.MustCompile(`^projects/[^/]+$`)
	secretNameRE = regexp.MustCompile(`^(projects/[^/]+)/secrets/([A-Za-z0-9_-]{1,255})$`)
	versionRE    = regexp.MustCompile(`^(projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255})/versions/(latest|[1-9][0-9]*)$`)
	labelKeyRE   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	filterTermRE = regexp.MustCompile(`^labels\.([\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]*)[=:]([\p{Ll}\p{Lo}\p{N}_-]*)$`)
)

// NewFakeServer starts a FakeSecretManager on an in-memory listener; it stops on tb's cleanup.
func NewFakeServer(tb testing.TB) *FakeSecretManager {
	tb.Helper()
	f := &FakeSecretManager{
		now:      time.Now,
		secrets:  map[string]*fakeSecret{},
		policies: grpcfake.NewPolicies(),
		Server:   grpcfake.New(),
	}
	f.Register(func(g *grpc.Server) {
		secretmanagerpb.RegisterSecretManagerServiceServer(g, f)
	})
	f.Start(tb)
	return f
}

// NewFake starts a FakeSecretManager and returns it with a real Secret Manager client connected
// to it; both are closed on tb's cleanup.
func NewFake(tb testing.TB) (*FakeSecretManager, *secretmanager.Client) {
	tb.Helper()
	f := NewFakeServer(tb)
	return f, f.Client(tb)
}

// Client returns a new real Secret Manager client connected to f, closed on tb's cleanup.
func (f *FakeSecretManager) Client(tb testing.TB) *secretmanager.Client {
	tb.Helper()
	c, err := secretmanager.NewClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("secretmanager.NewClient: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Policy returns a copy of the IAM policy of resource, or nil if none was set.
func (f *FakeSecretManager) Policy(resource string) *iampb.Policy { return f.policies.Policy(resource) }

// Members returns the members bound to role on resource's policy, sorted.
func (f *FakeSecretManager) Members(resource, role string) []string {
	var out []string
	if p := f.Policy(resource); p != nil {
		for _, b := range p.GetBindings() {
			if b.GetRole() == role && b.GetCondition() == nil {
				out = append(out, b.GetMembers()...)
			}
		}
	}
	slices.Sort(out)
	return out
}

// PoliciesWithMember returns the resources whose policy binds member to role, sorted.
func (f *FakeSecretManager) PoliciesWithMember(role, member string) []string {
	return f.policies.WithMember(role, member)
}

// IAMResources returns the resources of every Get/SetIamPolicy call, in order.
func (f *FakeSecretManager) IAMResources() []string {
	return f.policies.Touched()
}

// ProjectPolicyCalls counts IAM calls on anything other than a single secret (a project, a
// location, a wildcard): the adapters must never make one.
func (f *FakeSecretManager) ProjectPolicyCalls() int {
	n := 0
	for _, r := range f.IAMResources() {
		if !secretNameRE.MatchString(r) {
			n++
		}
	}
	return n
}

// SecretNames returns the resource names of the stored secrets, sorted.
func (f *FakeSecretManager) SecretNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.secrets))
	for n := range f.secrets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Secret returns a copy of the stored secret resource, or nil.
func (f *FakeSecretManager) Secret(name string) *secretmanagerpb.Secret {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.secrets[name]; ok {
		return proto.Clone(s.pb).(*secretmanagerpb.Secret)
	}
	return nil
}

// VersionStates returns the states of secret name's versions, oldest first (nil if absent).
func (f *FakeSecretManager) VersionStates(name string) []secretmanagerpb.SecretVersion_State {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[name]
	if !ok {
		return nil
	}
	out := make([]secretmanagerpb.SecretVersion_State, len(s.versions))
	for i, v := range s.versions {
		out[i] = v.pb.GetState()
	}
	return out
}

func (f *FakeSecretManager) nextEtag() string {
	f.etag++
	return "etag-" + strconv.Itoa(f.etag)
}

// CreateSecret implements the RPC.
func (f *FakeSecretManager) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	if !projectRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: parent must be projects/PROJECT")
	}
	if !secretIDRE.MatchString(req.GetSecretId()) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: secret id must match [A-Za-z0-9_-]{1,255}")
	}
	in := req.GetSecret()
	if in.GetReplication().GetReplication() == nil {
		return nil, status.Errorf(codes.InvalidArgument, "fake: replication is required")
	}
	if len(in.GetLabels()) > 64 {
		return nil, status.Errorf(codes.InvalidArgument, "fake: more than 64 labels")
	}
	for k, v := range in.GetLabels() {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			return nil, status.Errorf(codes.InvalidArgument, "fake: invalid label %q", k)
		}
	}
	name := req.GetParent() + "/secrets/" + req.GetSecretId()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.secrets[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "fake: secret %s already exists", name)
	}
	s := proto.Clone(in).(*secretmanagerpb.Secret)
	s.Name = name
	s.CreateTime = timestamppb.New(f.now())
	s.Etag = f.nextEtag()
	f.secrets[name] = &fakeSecret{pb: s}
	return proto.Clone(s).(*secretmanagerpb.Secret), nil
}

func (f *FakeSecretManager) secretLocked(name string) (*fakeSecret, error) {
	if !secretNameRE.MatchString(name) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: malformed secret name")
	}
	s, ok := f.secrets[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "fake: secret %s not found", name)
	}
	return s, nil
}

// GetSecret implements the RPC.
func (f *FakeSecretManager) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.secretLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(s.pb).(*secretmanagerpb.Secret), nil
}

// DeleteSecret implements the RPC.
func (f *FakeSecretManager) DeleteSecret(_ context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.secretLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetEtag() != "" && req.GetEtag() != s.pb.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "fake: etag mismatch")
	}
	delete(f.secrets, req.GetName())
	f.policies.Delete(req.GetName())
	return &emptypb.Empty{}, nil
}

// ListSecrets implements the RPC, with the `labels.k=v [AND labels.k2=v2 …]` filter form.
func (f *FakeSecretManager) ListSecrets(_ context.Context, req *secretmanagerpb.ListSecretsRequest) (*secretmanagerpb.ListSecretsResponse, error) {
	if !projectRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: parent must be projects/PROJECT")
	}
	want, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	var all []*secretmanagerpb.Secret
	for name, s := range f.secrets {
		if strings.HasPrefix(name, req.GetParent()+"/") && matchLabels(s.pb.GetLabels(), want) {
			all = append(all, proto.Clone(s.pb).(*secretmanagerpb.Secret))
		}
	}
	f.mu.Unlock()
	slices.SortFunc(all, func(a, b *secretmanagerpb.Secret) int { return strings.Compare(a.GetName(), b.GetName()) })
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &secretmanagerpb.ListSecretsResponse{Secrets: page, NextPageToken: next, TotalSize: int32(len(all))}, nil
}

// parseFilter accepts "", or terms `labels.KEY=VALUE` (or `:`) joined by " AND ".
func parseFilter(filter string) (map[string]string, error) {
	want := map[string]string{}
	if strings.TrimSpace(filter) == "" {
		return want, nil
	}
	for term := range strings.SplitSeq(filter, " AND ") {
		m := filterTermRE.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return nil, status.Errorf(codes.InvalidArgument, "fake: unsupported filter term %q", term)
		}
		want[m[1]] = m[2]
	}
	return want, nil
}

func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// paginate returns one page of items and the token of the next (an offset, as text).
func paginate[T any](items []T, size int32, token string) ([]T, string, error) {
	if size < 0 || size > fakeMaxPageSize {
		return nil, "", status.Errorf(codes.InvalidArgument, "fake: page size out of range")
	}
	if size == 0 {
		size = defaultPageSize
	}
	start := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "off-"))
		if err != nil || !strings.HasPrefix(token, "off-") || n < 0 || n > len(items) {
			return nil, "", status.Errorf(codes.InvalidArgument, "fake: invalid page token")
		}
		start = n
	}
	end := min(start+int(size), len(items))
	next := ""
	if end < len(items) {
		next = "off-" + strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// AddSecretVersion implements the RPC.
func (f *FakeSecretManager) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	data := req.GetPayload().GetData()
	if len(data) > fakeMaxPayload {
		return nil, status.Errorf(codes.InvalidArgument, "fake: payload larger than %d bytes", fakeMaxPayload)
	}
	if c := req.GetPayload().DataCrc32C; c != nil && uint32(*c) != crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: payload checksum mismatch")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.secretLocked(req.GetParent())
	if err != nil {
		return nil, err
	}
	v := &secretmanagerpb.SecretVersion{
		Name:                           fmt.Sprintf("%s/versions/%d", req.GetParent(), len(s.versions)+1),
		CreateTime:                     timestamppb.New(f.now()),
		State:                          secretmanagerpb.SecretVersion_ENABLED,
		Etag:                           f.nextEtag(),
		ClientSpecifiedPayloadChecksum: req.GetPayload().DataCrc32C != nil,
	}
	s.versions = append(s.versions, &fakeVersion{pb: v, data: slices.Clone(data)})
	return proto.Clone(v).(*secretmanagerpb.SecretVersion), nil
}

// versionLocked resolves a version name; "latest" is the most recently created version.
func (f *FakeSecretManager) versionLocked(name string) (*fakeVersion, error) {
	m := versionRE.FindStringSubmatch(name)
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "fake: malformed version name")
	}
	s, err := f.secretLocked(m[1])
	if err != nil {
		return nil, err
	}
	if m[2] == "latest" {
		if len(s.versions) == 0 {
			return nil, status.Errorf(codes.NotFound, "fake: secret %s has no versions", m[1])
		}
		return s.versions[len(s.versions)-1], nil
	}
	n, _ := strconv.Atoi(m[2])
	if n > len(s.versions) {
		return nil, status.Errorf(codes.NotFound, "fake: version %s not found", name)
	}
	return s.versions[n-1], nil
}

// AccessSecretVersion implements the RPC.
func (f *FakeSecretManager) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.versionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if st := v.pb.GetState(); st != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "fake: version %s is in state %s", v.pb.GetName(), st)
	}
	crc := int64(crc32.Checksum(v.data, crc32.MakeTable(crc32.Castagnoli)))
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    v.pb.GetName(),
		Payload: &secretmanagerpb.SecretPayload{Data: slices.Clone(v.data), DataCrc32C: &crc},
	}, nil
}

// GetSecretVersion implements the RPC (metadata only; "latest" resolves as in Access).
func (f *FakeSecretManager) GetSecretVersion(_ context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.versionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(v.pb).(*secretmanagerpb.SecretVersion), nil
}

// DestroySecretVersion implements the RPC.
func (f *FakeSecretManager) DestroySecretVersion(_ context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	if strings.HasSuffix(req.GetName(), "/latest") {
		return nil, status.Errorf(codes.InvalidArgument, "fake: cannot destroy an alias")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.versionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetEtag() != "" && req.GetEtag() != v.pb.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "fake: etag mismatch")
	}
	if v.pb.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "fake: version already destroyed")
	}
	v.pb.State = secretmanagerpb.SecretVersion_DESTROYED
	v.pb.DestroyTime = timestamppb.New(f.now())
	v.pb.Etag = f.nextEtag()
	v.data = nil
	return proto.Clone(v.pb).(*secretmanagerpb.SecretVersion), nil
}

// ListSecretVersions implements the RPC: newest first, as the real API lists them.
func (f *FakeSecretManager) ListSecretVersions(_ context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	if req.GetFilter() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "fake: version filters are not supported")
	}
	f.mu.Lock()
	s, err := f.secretLocked(req.GetParent())
	var all []*secretmanagerpb.SecretVersion
	if err == nil {
		for i := len(s.versions) - 1; i >= 0; i-- {
			all = append(all, proto.Clone(s.versions[i].pb).(*secretmanagerpb.SecretVersion))
		}
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &secretmanagerpb.ListSecretVersionsResponse{Versions: page, NextPageToken: next, TotalSize: int32(len(all))}, nil
}

// GetIamPolicy implements the RPC on secrets.
func (f *FakeSecretManager) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if err := f.exists(req.GetResource()); err != nil {
		return nil, err
	}
	return f.policies.Get(req.GetResource()), nil
}

// SetIamPolicy implements the RPC on secrets: a non-empty etag must match the stored one.
func (f *FakeSecretManager) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if err := f.exists(req.GetResource()); err != nil {
		return nil, err
	}
	return f.policies.Set(req.GetResource(), req.GetPolicy())
}

// exists reports NotFound unless resource is a stored secret.
func (f *FakeSecretManager) exists(resource string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.secretLocked(resource)
	return err
}
