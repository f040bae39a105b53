package grpcfake

import (
	"regexp"
	"slices"
	"strconv"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// emptyEtag is the etag of a resource's policy before one is set, as the empty policy read
// reports it; a SetIamPolicy carrying it must find no policy set meanwhile.
const emptyEtag = "ACAB"

var (
	roleRE   = regexp.MustCompile(`^roles/[A-Za-z0-9_.]+$`)
	memberRE = regexp.MustCompile(`^(serviceAccount|user|group|domain|principal|principalSet):\S+$`)
)

// Policies keeps IAM policies per resource the way Google APIs do: an empty policy until one
// is set, bindings validated, and optimistic concurrency by etag (a stale etag is Aborted).
// A fake checks its resource exists, then answers Get/SetIamPolicy with Get and Set.
type Policies struct {
	mu      sync.Mutex
	m       map[string]*iampb.Policy
	seq     int
	touched []string
}

// NewPolicies returns an empty store.
func NewPolicies() *Policies { return &Policies{m: map[string]*iampb.Policy{}} }

// Get answers GetIamPolicy.
func (p *Policies) Get(resource string) *iampb.Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touched = append(p.touched, resource)
	if cur := p.m[resource]; cur != nil {
		return proto.Clone(cur).(*iampb.Policy)
	}
	return &iampb.Policy{Version: 1, Etag: []byte(emptyEtag)}
}

// Set answers SetIamPolicy: it validates the bindings, checks a given etag against the stored
// policy's, and stores the policy with a fresh etag.
func (p *Policies) Set(resource string, in *iampb.Policy) (*iampb.Policy, error) {
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "fake: policy is required")
	}
	for _, b := range in.GetBindings() {
		if !roleRE.MatchString(b.GetRole()) || len(b.GetMembers()) == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "fake: invalid binding of role %q", b.GetRole())
		}
		for _, m := range b.GetMembers() {
			if !memberRE.MatchString(m) {
				return nil, status.Errorf(codes.InvalidArgument, "fake: invalid member %q", m)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touched = append(p.touched, resource)
	curEtag := emptyEtag
	if cur := p.m[resource]; cur != nil {
		curEtag = string(cur.GetEtag())
	}
	if e := in.GetEtag(); len(e) > 0 && string(e) != curEtag {
		return nil, status.Error(codes.Aborted, "fake: there were concurrent policy changes (etag mismatch)")
	}
	p.seq++
	out := proto.Clone(in).(*iampb.Policy)
	out.Etag = []byte("BwY" + strconv.Itoa(p.seq))
	if out.Version == 0 {
		out.Version = 1
	}
	p.m[resource] = out
	return proto.Clone(out).(*iampb.Policy), nil
}

// Policy returns a copy of resource's stored policy, or nil if none was set.
func (p *Policies) Policy(resource string) *iampb.Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.m[resource]; cur != nil {
		return proto.Clone(cur).(*iampb.Policy)
	}
	return nil
}

// Delete forgets resource's policy (the resource was deleted).
func (p *Policies) Delete(resource string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, resource)
}

// Touched returns the resource of every Get and Set, in order.
func (p *Policies) Touched() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.touched)
}

// WithMember returns the resources whose policy binds member to role, sorted.
func (p *Policies) WithMember(role, member string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for res, pol := range p.m {
		for _, b := range pol.GetBindings() {
			if b.GetRole() == role && slices.Contains(b.GetMembers(), member) {
				out = append(out, res)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
