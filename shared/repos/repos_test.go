package repos_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/tenancy"
)

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	allowed := []string{"github.com", "ghe.example.com"}
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "plain", in: "https://github.com/acme/app", want: "https://github.com/acme/app"},
		{name: "trailing slash", in: "https://github.com/acme/app/", want: "https://github.com/acme/app"},
		{name: ".git", in: "https://github.com/acme/app.git", want: "https://github.com/acme/app"},
		{name: "host case", in: "HTTPS://GitHub.COM/Acme/App", want: "https://github.com/Acme/App"},
		{name: "dots and dashes", in: "https://github.com/a-b/c.d_e-f", want: "https://github.com/a-b/c.d_e-f"},
		{name: "second host", in: "https://ghe.example.com/o/r", want: "https://ghe.example.com/o/r"},
		{name: "http", in: "http://github.com/acme/app", wantErr: true},
		{name: "ssh", in: "git@github.com:acme/app.git", wantErr: true},
		{name: "ssh url", in: "ssh://git@github.com/acme/app", wantErr: true},
		{name: "file", in: "file:///etc/passwd", wantErr: true},
		{name: "other host", in: "https://gitlab.com/acme/app", wantErr: true},
		{name: "suffix host", in: "https://github.com.evil.test/acme/app", wantErr: true},
		{name: "userinfo", in: "https://x-access-token:ghp_secret@github.com/acme/app", wantErr: true},
		{name: "user only", in: "https://me@github.com/acme/app", wantErr: true},
		{name: "port", in: "https://github.com:443/acme/app", wantErr: true},
		{name: "empty port", in: "https://github.com:/acme/app", wantErr: true},
		{name: "query", in: "https://github.com/acme/app?x=1", wantErr: true},
		{name: "empty query", in: "https://github.com/acme/app?", wantErr: true},
		{name: "fragment", in: "https://github.com/acme/app#readme", wantErr: true},
		{name: "owner only", in: "https://github.com/acme", wantErr: true},
		{name: "deep path", in: "https://github.com/acme/app/tree/main", wantErr: true},
		{name: "dot dot", in: "https://github.com/acme/..", wantErr: true},
		{name: "escaped slash", in: "https://github.com/acme%2Fapp/x", wantErr: true},
		{name: "space", in: "https://github.com/acme/my app", wantErr: true},
		{name: "backslash", in: `https://github.com\@evil.test/acme/app`, wantErr: true},
		{name: "unicode", in: "https://github.com/acmé/app", wantErr: true},
		{name: "bad owner", in: "https://github.com/-acme/app", wantErr: true},
		{name: "owner trailing dash", in: "https://github.com/acme-/app", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "too long", in: "https://github.com/acme/" + strings.Repeat("a", repos.MaxURLLen), wantErr: true},
		{name: "no host", in: "https:///acme/app", wantErr: true},
		{name: "opaque", in: "https:github.com/acme/app", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := repos.NormalizeURL(tc.in, allowed)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NormalizeURL(%q) = %q, %v; wantErr %v", tc.in, got, err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, repos.ErrInvalidURL) || !errors.Is(err, tenancy.ErrInvalid) {
					t.Errorf("error %v is not ErrInvalidURL and tenancy.ErrInvalid", err)
				}
				if tc.in != "" && strings.Contains(err.Error(), tc.in) {
					t.Errorf("error echoes the input: %v", err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("NormalizeURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again, err := repos.NormalizeURL(got, allowed); err != nil || again != got {
				t.Errorf("not idempotent: %q → %q, %v", got, again, err)
			}
		})
	}
}

func TestCheckBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "default", in: "", want: "main"},
		{name: "main", in: "main", want: "main"},
		{name: "nested", in: "release/v1.2", want: "release/v1.2"},
		{name: "plus", in: "feat+x", want: "feat+x"},
		{name: "dot dot", in: "a..b", wantErr: true},
		{name: "leading dash", in: "-x", wantErr: true},
		{name: "leading slash", in: "/x", wantErr: true},
		{name: "trailing slash", in: "x/", wantErr: true},
		{name: "double slash", in: "a//b", wantErr: true},
		{name: "lock", in: "x.lock", wantErr: true},
		{name: "hidden component", in: "a/.b", wantErr: true},
		{name: "space", in: "a b", wantErr: true},
		{name: "reflog", in: "a@{1}", wantErr: true},
		{name: "HEAD", in: "HEAD", wantErr: true},
		{name: "too long", in: strings.Repeat("a", repos.MaxBranchLen+1), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := repos.CheckBranch(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("CheckBranch(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSecretNameIsValid(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "0123456789abcdefghijklmnopqrstuv", "00000abcdef"} {
		n := repos.SecretName(id)
		if !secrets.ValidName(n) || !strings.HasPrefix(n, repos.SecretPrefix) {
			t.Errorf("SecretName(%q) = %q is not a valid reserved secret name", id, n)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     repos.Config
		wantErr string
	}{
		{name: "good", cfg: repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: "https://x.test/githubhook"}},
		{name: "http base", cfg: repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: "http://127.0.0.1:8080/githubhook"}},
		{name: "no hosts", cfg: repos.Config{HookBaseURL: "https://x.test"}, wantErr: "RUNYARD_REPO_HOSTS"},
		{name: "bad host", cfg: repos.Config{AllowedHosts: []string{"GitHub.com/"}, HookBaseURL: "https://x.test"}, wantErr: "RUNYARD_REPO_HOSTS"},
		{name: "no base", cfg: repos.Config{AllowedHosts: []string{"github.com"}}, wantErr: "RUNYARD_HOOK_BASE_URL"},
		{name: "trailing slash", cfg: repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: "https://x.test/"}, wantErr: "RUNYARD_HOOK_BASE_URL"},
		{name: "query", cfg: repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: "https://x.test?a=b"}, wantErr: "RUNYARD_HOOK_BASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://github.com/acme/app", "https://u:p@github.com/a/b", "https://github.com/a/b.git/", "https://github.com/%2e%2e/x", "https://[::1]/a/b"} {
		f.Add(s)
	}
	allowed := []string{"github.com"}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := repos.NormalizeURL(in, allowed)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "https://github.com/") || strings.ContainsAny(got, "@?#% \\") || strings.Count(got, "/") != 4 {
			t.Fatalf("NormalizeURL(%q) = %q", in, got)
		}
		if again, err := repos.NormalizeURL(got, allowed); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
		}
	})
}
