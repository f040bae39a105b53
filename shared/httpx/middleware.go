package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/logging"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middleware so that the first one listed is the outermost.
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Options configures Stack.
type Options struct {
	// Logger is the base logger; request loggers derive from it.
	Logger *slog.Logger
	// ProjectID prefixes trace ids for Cloud Logging correlation.
	ProjectID string
	// MaxBody caps request bodies (DefaultMaxBody when 0).
	MaxBody int64
	// Timeout is each request's deadline (none when 0).
	Timeout time.Duration
}

// Stack is the standard middleware for a function: request id, logger with trace fields in the
// context, access log, panic recovery, body cap and deadline.
func Stack(h http.Handler, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	return Chain(h, RequestID, Log(o.Logger, o.ProjectID), Recover, MaxBody(o.MaxBody), Timeout(o.Timeout))
}

// HeaderRequestID is the request id header, read (when valid) and always answered.
const HeaderRequestID = "X-Request-Id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)

type requestIDKey struct{}

// RequestID takes a well-formed X-Request-Id from the request or makes one, puts it in the
// context and answers it.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !requestIDRE.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, hijack, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Log puts a request-scoped logger (request id and trace fields) in the context and writes one
// access log entry per request. Query strings are not logged (they may carry tokens).
func Log(base *slog.Logger, projectID string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			attrs := append([]any{"request_id", RequestIDFrom(r.Context())}, logging.TraceAttrs(r, projectID)...)
			l := base.With(attrs...)
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(logging.WithLogger(r.Context(), l)))
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			l.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.Group("httpRequest",
					slog.String("requestMethod", r.Method),
					slog.String("requestUrl", r.URL.Path),
					slog.Int("status", sw.status),
					slog.Int64("responseSize", sw.size),
					slog.String("userAgent", r.UserAgent()),
					slog.String("remoteIp", ClientIP(r)),
					slog.String("latency", fmt.Sprintf("%.6fs", time.Since(start).Seconds())),
				))
		})
	}
}

// Recover turns a panic in a handler into a logged stack and a 500 envelope.
// http.ErrAbortHandler is re-panicked, as net/http expects.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logging.FromContext(r.Context()).ErrorContext(r.Context(), "panic in handler",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			Error(w, r, &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
		}()
		next.ServeHTTP(w, r)
	})
}

// MaxBody caps the request body at n bytes; reading past it fails with *http.MaxBytesError,
// which DecodeJSON answers with 413 body_too_large.
func MaxBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				Error(w, r, Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body exceeds %d bytes", n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// Timeout gives each request a deadline; outbound calls made with the request context stop at
// it. A zero d leaves requests without a deadline.
func Timeout(d time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// ClientIP is the caller's address: the last X-Forwarded-For hop when present (Google's front
// end appends the address it saw, so earlier hops are whatever the client claimed), else the
// connection's remote address.
func ClientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		hops := strings.Split(xff, ",")
		return strings.TrimSpace(hops[len(hops)-1])
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// NewServer returns an http.Server with read, header, write and idle timeouts set.
func NewServer(addr string, h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
	}
}
