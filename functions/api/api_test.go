package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/runyard/runyard/functions/api"
	"github.com/runyard/runyard/shared/auth/authtest"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/billing/billingtest"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/buildtest"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/deploy"
	deployrun "github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
	"github.com/runyard/runyard/shared/events/eventstest"
	"github.com/runyard/runyard/shared/httpx/httpxtest"
	identityiam "github.com/runyard/runyard/shared/identity/iam"
	"github.com/runyard/runyard/shared/identity/identitytest"
	"github.com/runyard/runyard/shared/repos/repostest"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
	"github.com/runyard/runyard/shared/sources/gcs"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/stripemock/stripemocktest"
	"github.com/runyard/runyard/shared/whitelabel"
	"github.com/runyard/runyard/shared/whitelabel/whitelabeltest"
	wsgcs "github.com/runyard/runyard/shared/workspace/gcs"
	"github.com/runyard/runyard/shared/workspace/workspacetest"
)

// env is one api handler over its own emulator project, with test Google keys.
type env struct {
	h    http.Handler
	g    *authtest.Google
	logs *syncWriter
	// sm is the in-process Secret Manager the real client talks to.
	sm *secretstest.FakeSecretManager
	// cb is the in-process Cloud Build the real client talks to.
	cb *buildtest.FakeCloudBuild
	// builds shares the handler's store and builder, for tests that play the builder's side.
	builds *build.Service
	// st is the handler's store.
	st store.Store
	// run and iap are the in-process Cloud Run and IAP the real clients talk to.
	run *deploytest.FakeCloudRun
	iap *deploytest.FakeIAP
	// dns answers the TXT lookups of custom domain verification.
	dns *whitelabeltest.DNS
	// iam is the in-process IAM admin and project IAM the real clients talk to; storage the
	// workspace buckets (fake-gcs-server) and their IAM (gRPC).
	iam     *identitytest.FakeIAM
	storage *workspacetest.FakeStorage
	// pub receives what the handler publishes (closed usage periods).
	pub *eventstest.Recorder
}

type envOptions struct {
	dev authn.DevVerifier
	// runtimeDomain turns on domain mode (RUNTIME_DOMAIN).
	runtimeDomain string
	// stripe turns billing on, with Stripe at this URL (stripe-mock or its proxy); "mock"
	// means stripe-mock itself.
	stripe string
}

func newEnv(tb testing.TB, opts ...envOptions) *env {
	tb.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	st := storetest.NewEmulatorStore(tb)
	g := authtest.NewGoogle(tb)
	logs := &syncWriter{w: &bytes.Buffer{}}
	sm, smClient := secretstest.NewFake(tb)
	cb, cbClient := buildtest.NewFake(tb)
	gcsFake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(gcsFake.Stop)
	gcsFake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "sources"})
	cfg := api.Config{ProjectID: "test", Audiences: []string{authtest.DefaultAudience},
		RequestTimeout: time.Minute, MaxBodyBytes: api.DefaultMaxBodyBytes, MaxUploadBytes: 1 << 20, SourcesBucket: "sources",
		BuildAllowedHosts: build.DefaultAllowedHosts,
		Build:             cloudbuild.EnvConfig{ArtifactRepo: "us-central1-docker.pkg.dev/test-project/runyard", Region: "global", Timeout: 20 * time.Minute},
		Repos:             repostest.Config(),
		PublicURL:         "https://api.runyard.test",
		PreviewLinkKey:    testPreviewKey,
		Runtimes: deployrun.EnvConfig{Cells: []string{"c1:test-project:us-central1:3"},
			IngressImage:          "us-docker.pkg.dev/runyard/ingress:1",
			Identity:              deployrun.IdentityTenant,
			WorkspaceBucketPrefix: "ryws-",
			ProjectNumbers:        []string{"test-project=123456789012"}, RuntimeDomain: o.runtimeDomain}}
	switch o.stripe {
	case "":
	case "mock":
		cfg.Billing = billingtest.Config(stripemocktest.URL(tb))
	default:
		cfg.Billing = billingtest.Config(o.stripe)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	builder := cloudbuild.NewFromClient(cbClient, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: cfg.Build.ArtifactRepo})
	builds, err := build.NewService(st, builder)
	if err != nil {
		tb.Fatal(err)
	}
	runFake, iapFake, runClient, iapClient := deploytest.NewFakes(tb)
	numbers, err := deploy.ParseProjectNumbers(cfg.Runtimes.ProjectNumbers)
	if err != nil {
		tb.Fatal(err)
	}
	deployer := deployrun.NewFromClients(runClient, iapClient, deployrun.Config{ProjectNumbers: numbers})
	dns := whitelabeltest.NewDNS(tb)
	iamFake, adminClient, projectsClient := identitytest.NewFake(tb)
	storageFake := workspacetest.New(tb)
	ws, err := wsgcs.New(storageFake.GCS.Client(), "test-project", "ryws-", "US")
	if err != nil {
		tb.Fatal(err)
	}
	ws.WithIAMClient(storageFake.IAMClient(tb))
	pub := &eventstest.Recorder{}
	h, err := api.Build(context.Background(), cfg, api.Options{
		Publisher: pub,
		Identity:  identityiam.NewFromClients(adminClient, projectsClient),
		Workspace: ws,
		Store:     st, IDTokenOptions: []option.ClientOption{g.ClientOption()},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Dev: o.dev,
		Secrets:  secretmanager.NewFromClient(smClient, "test"),
		Builder:  builder,
		Sources:  gcs.NewFromClient(gcsFake.Client(), "sources"),
		Deployer: deployer,
		Resolver: whitelabel.NewResolver(dns.Addr),
	})
	if err != nil {
		tb.Fatalf("api.Build: %v", err)
	}
	return &env{h: h, g: g, logs: logs, sm: sm, cb: cb, builds: builds, run: runFake, iap: iapFake, st: st, dns: dns,
		iam: iamFake, storage: storageFake, pub: pub}
}

