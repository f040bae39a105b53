package httpx

import (
	"fmt"
	"net/http"
)

// Stable error codes shared by every function. Functions may add their own; a code, once
// published, never changes meaning.
const (
	CodeInternal         = "internal"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeMalformedJSON    = "malformed_json"
	CodeUnknownField     = "unknown_field"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeInvalidArgument  = "invalid_argument"
	CodeInvalidID        = "invalid_id"
	CodeInvalidCursor    = "invalid_cursor"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeAlreadyExists    = "already_exists"
	CodeConflict         = "conflict"
	CodeTimeout          = "timeout"
	CodeUnavailable      = "unavailable"
)

// APIError is an error with what the client may see: a status, a stable code and a message.
// Cause is logged, never rendered.
type APIError struct {
	Status  int
	Code    string
	Message string
	Cause   error
	// Allow lists the methods a 405 answer names.
	Allow []string
}

func (e *APIError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.Cause }

// Errorf builds an APIError with a formatted message.
func Errorf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithCause returns a copy of e that logs cause.
func (e *APIError) WithCause(cause error) *APIError {
	c := *e
	c.Cause = cause
	return &c
}

// Shorthands for the common answers.

// BadRequest is a 400 with the given code.
func BadRequest(code, format string, args ...any) *APIError {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// NotFound is a 404 "not_found"-family answer.
func NotFound(code, format string, args ...any) *APIError {
	return Errorf(http.StatusNotFound, code, format, args...)
}

// Forbidden is a 403.
func Forbidden(format string, args ...any) *APIError {
	return Errorf(http.StatusForbidden, CodeForbidden, format, args...)
}

// Unauthenticated is a 401 with the given code.
func Unauthenticated(code, format string, args ...any) *APIError {
	return Errorf(http.StatusUnauthorized, code, format, args...)
}

// Conflict is a 409 with the given code.
func Conflict(code, format string, args ...any) *APIError {
	return Errorf(http.StatusConflict, code, format, args...)
}
