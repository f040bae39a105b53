// Package httpx is the HTTP edge shared by every function: one JSON renderer, one error
// envelope ({"error":{"code":"…","message":"…"}}) with stable codes, strict JSON request
// decoding, and the middleware stack (request id, logging with trace correlation, panic
// recovery, body size cap, deadlines).
//
// Handlers never encode by hand: they call JSON or Error. Clients get a stable code and a
// message; logs get the cause.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/runyard/runyard/shared/logging"
)

// JSON writes v as a JSON response with the given status, not cacheable unless the handler set
// Cache-Control itself. A value that cannot be encoded is a
// programming error: it is logged and answered with a 500 envelope instead.
func JSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if v != nil {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			logging.FromContext(r.Context()).ErrorContext(r.Context(), "encode response", "error", err)
			status, buf = http.StatusInternalServerError, bytes.Buffer{}
			buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store") // unless the handler chose (a public, cacheable answer)
	}
	w.WriteHeader(status)
	if status != http.StatusNoContent && status != http.StatusNotModified {
		_, _ = w.Write(buf.Bytes())
	}
}

// Envelope is the body of every error response.
type Envelope struct {
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is the error inside an Envelope.
type EnvelopeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error writes err as an error envelope. An *APIError keeps its status, code and message; any
// other error is a 500 "internal" whose cause is logged and never shown.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Cause: err}
	}
	log := logging.FromContext(r.Context())
	level := slog.LevelInfo
	if ae.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"status", ae.Status, "code", ae.Code}
	if ae.Cause != nil {
		attrs = append(attrs, "error", ae.Cause.Error())
	}
	log.Log(r.Context(), level, "request failed", attrs...)
	if ae.Status == http.StatusMethodNotAllowed && len(ae.Allow) > 0 {
		for _, m := range ae.Allow {
			w.Header().Add("Allow", m)
		}
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="runyard"`)
	}
	JSON(w, r, ae.Status, Envelope{Error: EnvelopeError{Code: ae.Code, Message: ae.Message}})
}
