package ids_test

import (
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/ids"
)

func TestValidTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"simple", "acme", true},
		{"digits and dash", "a1-b2", true},
		{"min", "abc", true},
		{"max", strings.Repeat("a", 27), true},
		{"too short", "ab", false},
		{"too long", strings.Repeat("a", 28), false},
		{"leading digit", "1abc", false},
		{"leading dash", "-abc", false},
		{"trailing dash", "abc-", false},
		{"upper", "Acme", false},
		{"underscore", "a_bc", false},
		{"slash", "a/bc", false},
		{"unicode", "acmé", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ids.ValidTenant(tc.id); got != tc.want {
				t.Errorf("ValidTenant(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
