package iam

import (
	"slices"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"

	"github.com/runyard/runyard/shared/identity"
)

// Bind returns bindings with member bound to role under cond (nil: unconditionally) and bound
// to role in no other way, and whether anything changed. Other members and roles are kept.
func Bind(bindings []*iampb.Binding, role, member string, cond *identity.Condition) ([]*iampb.Binding, bool) {
	want := condExpr(cond)
	out, changed := unbind(bindings, role, member, func(b *iampb.Binding) bool { return proto.Equal(b.GetCondition(), want) })
	for _, b := range out {
		if b.GetRole() == role && proto.Equal(b.GetCondition(), want) {
			if !slices.Contains(b.Members, member) {
				b.Members = append(b.Members, member)
				changed = true
			}
			return out, changed
		}
	}
	return append(out, &iampb.Binding{Role: role, Members: []string{member}, Condition: want}), true
}

// Unbind returns bindings without any binding of member to role, and whether it had one.
func Unbind(bindings []*iampb.Binding, role, member string) ([]*iampb.Binding, bool) {
	return unbind(bindings, role, member, func(*iampb.Binding) bool { return false })
}

// unbind removes member from role's bindings except those keep reports; bindings left without
// members are dropped.
func unbind(bindings []*iampb.Binding, role, member string, keep func(*iampb.Binding) bool) ([]*iampb.Binding, bool) {
	changed := false
	out := make([]*iampb.Binding, 0, len(bindings))
	for _, b := range bindings {
		if b.GetRole() == role && !keep(b) && slices.Contains(b.GetMembers(), member) {
			b = proto.Clone(b).(*iampb.Binding)
			b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == member })
			changed = true
			if len(b.Members) == 0 {
				continue
			}
		}
		out = append(out, b)
	}
	return out, changed
}

// HasConditions reports whether any binding is conditioned (the policy must then be version 3).
func HasConditions(bindings []*iampb.Binding) bool {
	return slices.ContainsFunc(bindings, func(b *iampb.Binding) bool { return b.GetCondition() != nil })
}

func condExpr(c *identity.Condition) *expr.Expr {
	if c == nil {
		return nil
	}
	return &expr.Expr{Title: c.Title, Description: c.Description, Expression: c.Expression}
}
