package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/auth"
)

func TestPrincipalString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    auth.Principal
		want string
	}{
		{name: "user", p: auth.Principal{Kind: auth.KindUser, Email: "alice@example.com"}, want: "user:alice@example.com"},
		{name: "dev user", p: auth.Principal{Kind: auth.KindUser, Email: "alice@example.com", Dev: true}, want: "user:alice@example.com (dev)"},
		{name: "api key", p: auth.Principal{Kind: auth.KindAPIKey, Tenant: "acme", KeyID: "abcdefgh2345", Scopes: []string{"runtime"}}, want: "api_key:acme/abcdefgh2345"},
		{name: "zero", want: "anonymous"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrincipalHasScope(t *testing.T) {
	t.Parallel()
	key := auth.Principal{Kind: auth.KindAPIKey, Tenant: "acme", KeyID: "k", Scopes: []string{"runtime", "read"}}
	if !key.HasScope("runtime") || key.HasScope("admin") {
		t.Errorf("HasScope wrong for %v", key)
	}
	user := auth.Principal{Kind: auth.KindUser, Email: "a@b", Scopes: []string{"runtime"}}
	if user.HasScope("runtime") {
		t.Error("user principal reports an API-key scope")
	}
}

func TestPrincipalLogValue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "principal", auth.Principal{Kind: auth.KindAPIKey, Tenant: "acme", KeyID: "k1"})
	if want := `"principal":{"kind":"api_key","tenant":"acme","key_id":"k1"}`; !bytes.Contains(buf.Bytes(), []byte(want)) {
		t.Errorf("log = %s, want it to contain %s", buf.String(), want)
	}
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, ok := auth.PrincipalFromContext(ctx); ok {
		t.Error("empty context has a principal")
	}
	p := auth.Principal{Kind: auth.KindUser, Email: "alice@example.com"}
	got, ok := auth.PrincipalFromContext(auth.WithPrincipal(ctx, p))
	if !ok {
		t.Fatal("principal not found")
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("PrincipalFromContext (-want +got):\n%s", diff)
	}
}
