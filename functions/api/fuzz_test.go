package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzBody posts body to path and checks the answer is a 2xx or a 4xx envelope, never a 5xx.
func fuzzBody(t *testing.T, fx *fixture, path, body string) {
	fuzzMethodBody(t, fx, "POST", path, body)
}

// fuzzMethodBody is fuzzBody with another method.
func fuzzMethodBody(t *testing.T, fx *fixture, method, path, body string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", fx.owner)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	switch {
	case rec.Code >= 200 && rec.Code < 300:
	case rec.Code >= 400 && rec.Code < 500:
		errorCode(t, rec)
	default:
		t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
	}
}

func FuzzCreateTenantBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"acme-2","name":"Acme"}`, `{"id":"a","name":""}`, `{"id":"zz9","name":"\u0000"}`,
		`{"id":"abc","name":"x","extra":1}`, `{"id":["x"]}`, `{`, `null`, `{"id":"abc","name":"` + strings.Repeat("é", 120) + `"}`,
	} {
		f.Add(s)
	}
	fx := newFixture(f) // one emulator project per target; its cleanup runs when the target ends
	f.Fuzz(func(t *testing.T, body string) { fuzzBody(t, fx, "/v1/tenants", body) })
}

func FuzzCreateAPIKeyBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"ci"}`, `{"name":"ci","scopes":["runtimes"]}`, `{"name":"ci","scopes":["runtimes","runtimes"]}`,
		`{"name":"ci","scopes":"runtimes"}`, `{"name":"","scopes":[]}`, `{"scopes":[null]}`, `{"name":1}`, `[]`,
	} {
		f.Add(s)
	}
	fx := newFixture(f) // one emulator project per target; its cleanup runs when the target ends
	f.Fuzz(func(t *testing.T, body string) { fuzzBody(t, fx, "/v1/tenants/acme/apikeys", body) })
}

func FuzzPutLLMBody(f *testing.F) {
	for _, s := range []string{
		`{"vertex_ai":true,"models":["gemini-2.5-pro"]}`, `{"vertex_ai":false}`, `{"vertex_ai":true,"models":[]}`,
		`{"vertex_ai":true,"models":["gpt-5"]}`, `{"vertex_ai":"yes"}`, `{"models":[null]}`, `{"vertex_ai":true,"models":["gemini-2.5-pro","gemini-2.5-pro"]}`,
		`{"vertex_ai":true,"models":["` + strings.Repeat("x", 5000) + `"]}`, `[]`,
	} {
		f.Add(s)
	}
	fx := newFixture(f) // one emulator project per target; its cleanup runs when the target ends
	f.Fuzz(func(t *testing.T, body string) { fuzzMethodBody(t, fx, "PUT", "/v1/tenants/acme/llm", body) })
}
