// Package ids holds the shape rules of Runyard's resource ids, shared by every package that
// parses or makes them (tenancy, API keys, secret and service account names).
package ids

// Tenant id bounds. 27 leaves room for per-tenant resource names such as the rt-<tenant>
// service account (30 characters at most).
const (
	MinTenantLen = 3
	MaxTenantLen = 27
)

// ValidTenant reports whether id is a tenant id: 3-27 characters of lowercase letters, digits
// and '-', starting with a letter and not ending with '-'.
func ValidTenant(id string) bool {
	if len(id) < MinTenantLen || len(id) > MaxTenantLen || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
