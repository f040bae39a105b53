// Package httpxtest holds the checks handler tests share: an answer's status and body, and the
// code of an error envelope.
package httpxtest

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/runyard/runyard/shared/httpx"
)

// Expect fails unless rec has status want, then decodes its body into out (nil: no decoding).
// what names the request in the failure, e.g. "GET /v1/tenants/acme".
func Expect(tb testing.TB, rec *httptest.ResponseRecorder, want int, what string, out any) {
	tb.Helper()
	if rec.Code != want {
		tb.Fatalf("%s: status %d, want %d: %s", what, rec.Code, want, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatalf("%s: decode %s: %v", what, rec.Body, err)
		}
	}
}

// ErrorCode returns the code of rec's error envelope, failing unless the body is an envelope
// with both a code and a message.
func ErrorCode(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var env httpx.Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		tb.Fatalf("not an error envelope (%v): %s", err, rec.Body)
	}
	return env.Error.Code
}
