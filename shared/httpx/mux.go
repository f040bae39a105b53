package httpx

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// Health answers GET /healthz.
func Health(w http.ResponseWriter, r *http.Request) {
	JSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// NotFoundHandler returns the catch-all handler a function registers at "/": it answers unrouted
// requests with an envelope, 405 (with Allow) when the path exists for other methods, else 404.
func NotFoundHandler(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			Error(w, r, &APIError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "method not allowed; use " + strings.Join(allow, ", "), Allow: allow})
			return
		}
		Error(w, r, NotFound(CodeNotFound, "no such endpoint"))
	})
}

// Lazy serves the handler build returns, built once on the first request: a function's
// init registers Lazy(...) so importing the package never dials a cloud API. When build
// fails, every request answers 503 "unavailable" and the cause is logged.
func Lazy(name string, build func() (http.Handler, error)) http.HandlerFunc {
	handler := sync.OnceValues(build)
	return func(w http.ResponseWriter, r *http.Request) {
		h, err := handler()
		if err != nil {
			slog.ErrorContext(r.Context(), name+": start", "error", err)
			Error(w, r, Errorf(http.StatusServiceUnavailable, CodeUnavailable, "service is misconfigured").WithCause(err))
			return
		}
		h.ServeHTTP(w, r)
	}
}
