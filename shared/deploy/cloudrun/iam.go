package cloudrun

import (
	"context"
	"slices"

	iampb "cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// policyAttempts bounds the read-modify-write retries of a policy whose etag went stale.
const policyAttempts = 3

// ensureInvoker adds member to roles/run.invoker on the service's policy (read-modify-write
// with the etag); it writes nothing when the binding is there already.
func (d *Deployer) ensureInvoker(ctx context.Context, service, member string) error {
	return d.modifyPolicy(ctx, "run", service,
		func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
			return d.run.GetIamPolicy(ctx, req)
		},
		func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
			return d.run.SetIamPolicy(ctx, req)
		},
		func(p *iampb.Policy) bool { return addMember(p, InvokerRole, member) })
}

// setIAPAccessors makes roles/iap.httpsResourceAccessor on the IAP resource bind exactly
// members (the runtime's resource is Runyard's alone: a removed member loses access on the next
// Deploy); other roles are kept. It writes nothing when the binding is right already.
func (d *Deployer) setIAPAccessors(ctx context.Context, resource string, members []string) error {
	want := slices.Sorted(slices.Values(members))
	want = slices.Compact(want)
	return d.modifyPolicy(ctx, "iap", resource,
		func(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
			return d.iap.GetIamPolicy(ctx, req)
		},
		func(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
			return d.iap.SetIamPolicy(ctx, req)
		},
		func(p *iampb.Policy) bool { return setMembers(p, IAPAccessorRole, want) })
}

// modifyPolicy reads resource's policy, applies change (which reports whether it changed
// anything) and writes it back with the etag it read, retrying on a stale etag.
func (d *Deployer) modifyPolicy(ctx context.Context, api, resource string,
	get func(context.Context, *iampb.GetIamPolicyRequest) (*iampb.Policy, error),
	set func(context.Context, *iampb.SetIamPolicyRequest) (*iampb.Policy, error),
	change func(*iampb.Policy) bool,
) error {
	var err error
	for range policyAttempts {
		cctx, cancel := d.call(ctx)
		var p *iampb.Policy
		p, err = get(cctx, &iampb.GetIamPolicyRequest{Resource: resource})
		cancel()
		if err != nil {
			return wrap(api+" GetIamPolicy", resource, err)
		}
		if !change(p) {
			return nil
		}
		cctx, cancel = d.call(ctx)
		_, err = set(cctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: p})
		cancel()
		if status.Code(err) != codes.Aborted {
			break
		}
	}
	if err != nil {
		return wrap(api+" SetIamPolicy", resource, err)
	}
	return nil
}

// addMember adds member to role's unconditional binding; false if it is there already.
func addMember(p *iampb.Policy, role, member string) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() == role && b.GetCondition() == nil {
			if slices.Contains(b.GetMembers(), member) {
				return false
			}
			b.Members = append(b.Members, member)
			return true
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
	return true
}

// setMembers makes role's unconditional binding hold exactly members (sorted, no duplicates;
// none removes the binding); false if it did already.
func setMembers(p *iampb.Policy, role string, members []string) bool {
	i := slices.IndexFunc(p.GetBindings(), func(b *iampb.Binding) bool { return b.GetRole() == role && b.GetCondition() == nil })
	if i < 0 {
		if len(members) == 0 {
			return false
		}
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: slices.Clone(members)})
		return true
	}
	have := slices.Sorted(slices.Values(p.Bindings[i].GetMembers()))
	if slices.Equal(slices.Compact(have), members) {
		return false
	}
	if len(members) == 0 {
		p.Bindings = slices.Delete(p.Bindings, i, i+1)
	} else {
		p.Bindings[i].Members = slices.Clone(members)
	}
	return true
}
