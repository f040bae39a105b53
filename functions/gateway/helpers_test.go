package gateway_test

import (
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

	"golang.org/x/oauth2"

	"github.com/runyard/runyard/functions/gateway"
	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/auth/authtest"
	"github.com/runyard/runyard/shared/authn"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/previews"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
	"github.com/runyard/runyard/shared/whitelabel/whitelabeltest"
)

const (
	domain      = "rt.example.test"
	iapAudience = "/projects/123456789012/global/backendServices/4242"
	previewKey  = "preview-key-0123456789abcdef-0123456789"
	ownerA      = "owner@a.example"
	ownerB      = "owner@b.example"
)

// env is a gateway on 127.0.0.1 over the Firestore emulator, with two tenants (acme, beta),
// a backend standing in for runtime services, and a recording ID token source.
type env struct {
	st      store.Store
	rts     *runtime.Service
	google  *authtest.Google
	tokens  *tokenRecorder
	backend *httptest.Server
	gw      *httptest.Server
	signer  *previews.Signer
	labels  *whitelabel.Service
	dns     *whitelabeltest.DNS
}

type envOptions struct {
	cfg     func(*gateway.Config)
	tokens  gateway.TokenSourceFunc
	backend http.Handler
	deps    func(*gateway.Deps)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{st: storetest.NewEmulatorStore(t), google: authtest.NewGoogle(t), tokens: &tokenRecorder{}, dns: whitelabeltest.NewDNS(t)}
	var err error
	if e.rts, err = runtime.NewService(e.st, []deploy.Cell{{Name: "c1", Project: "p", Region: "r", Limit: 100}}); err != nil {
		t.Fatal(err)
	}
	ten, err := tenancy.NewService(e.st, authn.NewAPIKey)
	if err != nil {
		t.Fatal(err)
	}
	for tenant, owner := range map[string]string{"acme": ownerA, "beta": ownerB} {
		if _, err := ten.CreateTenant(ctx, tenancy.Caller{Kind: tenancy.CallerUser, Email: owner}, tenant, tenant); err != nil {
			t.Fatal(err)
		}
	}
	if e.labels, err = whitelabel.NewService(e.st, ten, whitelabel.NewResolver(e.dns.Addr), whitelabel.Config{Platform: domain}); err != nil {
		t.Fatal(err)
	}
	_, err = e.labels.PutBranding(ctx, tenancy.Caller{Kind: tenancy.CallerUser, Email: ownerA}, "acme",
		whitelabel.Branding{ProductName: "Acme Cloud <b>", Colors: whitelabel.Colors{Primary: "#ff0000"}, SupportURL: "https://help.acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if e.signer, err = previews.NewSigner([]byte(previewKey)); err != nil {
		t.Fatal(err)
	}
	h := o.backend
	if h == nil {
		h = echo()
	}
	e.backend = httptest.NewServer(h)
	t.Cleanup(e.backend.Close)

	cfg := gateway.Config{ProjectID: "test", RuntimeDomain: domain, IAPAudience: iapAudience, PreviewKey: previewKey,
		CacheTTL: 0, CacheSize: 100, DialTimeout: 5 * time.Second, LookupTimeout: 5 * time.Second}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	v, err := auth.NewIAPVerifier(ctx, iapAudience, e.google.ClientOption())
	if err != nil {
		t.Fatal(err)
	}
	tokens := o.tokens
	if tokens == nil {
		tokens = e.tokens.source
	}
	lookup, err := whitelabel.NewLookup(e.st, whitelabel.LookupConfig{Platform: domain})
	if err != nil {
		t.Fatal(err)
	}
	domains, brands := gateway.Whitelabel(lookup)
	deps := gateway.Deps{Store: e.st, Verifier: v, Domains: domains, Branding: brands, Tokens: tokens,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if o.deps != nil {
		o.deps(&deps)
	}
	srv, err := gateway.NewServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = httptest.NewServer(srv.Handler())
	t.Cleanup(e.gw.Close)
	return e
}

// runtime creates a running runtime of tenant whose service is the backend.
func (e *env) runtime(t testing.TB, tenant string, mode deploy.Mode, ingressEnv map[string]string) runtime.Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := e.rts.Create(ctx, tenant, runtime.Spec{Mode: mode, State: runtime.StateDeploying, Image: "img", IngressEnv: ingressEnv})
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.rts.Transition(ctx, tenant, r.ID, runtime.StateRunning, func(r *runtime.Runtime) error {
		r.URL = e.backend.URL
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// setVisibility stores port's visibility.
func (e *env) setVisibility(t testing.TB, tenant, rt string, port int, v previews.Visibility) {
	t.Helper()
	err := e.st.RunTransaction(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := previews.Modify(tx, tenant, rt, time.Now(), previews.SetVisibility(port, v))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// link records and signs a preview link for port that expires at exp.
func (e *env) link(t testing.TB, tenant, rt string, port int, exp time.Time) (string, string) {
	t.Helper()
	id := previews.NewLinkID()
	err := e.st.RunTransaction(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := previews.Modify(tx, tenant, rt, time.Now(), previews.AddLink(previews.Link{ID: id, Port: port, ExpiresAt: exp, CreatedAt: time.Now()}, time.Now()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.signer.Sign(previews.Claims{Tenant: tenant, Runtime: rt, Port: port, Expires: exp, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return id, tok
}

// iap mints an IAP JWT for email with the gateway's audience, c overriding.
func (e *env) iap(t testing.TB, email string, c authtest.Claims) string {
	t.Helper()
	if c.Audience == "" {
		c.Audience = iapAudience
	}
	c.Email = email
	return e.google.IAPToken(t, c)
}

// reply is a request's outcome as the client saw it.
type reply struct {
	status int
	header http.Header
	body   string
	seen   seen
}

// do sends a GET for host+path through the gateway (no redirects followed).
func (e *env) do(t testing.TB, host, path string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.gw.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.Header.Get("X-Backend") == "echo" {
		if err := json.Unmarshal(b, &r.seen); err != nil {
			t.Fatalf("backend answer %q: %v", b, err)
		}
	}
	return r
}

// code is the error code of an envelope, or the X-Runyard-Error of a denial page.
func (r reply) code() string {
	if c := r.header.Get("X-Runyard-Error"); c != "" {
		return c
	}
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &env)
	return env.Error.Code
}

// seen is what the backend received.
type seen struct {
	Host          string `json:"host"`
	ForwardedHost string `json:"forwarded_host"`
	Proto         string `json:"proto"`
	Path          string `json:"path"`
	Query         string `json:"query"`
	Serverless    string `json:"serverless"`
	Authorization string `json:"authorization"`
	Cookie        string `json:"cookie"`
	SessionKey    string `json:"session_key"`
	IAP           string `json:"iap"`
	UserEmail     string `json:"user_email"`
}

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "echo")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Host: r.Host, ForwardedHost: r.Header.Get("X-Forwarded-Host"), Proto: r.Header.Get("X-Forwarded-Proto"),
			Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Serverless: r.Header.Get("X-Serverless-Authorization"),
			Authorization: r.Header.Get("Authorization"), Cookie: r.Header.Get("Cookie"), SessionKey: r.Header.Get("X-Session-API-Key"),
			IAP: r.Header.Get(auth.IAPHeader), UserEmail: r.Header.Get("X-Goog-Authenticated-User-Email")})
	})
}

// tokenRecorder is an ID token source per audience that records what it minted.
type tokenRecorder struct {
	mu      sync.Mutex
	sources map[string]int // audience → sources made
	minted  map[string]int // audience → tokens minted
}

func (r *tokenRecorder) source(_ context.Context, audience string) (oauth2.TokenSource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sources == nil {
		r.sources, r.minted = map[string]int{}, map[string]int{}
	}
	r.sources[audience]++
	return oauth2.ReuseTokenSource(nil, recordingSource{r, audience}), nil
}

type recordingSource struct {
	r   *tokenRecorder
	aud string
}

func (s recordingSource) Token() (*oauth2.Token, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.minted[s.aud]++
	return &oauth2.Token{AccessToken: "idtoken-for:" + s.aud, Expiry: time.Now().Add(time.Hour)}, nil
}

func (r *tokenRecorder) counts(aud string) (sources, minted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sources[aud], r.minted[aud]
}

// verifyDomain has tenant's owner bring d and prove it with the TXT record (shared/whitelabel
// against an in-process DNS server).
func (e *env) verifyDomain(t testing.TB, tenant, owner, d string) {
	t.Helper()
	ctx := context.Background()
	c := tenancy.Caller{Kind: tenancy.CallerUser, Email: owner}
	dom, err := e.labels.AddDomain(ctx, c, tenant, d)
	if err != nil {
		t.Fatal(err)
	}
	e.dns.SetTXT(dom.ChallengeName, dom.ChallengeValue)
	if _, err := e.labels.VerifyDomain(ctx, c, tenant, d); err != nil {
		t.Fatal(err)
	}
}

var _ = strings.Contains

type (
	contextT = context.Context
	storeTx  = store.Tx
)
