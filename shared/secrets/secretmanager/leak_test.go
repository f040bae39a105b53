package secretmanager_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
)

// TestNoValueLeaks runs create, rotate, access, grant, inject, delete and tenant deletion with a
// distinctive value, with an error injected into every backend method along the way, and checks
// that the value appears in no log line (JSON logger at debug level), no error text and no
// returned result.
func TestNoValueLeaks(t *testing.T) {
	t.Parallel()
	const canary = "LEAK-CANARY-sm-4b8e2f61c0"
	val, val2 := []byte(canary), []byte(canary+"-rotated")
	var logs bytes.Buffer
	m, fake := newManager(t, secretmanager.Config{Logger: logging.New(&logs, slog.LevelDebug)})
	ctx := context.Background()

	var seen []string
	failures := 0
	note := func(v any, err error) {
		seen = append(seen, secretstest.Printed(v))
		if msg, ok := v.(proto.Message); ok {
			seen = append(seen, protojson.Format(msg))
		}
		if env, ok := v.([]*runpb.EnvVar); ok {
			for _, e := range env {
				seen = append(seen, protojson.Format(e))
			}
		}
		if err != nil {
			failures++
			seen = append(seen, err.Error())
		}
	}
	inject := func(method string, code codes.Code) { fake.FailNext(method, code, 1) }

	// Create (with failures on both calls of a first Put), rotate, access.
	inject("AddSecretVersion", codes.Internal)
	note(m.Put(ctx, "acme", "LEAK", val))
	inject("CreateSecret", codes.PermissionDenied)
	note(m.Put(ctx, "acme", "LEAK", val))
	note(m.Put(ctx, "acme", "LEAK", val))
	inject("AddSecretVersion", codes.InvalidArgument)
	note(m.Put(ctx, "acme", "LEAK", val2))
	note(m.Put(ctx, "acme", "LEAK", val2))
	inject("AccessSecretVersion", codes.PermissionDenied)
	note(m.Access(ctx, "acme", "LEAK", "latest"))
	note(m.Access(ctx, "acme", "LEAK", "3"))
	// Refused input carrying the value in every field.
	note(m.Put(ctx, "acme", canary, val))
	note(m.Put(ctx, canary, "LEAK", val))
	note(m.Put(ctx, "acme", "BIG", bytes.Repeat(val, secrets.MaxValueBytes/len(val)+1)))
	note(m.Access(ctx, "acme", "LEAK", canary))
	note(nil, m.GrantAccess(ctx, "acme", []string{"LEAK"}, canary))
	// Grant and inject.
	inject("SetIamPolicy", codes.Unavailable)
	note(nil, m.GrantAccess(ctx, "acme", []string{"LEAK"}, secretstest.Member))
	note(m.RuntimeEnv(ctx, "acme", []secretmanager.EnvRef{{Name: "LEAK"}, {Name: "MISSING"}}, sa))
	note(m.RuntimeEnv(ctx, "acme", []secretmanager.EnvRef{{Name: "LEAK"}}, sa))
	// Delete, failing at each step once, then tenant deletion.
	for _, method := range []string{"ListSecretVersions", "DestroySecretVersion", "DeleteSecret"} {
		secretstest.MustPut(t, m, "acme", "LEAK", val)
		inject(method, codes.Unavailable)
		note(nil, m.Delete(ctx, "acme", "LEAK"))
		note(nil, m.Delete(ctx, "acme", "LEAK"))
	}
	note(nil, m.Delete(ctx, "acme", "LEAK"))
	secretstest.MustPut(t, m, "acme", "LEAK", val)
	inject("ListSecrets", codes.ResourceExhausted)
	note(m.DeleteTenant(ctx, "acme"))
	note(m.DeleteTenant(ctx, "acme"))

	if logs.Len() == 0 || failures < 10 {
		t.Fatalf("%d log bytes, %d failing calls: the test would prove little", logs.Len(), failures)
	}
	for what, text := range map[string]string{"logs": logs.String(), "results and errors": strings.Join(seen, "\n")} {
		if strings.Contains(text, canary) {
			t.Errorf("the secret value appears in the %s", what)
		}
	}
}
