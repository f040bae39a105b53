package secretmanager_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
)

const sa = "rt-acme@test-project.iam.gserviceaccount.com"

func secretEnv(env, secret, version string) *runpb.EnvVar {
	return &runpb.EnvVar{Name: env, Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{
		SecretKeyRef: &runpb.SecretKeySelector{Secret: "projects/test-project/secrets/" + secret, Version: version},
	}}}
}

func TestRuntimeEnv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, fake := newManager(t, secretmanager.Config{})
	for _, n := range []string{"OPENAI_API_KEY", "GIT_TOKEN", "NPM_TOKEN", "UNUSED"} {
		secretstest.MustPut(t, m, "acme", n, []byte("v1-"+n))
	}
	secretstest.MustPut(t, m, "acme", "GIT_TOKEN", []byte("v2"))
	secretstest.MustPut(t, m, "globex", "OPENAI_API_KEY", []byte("globex"))

	refs := []secretmanager.EnvRef{
		{Name: "OPENAI_API_KEY"},
		{Env: "GITHUB_TOKEN", Name: "GIT_TOKEN", Version: "1"},
		{Env: "npm_config_token", Name: "NPM_TOKEN", Version: "latest"},
		{Env: "OPENAI_KEY_COPY", Name: "OPENAI_API_KEY"},
	}
	got, err := m.RuntimeEnv(ctx, "acme", refs, sa)
	if err != nil {
		t.Fatalf("RuntimeEnv = %v", err)
	}
	want := []*runpb.EnvVar{
		secretEnv("GITHUB_TOKEN", "rt-acme-GIT_TOKEN", "1"),
		secretEnv("OPENAI_API_KEY", "rt-acme-OPENAI_API_KEY", "latest"),
		secretEnv("OPENAI_KEY_COPY", "rt-acme-OPENAI_API_KEY", "latest"),
		secretEnv("npm_config_token", "rt-acme-NPM_TOKEN", "latest"),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	wantRes := []string{
		"projects/test-project/secrets/rt-acme-GIT_TOKEN",
		"projects/test-project/secrets/rt-acme-NPM_TOKEN",
		"projects/test-project/secrets/rt-acme-OPENAI_API_KEY",
	}
	if diff := cmp.Diff(wantRes, fake.PoliciesWithMember(secrets.AccessorRole, "serviceAccount:"+sa)); diff != "" {
		t.Errorf("secrets the runtime's account can access (-want +got):\n%s", diff)
	}
	for _, res := range fake.IAMResources() {
		if !strings.HasPrefix(res, "projects/test-project/secrets/rt-acme-") || strings.HasSuffix(res, "UNUSED") {
			t.Errorf("IAM call on %s", res)
		}
	}
	if n := fake.ProjectPolicyCalls(); n != 0 {
		t.Errorf("%d IAM calls on something other than a secret", n)
	}

	// No refs: nothing to grant, nothing returned.
	got, err = m.RuntimeEnv(ctx, "acme", nil, sa)
	if err != nil || len(got) != 0 {
		t.Errorf("RuntimeEnv(no refs) = %v, %v", got, err)
	}
}

func TestRuntimeEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		tenant      string
		refs        []secretmanager.EnvRef
		account     string
		wantErr     error
		wantMention []string
	}{
		{name: "missing secrets named", refs: []secretmanager.EnvRef{{Name: "A"}, {Name: "NOPE"}, {Name: "GONE"}},
			wantErr: secrets.ErrNotFound, wantMention: []string{"NOPE@latest", "GONE@latest"}},
		{name: "missing version", refs: []secretmanager.EnvRef{{Name: "A", Version: "7"}}, wantErr: secrets.ErrNotFound, wantMention: []string{"A@7"}},
		{name: "destroyed latest", refs: []secretmanager.EnvRef{{Name: "DESTROYED"}}, wantErr: secrets.ErrNotFound, wantMention: []string{"DESTROYED@latest"}},
		{name: "other tenant's secret", tenant: "globex", refs: []secretmanager.EnvRef{{Name: "A"}}, wantErr: secrets.ErrNotFound},
		{name: "bad name", refs: []secretmanager.EnvRef{{Name: "a"}}, wantErr: secrets.ErrInvalidName},
		{name: "bad env", refs: []secretmanager.EnvRef{{Env: "A-B", Name: "A"}}, wantErr: secrets.ErrInvalidName},
		{name: "reserved env", refs: []secretmanager.EnvRef{{Env: "PORT", Name: "A"}}, wantErr: secrets.ErrInvalidName},
		{name: "duplicate env", refs: []secretmanager.EnvRef{{Name: "A"}, {Env: "A", Name: "B"}}, wantErr: secrets.ErrInvalidName},
		{name: "bad version", refs: []secretmanager.EnvRef{{Name: "A", Version: "v1"}}, wantErr: secrets.ErrInvalidVersion},
		{name: "member not email", refs: []secretmanager.EnvRef{{Name: "A"}}, account: "serviceAccount:" + sa, wantErr: secrets.ErrInvalidMember},
		{name: "empty account", refs: []secretmanager.EnvRef{{Name: "A"}}, account: "-", wantErr: secrets.ErrInvalidMember},
		{name: "bad tenant", tenant: "ACME", refs: []secretmanager.EnvRef{{Name: "A"}}, wantErr: secrets.ErrInvalidTenant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, fake := newManager(t, secretmanager.Config{})
			secretstest.MustPut(t, m, "acme", "A", []byte("a"))
			secretstest.MustPut(t, m, "acme", "B", []byte("b"))
			secretstest.MustPut(t, m, "acme", "DESTROYED", []byte("d"))
			client := fake.Client(t)
			if _, err := client.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/test-project/secrets/rt-acme-DESTROYED/versions/1"}); err != nil {
				t.Fatal(err)
			}
			tenant, account := tc.tenant, tc.account
			if tenant == "" {
				tenant = "acme"
			}
			switch account {
			case "":
				account = sa
			case "-":
				account = ""
			}
			env, err := m.RuntimeEnv(ctx, tenant, tc.refs, account)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RuntimeEnv = %v, %v; want %v", env, err, tc.wantErr)
			}
			for _, s := range tc.wantMention {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
			if n := fake.Calls("SetIamPolicy"); n != 0 {
				t.Errorf("a failed RuntimeEnv wrote %d policies", n)
			}
		})
	}
}
