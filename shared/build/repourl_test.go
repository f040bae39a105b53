package build_test

import (
	"errors"
	"testing"

	"github.com/runyard/runyard/shared/build"
)

func TestValidateRepoURL(t *testing.T) {
	t.Parallel()
	hosts := build.DefaultAllowedHosts
	tests := []struct {
		name, in, want string
	}{
		{"plain", "https://github.com/acme/app", "https://github.com/acme/app"},
		{"dot git and slash", "https://GitHub.com/acme/app.git/", "https://github.com/acme/app"},
		{"gitlab subgroup", "https://gitlab.com/g/sub/app", "https://gitlab.com/g/sub/app"},
		{"http", "http://github.com/acme/app", ""},
		{"ssh", "git@github.com:acme/app.git", ""},
		{"credentials", "https://user:tok@github.com/acme/app", ""},
		{"token only", "https://tok@github.com/acme/app", ""},
		{"loopback ip", "https://127.0.0.1/acme/app", ""},
		{"private ip", "https://10.0.0.8/acme/app", ""},
		{"metadata ip", "https://169.254.169.254/computeMetadata", ""},
		{"ipv6 loopback", "https://[::1]/acme/app", ""},
		{"public ip", "https://140.82.112.3/acme/app", ""},
		{"localhost", "https://localhost/acme/app", ""},
		{"not allowed host", "https://evil.example/acme/app", ""},
		{"suffix trick", "https://github.com.evil.example/acme/app", ""},
		{"subdomain", "https://api.github.com/acme/app", ""},
		{"port", "https://github.com:8443/acme/app", ""},
		{"query", "https://github.com/acme/app?x=1", ""},
		{"fragment", "https://github.com/acme/app#x", ""},
		{"no repo", "https://github.com/acme", ""},
		{"dot dot", "https://github.com/acme/../x", ""},
		{"escaped", "https://github.com/acme/%2e%2e", ""},
		{"garbage", "::::", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := build.ValidateRepoURL(tc.in, hosts)
			if tc.want == "" {
				if !errors.Is(err, build.ErrRepoURL) {
					t.Errorf("ValidateRepoURL(%q) = %q, %v; want ErrRepoURL", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ValidateRepoURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzValidateRepoURL(f *testing.F) {
	for _, s := range []string{"https://github.com/a/b", "https://[::1]/a/b", "https://u@github.com/a", "https://github.com/a/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := build.ValidateRepoURL(s, build.DefaultAllowedHosts)
		if err == nil {
			if again, err := build.ValidateRepoURL(got, build.DefaultAllowedHosts); err != nil || again != got {
				t.Fatalf("canonical form %q of %q does not validate to itself: %q %v", got, s, again, err)
			}
		}
	})
}
