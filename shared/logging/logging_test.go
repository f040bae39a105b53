package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/logging"
)

func TestNewUsesCloudLoggingNames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := logging.New(&buf, slog.LevelDebug)
	l.Warn("hello", "user_id", "u1")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if got["severity"] != "WARNING" || got["message"] != "hello" || got["user_id"] != "u1" {
		t.Errorf("entry = %v", got)
	}
	if _, ok := got[logging.KeySource]; !ok {
		t.Errorf("no source location in %v", got)
	}
	for _, k := range []string{"level", "msg"} {
		if _, ok := got[k]; ok {
			t.Errorf("slog default key %q present", k)
		}
	}
}

func TestSeverityNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		level slog.Level
		want  string
	}{
		{"debug", slog.LevelDebug, "DEBUG"},
		{"info", slog.LevelInfo, "INFO"},
		{"warn", slog.LevelWarn, "WARNING"},
		{"error", slog.LevelError, "ERROR"},
		{"above error", slog.LevelError + 4, "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logging.New(&buf, slog.LevelDebug).Log(context.Background(), tc.level, "m")
			var got struct{ Severity string }
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Severity != tc.want {
				t.Errorf("severity = %q, want %q", got.Severity, tc.want)
			}
		})
	}
}

func TestTraceAttrs(t *testing.T) {
	t.Parallel()
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name    string
		headers map[string]string
		want    map[string]any
	}{
		{name: "none", want: nil},
		{name: "cloud trace", headers: map[string]string{"X-Cloud-Trace-Context": id + "/123;o=1"},
			want: map[string]any{logging.KeyTrace: "projects/p/traces/" + id, logging.KeySpanID: "123", logging.KeyTraceSampled: true}},
		{name: "traceparent wins", headers: map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-00", "X-Cloud-Trace-Context": "ffffffffffffffffffffffffffffffff/1"},
			want: map[string]any{logging.KeyTrace: "projects/p/traces/" + id, logging.KeySpanID: "00f067aa0ba902b7", logging.KeyTraceSampled: false}},
		{name: "garbage ignored", headers: map[string]string{"X-Cloud-Trace-Context": "nope/../x", "traceparent": "zz"}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			var got map[string]any
			for _, a := range logging.TraceAttrs(r, "p") {
				if got == nil {
					got = map[string]any{}
				}
				attr := a.(slog.Attr)
				got[attr.Key] = attr.Value.Any()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TraceAttrs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromContext(t *testing.T) {
	t.Parallel()
	if logging.FromContext(context.Background()) != slog.Default() {
		t.Error("empty context: want slog.Default")
	}
	l := slog.New(slog.DiscardHandler)
	if logging.FromContext(logging.WithLogger(context.Background(), l)) != l {
		t.Error("logger not carried")
	}
}
