package tenancy_test

import (
	"testing"

	"github.com/runyard/runyard/shared/tenancy"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		role tenancy.Role
		act  tenancy.Action
		want bool
	}{
		{"owner deletes tenant", tenancy.RoleOwner, tenancy.ActTenantDelete, true},
		{"admin cannot delete tenant", tenancy.RoleAdmin, tenancy.ActTenantDelete, false},
		{"admin adds members", tenancy.RoleAdmin, tenancy.ActMemberAdd, true},
		{"member cannot add members", tenancy.RoleMember, tenancy.ActMemberAdd, false},
		{"member lists members", tenancy.RoleMember, tenancy.ActMembersList, true},
		{"member lists secrets", tenancy.RoleMember, tenancy.ActSecretsList, true},
		{"member cannot put secrets", tenancy.RoleMember, tenancy.ActSecretPut, false},
		{"member cannot read audit", tenancy.RoleMember, tenancy.ActAuditRead, false},
		{"unknown role", tenancy.Role("root"), tenancy.ActTenantRead, false},
		{"empty role", tenancy.Role(""), tenancy.ActTenantRead, false},
		{"unknown action", tenancy.RoleOwner, tenancy.Action("tenant.explode"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tenancy.Allowed(tc.role, tc.act); got != tc.want {
				t.Errorf("Allowed(%q, %q) = %v, want %v", tc.role, tc.act, got, tc.want)
			}
		})
	}
}

// TestRolesAreOrdered: whatever a weaker role may do, a stronger one may too.
func TestRolesAreOrdered(t *testing.T) {
	t.Parallel()
	roles := []tenancy.Role{tenancy.RoleMember, tenancy.RoleAdmin, tenancy.RoleOwner}
	for a := range tenancy.Permissions {
		for i := 1; i < len(roles); i++ {
			if tenancy.Allowed(roles[i-1], a) && !tenancy.Allowed(roles[i], a) {
				t.Errorf("%s may %s but %s may not", roles[i-1], a, roles[i])
			}
		}
	}
}

func TestValidEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"a@b.co", true}, {"first.last+tag@sub.example.com", true},
		{"A@b.co", false}, {"a@b", false}, {"a b@c.de", false}, {"@b.co", false}, {"a@@b.co", false}, {"a@b.co/x", false},
	} {
		if got := tenancy.ValidEmail(tc.email); got != tc.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
}
