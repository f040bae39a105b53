package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DefaultMaxBody caps request bodies when the middleware is not told otherwise.
const DefaultMaxBody = 1 << 20

// DecodeJSON decodes the request body into dst strictly: the content type must be JSON (or
// absent); unknown fields, trailing data and bodies over DefaultMaxBody (or the MaxBody
// middleware's smaller cap) are rejected. Every failure is an *APIError with its own code.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json")
		}
	}
	// The MaxBody middleware may have capped the body already; the smaller cap wins.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, DefaultMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if ae := decodeError(err); ae.Code == CodeBodyTooLarge {
				return ae
			}
		}
		return BadRequest(CodeMalformedJSON, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) *APIError {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body exceeds %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return BadRequest(CodeMalformedJSON, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest(CodeMalformedJSON, "request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return BadRequest(CodeMalformedJSON, "request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return BadRequest(CodeInvalidArgument, "field %q must be %s", typeErr.Field, typeErr.Type.String())
		}
		return BadRequest(CodeMalformedJSON, "request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return BadRequest(CodeUnknownField, "unknown field %s", name)
	default:
		return BadRequest(CodeMalformedJSON, "request body is not valid JSON").WithCause(fmt.Errorf("decode: %w", err))
	}
}
