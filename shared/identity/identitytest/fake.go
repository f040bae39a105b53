// Package identitytest holds an in-process fake of the Google IAM admin API (service accounts)
// and of Resource Manager's project IAM policy, served over gRPC so the real Go clients talk to
// it, and a conformance suite for identity.Manager backends.
package identitytest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/runyard/runyard/shared/grpcfake"
)

// DefaultAccountQuota is IAM's default number of service accounts per project.
const DefaultAccountQuota = 100

var (
	accountIDRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	projectNameRE = regexp.MustCompile(`^projects/([a-z][-a-z0-9]{4,28}[a-z0-9])$`)
	accountNameRE = regexp.MustCompile(`^projects/([^/]+)/serviceAccounts/([^/]+)$`)
	saMemberRE    = regexp.MustCompile(`^serviceAccount:([^@]+)@([^.]+)\.iam\.gserviceaccount\.com$`)
)

// FakeIAM is the fake: service accounts per project with IAM's naming rules and quota, and
// project IAM policies that refuse bindings of service accounts that do not exist and
// conditions on a policy below version 3.
type FakeIAM struct {
	adminpb.UnimplementedIAMServer
	*grpcfake.Server
	projects *projectsServer

	mu       sync.Mutex
	accounts map[string]*adminpb.ServiceAccount // email → account
	seq      int
	// Quota is the number of service accounts a project may hold.
	Quota    int
	policies *grpcfake.Policies
}

type projectsServer struct {
	resourcemanagerpb.UnimplementedProjectsServer
	f *FakeIAM
}

// NewFakeServer starts a FakeIAM on an in-memory listener; it stops on tb's cleanup.
func NewFakeServer(tb testing.TB) *FakeIAM {
	tb.Helper()
	f := &FakeIAM{Server: grpcfake.New(), accounts: map[string]*adminpb.ServiceAccount{}, Quota: DefaultAccountQuota,
		policies: grpcfake.NewPolicies()}
	f.projects = &projectsServer{f: f}
	f.Register(func(g *grpc.Server) {
		adminpb.RegisterIAMServer(g, f)
		resourcemanagerpb.RegisterProjectsServer(g, f.projects)
	})
	f.Start(tb)
	return f
}

// NewFake starts a FakeIAM and returns it with real IAM admin and Resource Manager projects
// clients connected to it, closed on tb's cleanup.
func NewFake(tb testing.TB) (*FakeIAM, *admin.IamClient, *resourcemanager.ProjectsClient) {
	tb.Helper()
	f := NewFakeServer(tb)
	a, err := admin.NewIamClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("admin.NewIamClient: %v", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	p, err := resourcemanager.NewProjectsClient(context.Background(), f.ClientOption(tb))
	if err != nil {
		tb.Fatalf("resourcemanager.NewProjectsClient: %v", err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return f, a, p
}

// Accounts returns the emails of the service accounts that exist, sorted.
func (f *FakeIAM) Accounts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.accounts))
}

// Account returns a copy of the service account with email, or nil.
func (f *FakeIAM) Account(email string) *adminpb.ServiceAccount {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[email]; a != nil {
		return &adminpb.ServiceAccount{Name: a.Name, ProjectId: a.ProjectId, UniqueId: a.UniqueId, Email: a.Email,
			DisplayName: a.DisplayName, Description: a.Description}
	}
	return nil
}

// ProjectPolicy returns a copy of the project's IAM policy, or nil if none was set.
func (f *FakeIAM) ProjectPolicy(project string) *iampb.Policy {
	return f.policies.Policy("projects/" + project)
}

