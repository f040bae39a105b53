package secretstest_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/secrets/secretstest"
)

const parent = "projects/p"

func auto() *secretmanagerpb.Replication {
	return &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
}

func TestFakeRules(t *testing.T) {
	t.Parallel()
	int64p := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		call func(ctx context.Context, f *secretstest.FakeSecretManager) error
		want codes.Code
	}{
		{name: "bad secret id", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "a.b", Secret: &secretmanagerpb.Secret{Replication: auto()}})
			return err
		}},
		{name: "id too long", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: strings.Repeat("a", 256), Secret: &secretmanagerpb.Secret{Replication: auto()}})
			return err
		}},
		{name: "label value too long", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{
				Replication: auto(), Labels: map[string]string{"name": strings.Repeat("a", 64)}}})
			return err
		}},
		{name: "upper-case label", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{
				Replication: auto(), Labels: map[string]string{"name": "API_KEY"}}})
			return err
		}},
		{name: "no replication", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{}})
			return err
		}},
		{name: "duplicate", want: codes.AlreadyExists, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "existing", Secret: &secretmanagerpb.Secret{Replication: auto()}})
			return err
		}},
		{name: "checksum mismatch", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/existing",
				Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: int64p(1)}})
			return err
		}},
		{name: "payload too large", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/existing",
				Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, 64<<10+1)}})
			return err
		}},
		{name: "add to missing", want: codes.NotFound, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/missing",
				Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}})
			return err
		}},
		{name: "access destroyed", want: codes.FailedPrecondition, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			c := f.Client(t)
			if _, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: parent + "/secrets/existing/versions/1"}); err != nil {
				return err
			}
			_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/secrets/existing/versions/latest"})
			return err
		}},
		{name: "destroy alias", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: parent + "/secrets/existing/versions/latest"})
			return err
		}},
		{name: "unsupported filter", want: codes.InvalidArgument, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			_, err := f.Client(t).ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: parent, Filter: "name:foo OR labels.a=b"}).Next()
			return err
		}},
		{name: "injected", want: codes.Unavailable, call: func(ctx context.Context, f *secretstest.FakeSecretManager) error {
			f.FailNext("GetSecret", codes.Unavailable, 1)
			_, err := f.Client(t).GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: parent + "/secrets/existing"})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, c := secretstest.NewFake(t)
			if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "existing", Secret: &secretmanagerpb.Secret{Replication: auto()}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/existing", Payload: &secretmanagerpb.SecretPayload{Data: []byte("v")}}); err != nil {
				t.Fatal(err)
			}
			if got := status.Code(tc.call(ctx, f)); got != tc.want {
				t.Errorf("code = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFakeListFilterAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c := secretstest.NewFake(t)
	for id, labels := range map[string]map[string]string{
		"a1": {"tenant": "a", "managed-by": "runyard"},
		"a2": {"tenant": "a", "managed-by": "runyard"},
		"a3": {"tenant": "a", "managed-by": "runyard"},
		"a4": {"tenant": "a"},
		"b1": {"tenant": "b", "managed-by": "runyard"},
	} {
		if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: id, Secret: &secretmanagerpb.Secret{Replication: auto(), Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{name: "all", want: []string{"a1", "a2", "a3", "a4", "b1"}},
		{name: "tenant", filter: "labels.tenant=a", want: []string{"a1", "a2", "a3", "a4"}},
		{name: "tenant and managed", filter: "labels.tenant=a AND labels.managed-by=runyard", want: []string{"a1", "a2", "a3"}},
		{name: "none", filter: "labels.tenant=c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: parent, Filter: tc.filter, PageSize: 2})
			var got []string
			for {
				s, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, strings.TrimPrefix(s.GetName(), parent+"/secrets/"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}
