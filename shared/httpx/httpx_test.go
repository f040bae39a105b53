package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/httpx"
)

type body struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// decodeHandler answers the decoded body or the decode error, through the standard stack.
func decodeHandler(maxBody int64) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b body
		if err := httpx.DecodeJSON(w, r, &b); err != nil {
			httpx.Error(w, r, err)
			return
		}
		httpx.JSON(w, r, http.StatusOK, b)
	})
	return httpx.Stack(h, httpx.Options{Logger: slog.New(slog.DiscardHandler), MaxBody: maxBody})
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantCode    string
	}{
		{name: "ok", body: `{"name":"a","count":2}`, wantStatus: 200},
		{name: "ok without content type", body: `{"name":"a"}`, contentType: "-", wantStatus: 200},
		{name: "ok with charset", body: `{"name":"a"}`, contentType: "application/json; charset=utf-8", wantStatus: 200},
		{name: "empty", body: ``, wantStatus: 400, wantCode: httpx.CodeMalformedJSON},
		{name: "syntax", body: `{"name":`, wantStatus: 400, wantCode: httpx.CodeMalformedJSON},
		{name: "garbage", body: `}{`, wantStatus: 400, wantCode: httpx.CodeMalformedJSON},
		{name: "array", body: `[1,2]`, wantStatus: 400, wantCode: httpx.CodeMalformedJSON},
		{name: "two objects", body: `{"name":"a"}{"name":"b"}`, wantStatus: 400, wantCode: httpx.CodeMalformedJSON},
		{name: "unknown field", body: `{"name":"a","admin":true}`, wantStatus: 400, wantCode: httpx.CodeUnknownField},
		{name: "wrong type", body: `{"count":"many"}`, wantStatus: 400, wantCode: httpx.CodeInvalidArgument},
		{name: "oversize", body: `{"name":"` + strings.Repeat("x", 300) + `"}`, wantStatus: 413, wantCode: httpx.CodeBodyTooLarge},
		{name: "wrong content type", body: `{"name":"a"}`, contentType: "text/plain", wantStatus: 415, wantCode: httpx.CodeUnsupportedMedia},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			decodeHandler(256).ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode == "" {
				return
			}
			var env httpx.Envelope
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not an envelope: %v: %s", err, rec.Body)
			}
			if env.Error.Code != tc.wantCode || env.Error.Message == "" {
				t.Errorf("envelope = %+v, want code %q with a message", env, tc.wantCode)
			}
		})
	}
}

func TestRecoverRendersEnvelope(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := httpx.Stack(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom secret-cause") }),
		httpx.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	want := `{"error":{"code":"internal","message":"internal error"}}` + "\n"
	if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "boom secret-cause") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestErrorHidesCause(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httpx.Error(rec, httptest.NewRequest("GET", "/", nil), errors.New("db password=hunter2"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	httpx.Error(rec, httptest.NewRequest("GET", "/", nil), httpx.Conflict("last_owner", "cannot remove the last owner").WithCause(errors.New("inner hunter2")))
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"last_owner"`) || strings.Contains(rec.Body.String(), "hunter2") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen string
	h := httpx.Stack(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpx.RequestIDFrom(r.Context())
	}), httpx.Options{Logger: slog.New(slog.DiscardHandler)})
	tests := []struct {
		name, in string
		keep     bool
	}{
		{name: "kept", in: "abcdef12-3456", keep: true},
		{name: "replaced when bad", in: "bad id\nwith newline", keep: false},
		{name: "made when absent", in: "", keep: false},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.in != "" {
			req.Header.Set(httpx.HeaderRequestID, tc.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(httpx.HeaderRequestID)
		if got == "" || got != seen || (got == tc.in) != tc.keep {
			t.Errorf("%s: header %q, context %q, in %q", tc.name, got, seen, tc.in)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4567"
	if got := httpx.ClientIP(r); got != "10.1.2.3" {
		t.Errorf("remote addr: %q", got)
	}
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 203.0.113.9")
	if got := httpx.ClientIP(r); got != "203.0.113.9" {
		t.Errorf("xff: %q", got)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{`, `[]`, `{"count":1e400}`, `{"name":"\ud800"}`, `null`, `{"a":1}`} {
		f.Add(s)
	}
	h := decodeHandler(1 << 10)
	f.Fuzz(func(t *testing.T, s string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(s)))
		if rec.Code != 200 && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("status %d for %q", rec.Code, s)
		}
	})
}
