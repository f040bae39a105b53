package githubhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/functions/githubhook"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/httpx/httpxtest"
	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/repos/repostest"
	"github.com/runyard/runyard/shared/secrets"
	"github.com/runyard/runyard/shared/secrets/secretmanager"
	"github.com/runyard/runyard/shared/secrets/secretstest"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
)

// prebuildCall is one call of fakePrebuilder.
type prebuildCall struct {
	Tenant string
	Source build.Source
	Actor  string
}

// fakePrebuilder records calls and answers cached for a git cache key it has seen.
type fakePrebuilder struct {
	mu    sync.Mutex
	calls []prebuildCall
	seen  map[string]bool
	fail  int // fail the next n calls
}

func (p *fakePrebuilder) Prebuild(_ context.Context, tenant string, src build.Source, actor string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, prebuildCall{Tenant: tenant, Source: src, Actor: actor})
	if p.fail > 0 {
		p.fail--
		return "", false, errors.New("builder unavailable")
	}
	key := build.GitCacheKey(src.RepoURL, src.Commit)
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	cached := p.seen[key]
	p.seen[key] = true
	return fmt.Sprintf("b%d", len(p.calls)), cached, nil
}

func (p *fakePrebuilder) Calls() []prebuildCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]prebuildCall(nil), p.calls...)
}

