package identity_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/identity"
)

var accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)

func TestAccountID(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, tenant, want string }{
		{name: "short", tenant: "acme", want: "rt-acme"},
		{name: "longest tenant id fits", tenant: strings.Repeat("a", 27), want: "rt-" + strings.Repeat("a", 27)},
		{name: "longer ids are cut and hashed", tenant: strings.Repeat("b", 40), want: "rt-" + strings.Repeat("b", 18) + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := identity.AccountID(tt.tenant)
			if !strings.HasPrefix(got, tt.want) || len(got) > 30 || len(got) < 6 || !accountIDRE.MatchString(got) {
				t.Fatalf("AccountID(%q) = %q, want prefix %q, 6-30 chars, IAM's pattern", tt.tenant, got, tt.want)
			}
		})
	}
	if identity.AccountID(strings.Repeat("c", 40)) == identity.AccountID(strings.Repeat("c", 39)) {
		t.Fatal("two long tenant ids share an account id")
	}
}

func FuzzAccountID(f *testing.F) {
	f.Add("acme")
	f.Add(strings.Repeat("x-", 30))
	f.Fuzz(func(t *testing.T, tenant string) {
		if tenant == "" || tenant[0] < 'a' || tenant[0] > 'z' || strings.HasSuffix(tenant, "-") {
			return
		}
		for _, c := range tenant {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return
			}
		}
		id := identity.AccountID(tenant)
		if len(id) > 30 || len(id) < 6 && len(tenant) >= 3 || !accountIDRE.MatchString(id) {
			t.Fatalf("AccountID(%q) = %q", tenant, id)
		}
	})
}

func TestLLMNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      identity.LLM
		want    identity.LLM
		wantErr error
	}{
		{name: "off drops models", in: identity.LLM{Models: []string{"gemini-2.5-pro"}}, want: identity.LLM{Models: []string{}}},
		{name: "sorted and deduplicated", in: identity.LLM{VertexAI: true, Models: []string{"gemini-2.5-pro", "claude-sonnet-4-5", "gemini-2.5-pro"}},
			want: identity.LLM{VertexAI: true, Models: []string{"claude-sonnet-4-5", "gemini-2.5-pro"}}},
		{name: "unknown model", in: identity.LLM{VertexAI: true, Models: []string{"gpt-5"}}, wantErr: identity.ErrUnknownModel},
		{name: "no models", in: identity.LLM{VertexAI: true}, wantErr: identity.ErrInvalid},
		{name: "path in a model id", in: identity.LLM{VertexAI: true, Models: []string{"gemini-2.5-pro/../x"}}, wantErr: identity.ErrUnknownModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.Normalize()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestVertexCondition(t *testing.T) {
	t.Parallel()
	c := identity.VertexCondition("p1", "us-east5", []string{"claude-sonnet-4-5", "gemini-2.5-pro"})
	want := `resource.name == "projects/p1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5" || ` +
		`resource.name.startsWith("projects/p1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@") || ` +
		`resource.name == "projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-pro" || ` +
		`resource.name.startsWith("projects/p1/locations/us-east5/publishers/google/models/gemini-2.5-pro@")`
	if c.Expression != want || c.Title == "" {
		t.Fatalf("condition = %+v", c)
	}
}