// user returns an Authorization value for a signed-in Google user.
func (e *env) user(tb testing.TB, email string) string {
	return "Bearer " + e.g.IDToken(tb, authtest.Claims{Email: email})
}

// do sends a request; cred is a full Authorization value, or "key:<api key>" for X-API-Key.
func (e *env) do(tb testing.TB, method, path, cred string, body any) *httptest.ResponseRecorder {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(cred, "key:"):
		req.Header.Set("X-API-Key", strings.TrimPrefix(cred, "key:"))
	case cred != "":
		req.Header.Set("Authorization", cred)
	}
	req.Header.Set("User-Agent", "runyard-test")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// must sends a request and fails unless it gets want; it decodes the answer into out.
func (e *env) must(tb testing.TB, want int, method, path, cred string, body, out any) {
	tb.Helper()
	httpxtest.Expect(tb, e.do(tb, method, path, cred, body), want, method+" "+path, out)
}

// errorCode returns the envelope's code, failing if the body is not an envelope.
var errorCode = httpxtest.ErrorCode

type keyResp struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// fixture is a tenant "acme" with an owner, an admin, a member, an active and a revoked API
// key, and a second tenant "other" with its own owner and key.
type fixture struct {
	*env
	owner, admin, member, otherOwner string // Authorization values
	key, revokedKey, otherKey        string // "key:…" values
}

const (
	ownerEmail  = "owner@acme.test"
	adminEmail  = "admin@acme.test"
	memberEmail = "member@acme.test"
)

func newFixture(tb testing.TB, opts ...envOptions) *fixture {
	tb.Helper()
	e := newEnv(tb, opts...)
	f := &fixture{env: e,
		owner: e.user(tb, ownerEmail), admin: e.user(tb, adminEmail), member: e.user(tb, memberEmail),
		otherOwner: e.user(tb, "boss@other.test")}
	e.must(tb, 201, "POST", "/v1/tenants", f.owner, api.CreateTenantRequest{ID: "acme", Name: "Acme"}, nil)
	e.must(tb, 201, "POST", "/v1/tenants/acme/members", f.owner, api.AddMemberRequest{Email: adminEmail, Role: "admin"}, nil)
	e.must(tb, 201, "POST", "/v1/tenants/acme/members", f.owner, api.AddMemberRequest{Email: memberEmail}, nil)
	var k, rk, ok keyResp
	e.must(tb, 201, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "ci", Scopes: []string{"runtimes"}}, &k)
	e.must(tb, 201, "POST", "/v1/tenants/acme/apikeys", f.owner, api.CreateAPIKeyRequest{Name: "old"}, &rk)
	e.must(tb, 204, "DELETE", "/v1/tenants/acme/apikeys/"+rk.ID, f.owner, nil, nil)
	e.must(tb, 201, "POST", "/v1/tenants", f.otherOwner, api.CreateTenantRequest{ID: "other", Name: "Other"}, nil)
	e.must(tb, 201, "POST", "/v1/tenants/other/apikeys", f.otherOwner, api.CreateAPIKeyRequest{Name: "x"}, &ok)
	f.key, f.revokedKey, f.otherKey = "key:"+k.Key, "key:"+rk.Key, "key:"+ok.Key
	return f
}

// syncWriter makes a bytes.Buffer safe for concurrent log writes.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func decodeInto(tb testing.TB, data []byte, out any) {
	tb.Helper()
	if err := json.Unmarshal(data, out); err != nil {
		tb.Fatalf("decode %s: %v", data, err)
	}
}