// env is a githubhook handler over its own emulator project with tenant "acme" connected to
// github.com/acme/app (default branch main).
type env struct {
	h      http.Handler
	st     store.Store
	sec    secrets.Manager
	sm     *secretstest.FakeSecretManager
	pre    *fakePrebuilder
	repos  *repos.Service
	repo   repos.Repo
	secret []byte
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	st := storetest.NewEmulatorStore(tb)
	sm, smClient := secretstest.NewFake(tb)
	sec := secretmanager.NewFromClient(smClient, "test")
	ten := repostest.Tenant(tb, st, "acme")
	svc, err := repos.NewService(st, sec, ten, repostest.Config())
	if err != nil {
		tb.Fatal(err)
	}
	repo, secret, err := svc.Connect(context.Background(), repostest.Admin, "acme", "https://github.com/acme/app", "")
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	pre := &fakePrebuilder{}
	cfg := githubhook.Config{ProjectID: "test", RequestTimeout: time.Minute,
		MaxBodyBytes: githubhook.DefaultMaxBodyBytes, DeliveryTTL: githubhook.DefaultDeliveryTTL}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	h, err := githubhook.Build(context.Background(), cfg, githubhook.Options{
		Store: st, Secrets: sec, Prebuilder: pre, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return &env{h: h, st: st, sec: sec, sm: sm, pre: pre, repos: svc, repo: repo, secret: []byte(secret)}
}

func (e *env) path() string { return "/v1/hooks/acme/" + e.repo.ID }

// delivery is one webhook request.
type delivery struct {
	path, event, id, signature, contentType string
	body                                    []byte
}

// send posts d; an empty signature is computed with the connection's secret ("-" sends none).
func (e *env) send(tb testing.TB, d delivery) *httptest.ResponseRecorder {
	tb.Helper()
	if d.path == "" {
		d.path = e.path()
	}
	req := httptest.NewRequest("POST", d.path, bytes.NewReader(d.body))
	switch d.signature {
	case "":
		req.Header.Set(githubhook.HeaderSignature, githubhook.SignatureHeader(d.body, e.secret))
	case "-":
	default:
		req.Header.Set(githubhook.HeaderSignature, d.signature)
	}
	if d.event != "-" {
		req.Header.Set(githubhook.HeaderEvent, d.event)
	}
	if d.id != "-" {
		req.Header.Set(githubhook.HeaderDelivery, d.id)
	}
	ct := d.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "GitHub-Hookshot/test")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

const (
	commitA = "1111111111111111111111111111111111111111"
	commitB = "2222222222222222222222222222222222222222"
	zero    = "0000000000000000000000000000000000000000"
)

// pushBody is a push payload like GitHub's (trimmed).
func pushBody(tb testing.TB, ref, after string, deleted bool) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{
		"ref": ref, "before": commitB, "after": after, "deleted": deleted, "created": false, "forced": false,
		"repository":  map[string]any{"id": 1, "full_name": "acme/app", "html_url": "https://github.com/acme/app", "default_branch": "main"},
		"pusher":      map[string]any{"name": "dev", "email": "dev@acme.test"},
		"sender":      map[string]any{"login": "dev"},
		"head_commit": map[string]any{"id": after, "message": "change"},
		"commits":     []any{},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func decode(tb testing.TB, rec *httptest.ResponseRecorder) githubhook.HookResponse {
	tb.Helper()
	var r githubhook.HookResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		tb.Fatalf("decode %s: %v", rec.Body, err)
	}
	return r
}

var errorCode = httpxtest.ErrorCode

// ledger returns the number of entries in the events ledger.
func (e *env) ledger(tb testing.TB) int {
	tb.Helper()
	docs, _, err := e.st.List(context.Background(), "", store.KindEvents, store.Query{Limit: store.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return len(docs)
}

// pushes returns the tenant's push records.
func (e *env) pushes(tb testing.TB) []repos.Push {
	tb.Helper()
	ps, _, err := store.ListOf[repos.Push](context.Background(), e.st, "acme", repos.KindPushes, store.Query{Limit: store.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

func TestPushStartsPrebuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.send(t, delivery{event: "push", id: "d-1", body: pushBody(t, "refs/heads/main", commitA, false)})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if diff := cmp.Diff(githubhook.HookResponse{Status: "prebuild", Commit: commitA, BuildID: "b1"}, decode(t, rec)); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	want := []prebuildCall{{Tenant: "acme", Actor: "github:dev",
		Source: build.Source{RepoURL: "https://github.com/acme/app", Ref: "refs/heads/main", Commit: commitA}}}
	if diff := cmp.Diff(want, e.pre.Calls()); diff != "" {
		t.Errorf("prebuild calls (-want +got):\n%s", diff)
	}
	ps := e.pushes(t)
	if len(ps) != 1 || ps[0].Status != repos.PushStarted || ps[0].BuildID != "b1" || ps[0].Delivery != "d-1" || ps[0].Commit != commitA {
		t.Errorf("push records: %+v", ps)
	}
	if n := e.ledger(t); n != 1 {
		t.Errorf("ledger has %d entries, want 1", n)
	}
}

func TestBadSignatureChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	other := pushBody(t, "refs/heads/main", commitB, false)
	good := githubhook.SignatureHeader(body, e.secret)
	tests := []struct {
		name, signature string
	}{
		{"forged with another secret", githubhook.SignatureHeader(body, []byte("not-the-secret"))},
		{"missing header", "-"},
		{"empty header", "sha256="},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{"upper-case prefix", "SHA256=" + strings.TrimPrefix(good, "sha256=")},
		{"no prefix", strings.TrimPrefix(good, "sha256=")},
		{"signature of another body", githubhook.SignatureHeader(other, e.secret)},
		{"truncated", good[:len(good)-2]},
		{"extended", good + "00"},
		{"not hex", "sha256=" + strings.Repeat("zz", 32)},
		{"trailing space", good + " "},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.send(t, delivery{event: "push", id: fmt.Sprintf("bad-%d", i), signature: tc.signature, body: body})
			if rec.Code != http.StatusUnauthorized || errorCode(t, rec) != githubhook.CodeInvalidSignature {
				t.Errorf("status %d: %s", rec.Code, rec.Body)
			}
		})
	}
	if calls := e.pre.Calls(); len(calls) != 0 {
		t.Errorf("prebuild called: %+v", calls)
	}
	if n := e.ledger(t); n != 0 {
		t.Errorf("ledger has %d entries, want 0", n)
	}
	if ps := e.pushes(t); len(ps) != 0 {
		t.Errorf("push records: %+v", ps)
	}
	// The good signature still works afterwards.
	if rec := e.send(t, delivery{event: "push", id: "good", body: body}); rec.Code != http.StatusAccepted {
		t.Errorf("good delivery: %d %s", rec.Code, rec.Body)
	}
}

func TestReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	steps := []struct {
		name       string
		id         string
		body       []byte
		wantStatus int
		want       githubhook.HookResponse
		wantCalls  int
	}{
		{"first", "d-1", body, 202, githubhook.HookResponse{Status: "prebuild", Commit: commitA, BuildID: "b1"}, 1},
		{"same delivery again", "d-1", body, 401, githubhook.HookResponse{}, 1},
		{"same body, new delivery id", "d-2", body, 200, githubhook.HookResponse{Status: "duplicate", Reason: "commit already handled", Commit: commitA, BuildID: "b1"}, 1},
		{"new commit", "d-3", pushBody(t, "refs/heads/main", commitB, false), 202, githubhook.HookResponse{Status: "prebuild", Commit: commitB, BuildID: "b2"}, 2},
		{"new commit replayed", "d-3", pushBody(t, "refs/heads/main", commitB, false), 401, githubhook.HookResponse{}, 2},
	}
	for _, s := range steps {
		rec := e.send(t, delivery{event: "push", id: s.id, body: s.body})
		if rec.Code != s.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", s.name, rec.Code, s.wantStatus, rec.Body)
		}
		if s.wantStatus == 401 {
			if code := errorCode(t, rec); code != githubhook.CodeReplayedDelivery {
				t.Errorf("%s: code %q", s.name, code)
			}
		} else if diff := cmp.Diff(s.want, decode(t, rec)); diff != "" {
			t.Errorf("%s: answer (-want +got):\n%s", s.name, diff)
		}
		if n := len(e.pre.Calls()); n != s.wantCalls {
			t.Errorf("%s: %d prebuild calls, want %d", s.name, n, s.wantCalls)
		}
	}
	if n := e.ledger(t); n != 3 {
		t.Errorf("ledger has %d entries, want 3 (d-1, d-2, d-3)", n)
	}
}

func TestConcurrentDeliveriesPrebuildOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.send(t, delivery{event: "push", id: fmt.Sprintf("c-%d", i%2), body: body}).Code
		}()
	}
	wg.Wait()
	if n := len(e.pre.Calls()); n != 1 {
		t.Errorf("%d prebuild calls, want 1 (codes %v)", n, codes)
	}
	for _, c := range codes {
		if c != 200 && c != 202 && c != 401 {
			t.Errorf("codes %v", codes)
			break
		}
	}
}

func TestIgnoredAndPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name       string
		event      string
		body       []byte
		wantStatus int
		wantAnswer string // status field
	}{
		{"ping", "ping", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), 200, "pong"},
		{"other branch", "push", pushBody(t, "refs/heads/feature", commitA, false), 202, "ignored"},
		{"branch named like main", "push", pushBody(t, "refs/heads/main2", commitA, false), 202, "ignored"},
		{"tag", "push", pushBody(t, "refs/tags/main", commitA, false), 202, "ignored"},
		{"branch deletion", "push", pushBody(t, "refs/heads/main", zero, true), 202, "ignored"},
		{"short commit", "push", pushBody(t, "refs/heads/main", "abc123", false), 202, "ignored"},
		{"issues event", "issues", []byte(`{"action":"opened"}`), 202, "ignored"},
		{"pull request event", "pull_request", []byte(`not even json`), 202, "ignored"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.send(t, delivery{event: tc.event, id: fmt.Sprintf("i-%d", i), body: tc.body})
			if rec.Code != tc.wantStatus || decode(t, rec).Status != tc.wantAnswer {
				t.Errorf("status %d: %s", rec.Code, rec.Body)
			}
		})
	}
	if calls := e.pre.Calls(); len(calls) != 0 {
		t.Errorf("prebuild called: %+v", calls)
	}
	if n := e.ledger(t); n != 0 {
		t.Errorf("ledger has %d entries, want 0", n)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := pushBody(t, "refs/heads/main", commitA, false)
	tests := []struct {
		name       string
		d          delivery
		wantStatus int
		wantCode   string
	}{
		{"malformed json", delivery{event: "push", id: "b-1", body: []byte(`{"ref":`)}, 400, httpx.CodeMalformedJSON},
		{"json array", delivery{event: "push", id: "b-2", body: []byte(`[1]`)}, 400, httpx.CodeMalformedJSON},
		{"trailing data", delivery{event: "push", id: "b-3", body: append(append([]byte{}, good...), '}')}, 400, httpx.CodeMalformedJSON},
		{"no ref", delivery{event: "push", id: "b-4", body: []byte(`{"after":"` + commitA + `"}`)}, 400, httpx.CodeMalformedJSON},
		{"missing delivery", delivery{event: "push", id: "-", body: good}, 400, githubhook.CodeInvalidDelivery},
		{"bad delivery", delivery{event: "push", id: "a/b", body: good}, 400, githubhook.CodeInvalidDelivery},
		{"missing event", delivery{event: "-", id: "b-5", body: good}, 400, githubhook.CodeInvalidEvent},
		{"wrong content type", delivery{event: "push", id: "b-6", body: good, contentType: "text/plain"}, 415, httpx.CodeUnsupportedMedia},
		{"oversize", delivery{event: "push", id: "b-7", body: bytes.Repeat([]byte(" "), githubhook.DefaultMaxBodyBytes+1)}, 413, httpx.CodeBodyTooLarge},
		{"unknown tenant", delivery{path: "/v1/hooks/nosuch/" + e.repo.ID, event: "push", id: "b-8", body: good}, 404, httpx.CodeNotFound},
		{"unknown repo", delivery{path: "/v1/hooks/acme/0000000000000nosuchrepo", event: "push", id: "b-9", body: good}, 404, httpx.CodeNotFound},
		{"malformed tenant", delivery{path: "/v1/hooks/ACME/" + e.repo.ID, event: "push", id: "b-10", body: good}, 404, httpx.CodeNotFound},
		{"malformed repo", delivery{path: "/v1/hooks/acme/..%2f", event: "push", id: "b-11", body: good}, 404, httpx.CodeNotFound},
		{"GET", delivery{path: e.path() + "?x", event: "push", id: "b-12"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantStatus == 0 {
				req := httptest.NewRequest("GET", e.path(), nil)
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				if rec.Code != 405 || errorCode(t, rec) != httpx.CodeMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
					t.Errorf("GET: %d %v %s", rec.Code, rec.Header(), rec.Body)
				}
				return
			}
			rec := e.send(t, tc.d)
			if rec.Code != tc.wantStatus || errorCode(t, rec) != tc.wantCode {
				t.Errorf("status %d, want %d %s: %s", rec.Code, tc.wantStatus, tc.wantCode, rec.Body)
			}
		})
	}
	if calls := e.pre.Calls(); len(calls) != 0 {
		t.Errorf("prebuild called: %+v", calls)
	}
	if n := e.ledger(t); n != 0 {
		t.Errorf("ledger has %d entries, want 0", n)
	}
}

func TestUnknownHooksLookAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	var answers []string
	for _, p := range []string{"/v1/hooks/nosuch/" + e.repo.ID, "/v1/hooks/acme/" + strings.Repeat("0", 29), "/v1/hooks/a/b"} {
		rec := e.send(t, delivery{path: p, event: "push", id: "x", body: body})
		answers = append(answers, fmt.Sprint(rec.Code, " ", rec.Body.String()))
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("answers differ: %q", answers)
		}
	}
}

func TestPrebuildFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pre.fail = 1
	body := pushBody(t, "refs/heads/main", commitA, false)
	rec := e.send(t, delivery{event: "push", id: "r-1", body: body})
	if rec.Code != 503 || errorCode(t, rec) != httpx.CodeUnavailable {
		t.Fatalf("failing prebuild: %d %s", rec.Code, rec.Body)
	}
	if ps := e.pushes(t); len(ps) != 1 || ps[0].Status != repos.PushFailed {
		t.Errorf("push records after failure: %+v", ps)
	}
	// GitHub's "Redeliver" sends the same delivery id: it is tried again.
	rec = e.send(t, delivery{event: "push", id: "r-1", body: body})
	if rec.Code != 202 || decode(t, rec).Status != "prebuild" {
		t.Fatalf("redelivery: %d %s", rec.Code, rec.Body)
	}
	if n := len(e.pre.Calls()); n != 2 {
		t.Errorf("%d prebuild calls, want 2", n)
	}
	if ps := e.pushes(t); len(ps) != 1 || ps[0].Status != repos.PushStarted {
		t.Errorf("push records after retry: %+v", ps)
	}
}

func TestFormPayloadAndRepositoryMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	form := []byte("payload=" + url.QueryEscape(string(pushBody(t, "refs/heads/main", commitA, false))))
	rec := e.send(t, delivery{event: "push", id: "f-1", body: form, contentType: "application/x-www-form-urlencoded"})
	if rec.Code != 202 || decode(t, rec).Status != "prebuild" {
		t.Fatalf("form payload: %d %s", rec.Code, rec.Body)
	}
	fork := bytes.ReplaceAll(pushBody(t, "refs/heads/main", commitB, false), []byte("github.com/acme/app"), []byte("github.com/mallory/app"))
	rec = e.send(t, delivery{event: "push", id: "f-2", body: fork})
	if rec.Code != 202 || decode(t, rec).Status != "ignored" {
		t.Fatalf("other repository: %d %s", rec.Code, rec.Body)
	}
	upper := bytes.ReplaceAll(pushBody(t, "refs/heads/main", commitB, false), []byte("github.com/acme/app"), []byte("github.com/ACME/App"))
	rec = e.send(t, delivery{event: "push", id: "f-3", body: upper})
	if rec.Code != 202 || decode(t, rec).Status != "prebuild" {
		t.Fatalf("same repository in other case: %d %s", rec.Code, rec.Body)
	}
}

func TestDisconnectedHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	if err := e.repos.Disconnect(context.Background(), repostest.Owner, "acme", e.repo.ID); err != nil {
		t.Fatal(err)
	}
	rec := e.send(t, delivery{event: "push", id: "x-1", body: body})
	if rec.Code != 404 || errorCode(t, rec) != httpx.CodeNotFound {
		t.Errorf("after disconnect: %d %s", rec.Code, rec.Body)
	}
	if len(e.pre.Calls()) != 0 || e.ledger(t) != 0 {
		t.Error("a disconnected hook changed something")
	}
}

func TestSecretManagerFailing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := pushBody(t, "refs/heads/main", commitA, false)
	e.sm.FailNext("AccessSecretVersion", codes.PermissionDenied, 1) // Unavailable would be retried by the client
	rec := e.send(t, delivery{event: "push", id: "u-1", body: body})
	if rec.Code != 503 || errorCode(t, rec) != httpx.CodeUnavailable {
		t.Fatalf("Secret Manager failing: %d %s", rec.Code, rec.Body)
	}
	if len(e.pre.Calls()) != 0 || e.ledger(t) != 0 {
		t.Error("a delivery that could not be verified changed something")
	}
	if rec := e.send(t, delivery{event: "push", id: "u-1", body: body}); rec.Code != 202 {
		t.Errorf("redelivery: %d %s", rec.Code, rec.Body)
	}
}

func TestBuildRequiresPrebuilder(t *testing.T) {
	t.Parallel()
	if _, err := githubhook.Build(context.Background(), githubhook.Config{ProjectID: "x"}, githubhook.Options{}); err == nil {
		t.Error("Build without a Prebuilder succeeded")
	}
}

// FuzzHookHandler: whatever a caller sends, signed or not, the answer is never a 5xx, and the
// prebuild runs only for a signed push.
func FuzzHookHandler(f *testing.F) {
	e := newEnv(f)
	f.Add(true, "push", "d-1", "application/json", pushBody(f, "refs/heads/main", commitA, false))
	f.Add(true, "push", "d-2", "application/json", []byte(`{"ref":"refs/heads/main","after":"`+zero+`","deleted":true}`))
	f.Add(true, "ping", "", "", []byte(`{}`))
	f.Add(true, "push", "", "application/x-www-form-urlencoded", []byte("payload=%7B"))
	f.Add(false, "push", "d-3", "application/json", pushBody(f, "refs/heads/main", commitB, false))
	f.Add(true, "push", "d-4", "text/plain; x", []byte(`{"ref":"refs/heads/main","after":"x"}`))
	f.Fuzz(func(t *testing.T, signed bool, event, id, contentType string, body []byte) {
		before := len(e.pre.Calls())
		req := httptest.NewRequest("POST", e.path(), bytes.NewReader(body))
		if signed {
			req.Header.Set(githubhook.HeaderSignature, githubhook.SignatureHeader(body, e.secret))
		}
		for k, v := range map[string]string{githubhook.HeaderEvent: event, githubhook.HeaderDelivery: id, "Content-Type": contentType} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !signed && (rec.Code != 401 || len(e.pre.Calls()) != before) {
			t.Fatalf("unsigned delivery: %d %s", rec.Code, rec.Body)
		}
	})
}
