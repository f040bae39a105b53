// Package logging provides slog JSON logging with Cloud Logging's field names (severity,
// message, time, logging.googleapis.com/trace …), a logger carried in the context, and trace
// correlation from the X-Cloud-Trace-Context and traceparent request headers.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

// Cloud Logging special fields.
const (
	KeyTrace        = "logging.googleapis.com/trace"
	KeySpanID       = "logging.googleapis.com/spanId"
	KeyTraceSampled = "logging.googleapis.com/trace_sampled"
	KeySource       = "logging.googleapis.com/sourceLocation"
)

// New returns a JSON logger writing Cloud Logging structured entries to w.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		AddSource:   true,
		ReplaceAttr: replaceAttr,
	}))
}

func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.SourceKey:
		a.Key = KeySource
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(severity(a.Value.Any().(slog.Level)))
	}
	return a
}

// severity maps slog levels to Cloud Logging's LogSeverity names.
func severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	default:
		return "ERROR"
	}
}

// ParseLevel reads a level name (debug, info, warn, error); unknown names are info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

type ctxKey struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the context's logger, or slog.Default().
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

var (
	cloudTraceRE  = regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([01]))?$`)
	traceparentRE = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
)

// TraceAttrs returns the Cloud Logging trace fields for the request, or nil when it carries no
// valid trace header. projectID may be empty (then the trace is logged without the
// projects/…/traces/ prefix, which Cloud Logging still shows but does not link).
func TraceAttrs(r *http.Request, projectID string) []any {
	var trace, span string
	sampled := false
	if m := traceparentRE.FindStringSubmatch(r.Header.Get("traceparent")); m != nil {
		trace, span, sampled = m[1], m[2], m[3] == "01"
	} else if m := cloudTraceRE.FindStringSubmatch(r.Header.Get("X-Cloud-Trace-Context")); m != nil {
		trace, span, sampled = strings.ToLower(m[1]), m[2], m[3] == "1"
	}
	if trace == "" {
		return nil
	}
	if projectID != "" {
		trace = "projects/" + projectID + "/traces/" + trace
	}
	attrs := []any{slog.String(KeyTrace, trace), slog.Bool(KeyTraceSampled, sampled)}
	if span != "" {
		attrs = append(attrs, slog.String(KeySpanID, span))
	}
	return attrs
}