// CreateServiceAccount creates an account; AlreadyExists if the id is taken in the project.
func (f *FakeIAM) CreateServiceAccount(_ context.Context, req *adminpb.CreateServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	m := projectNameRE.FindStringSubmatch(req.GetName())
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "fake: name %q is not projects/PROJECT_ID", req.GetName())
	}
	id := req.GetAccountId()
	if len(id) < 6 || len(id) > 30 || !accountIDRE.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: account_id %q must be 6-30 characters matching %s", id, accountIDRE)
	}
	sa := req.GetServiceAccount()
	if len(sa.GetDisplayName()) > 100 || len(sa.GetDescription()) > 256 {
		return nil, status.Error(codes.InvalidArgument, "fake: display name ≤ 100 and description ≤ 256 characters")
	}
	project := m[1]
	email := id + "@" + project + ".iam.gserviceaccount.com"
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[email]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "fake: service account %s already exists", email)
	}
	n := 0
	for _, a := range f.accounts {
		if a.ProjectId == project {
			n++
		}
	}
	if n >= f.Quota {
		return nil, status.Errorf(codes.ResourceExhausted, "fake: project %s has reached its %d service accounts", project, f.Quota)
	}
	f.seq++
	a := &adminpb.ServiceAccount{Name: "projects/" + project + "/serviceAccounts/" + email, ProjectId: project,
		UniqueId: strconv.Itoa(100000000000000000 + f.seq), Email: email, DisplayName: sa.GetDisplayName(), Description: sa.GetDescription()}
	f.accounts[email] = a
	return f.copyLocked(a), nil
}

func (f *FakeIAM) copyLocked(a *adminpb.ServiceAccount) *adminpb.ServiceAccount {
	return &adminpb.ServiceAccount{Name: a.Name, ProjectId: a.ProjectId, UniqueId: a.UniqueId, Email: a.Email,
		DisplayName: a.DisplayName, Description: a.Description}
}

// accountLocked finds the account a name (projects/P or -/serviceAccounts/EMAIL) names.
func (f *FakeIAM) accountLocked(name string) (*adminpb.ServiceAccount, error) {
	m := accountNameRE.FindStringSubmatch(name)
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "fake: name %q is not projects/P/serviceAccounts/EMAIL", name)
	}
	a := f.accounts[m[2]]
	if a == nil || (m[1] != "-" && m[1] != a.ProjectId) {
		return nil, status.Errorf(codes.NotFound, "fake: service account %s not found", m[2])
	}
	return a, nil
}

// GetServiceAccount reads an account.
func (f *FakeIAM) GetServiceAccount(_ context.Context, req *adminpb.GetServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.accountLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return f.copyLocked(a), nil
}

// DeleteServiceAccount deletes an account.
func (f *FakeIAM) DeleteServiceAccount(_ context.Context, req *adminpb.DeleteServiceAccountRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.accountLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	delete(f.accounts, a.Email)
	return &emptypb.Empty{}, nil
}

// GetIamPolicy answers a project's policy.
func (p *projectsServer) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if !projectNameRE.MatchString(req.GetResource()) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: resource %q is not projects/PROJECT_ID", req.GetResource())
	}
	pol := p.f.policies.Get(req.GetResource())
	if req.GetOptions().GetRequestedPolicyVersion() < 3 && pol.GetVersion() == 3 {
		// IAM answers a conditioned policy only to callers asking for version 3.
		return nil, status.Error(codes.InvalidArgument, "fake: the policy has conditions; request version 3")
	}
	return pol, nil
}

// SetIamPolicy writes a project's policy: service account members must exist, conditions need
// version 3.
func (p *projectsServer) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if !projectNameRE.MatchString(req.GetResource()) {
		return nil, status.Errorf(codes.InvalidArgument, "fake: resource %q is not projects/PROJECT_ID", req.GetResource())
	}
	pol := req.GetPolicy()
	p.f.mu.Lock()
	for _, b := range pol.GetBindings() {
		if b.GetCondition() != nil && pol.GetVersion() != 3 {
			p.f.mu.Unlock()
			return nil, status.Error(codes.InvalidArgument, "fake: a conditioned binding needs policy version 3")
		}
		if b.GetCondition() != nil && (b.GetCondition().GetTitle() == "" || strings.TrimSpace(b.GetCondition().GetExpression()) == "") {
			p.f.mu.Unlock()
			return nil, status.Error(codes.InvalidArgument, "fake: a condition needs a title and an expression")
		}
		for _, m := range b.GetMembers() {
			if sa := saMemberRE.FindStringSubmatch(m); sa != nil && p.f.accounts[strings.TrimPrefix(m, "serviceAccount:")] == nil {
				p.f.mu.Unlock()
				return nil, status.Errorf(codes.InvalidArgument, "fake: service account %s does not exist", strings.TrimPrefix(m, "serviceAccount:"))
			}
		}
	}
	p.f.mu.Unlock()
	return p.f.policies.Set(req.GetResource(), pol)
}

// String describes the fake for failure messages.
func (f *FakeIAM) String() string { return fmt.Sprintf("FakeIAM(%d accounts)", len(f.Accounts())) }
