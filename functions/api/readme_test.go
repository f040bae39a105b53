package api_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/tenancy"
)

// TestPermissionTableInREADME keeps README.md's permission table equal to tenancy.Permissions.
func TestPermissionTableInREADME(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z]+\\.[a-z]+)` \\| [^|]+ \\| (yes|no) \\| (yes|no) \\| (yes|no) \\| (yes|no) \\|$")
	seen := map[tenancy.Action]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		a := tenancy.Action(m[1])
		p, ok := tenancy.Permissions[a]
		if !ok {
			t.Errorf("README lists %s, which tenancy.Permissions does not have", a)
			continue
		}
		seen[a] = true
		want := []bool{tenancy.Allowed(tenancy.RoleOwner, a), tenancy.Allowed(tenancy.RoleAdmin, a), tenancy.Allowed(tenancy.RoleMember, a), p.APIKey}
		for i, cell := range m[2:6] {
			if (cell == "yes") != want[i] {
				t.Errorf("README row %s column %d says %s; code says %v", a, i+1, cell, want[i])
			}
		}
	}
	for a := range tenancy.Permissions {
		if !seen[a] {
			t.Errorf("README's permission table lacks %s", a)
		}
	}
	if !strings.Contains(string(b), "tenant_not_found") {
		t.Error("README does not explain the 404 for other tenants")
	}
}
