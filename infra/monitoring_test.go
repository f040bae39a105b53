package infra

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLogMetricsMatchTheCode: each log-based metric in infra/monitoring.tf counts log entries of
// an existing function whose message and field values the code still writes (as Go string
// literals), so a renamed log line cannot silently turn an alert off.
func TestLogMetricsMatchTheCode(t *testing.T) {
	t.Parallel()
	r := parseRoot(t, ".")
	e, ok := r.locals["log_metrics"]
	if !ok {
		t.Fatal("infra/monitoring.tf: no local log_metrics")
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("infra/monitoring.tf local.log_metrics must be a literal: %s", diags.Error())
	}
	literals := goStringLiterals(t)
	functions := functionNames(t)
	payloadRE := regexp.MustCompile(`jsonPayload\.([a-z_]+)="([^"]*)"`)
	serviceRE := regexp.MustCompile(`resource\.labels\.service_name="([^"]*)"`)
	n := 0
	for it := v.ElementIterator(); it.Next(); {
		k, m := it.Element()
		name := k.AsString()
		filter := m.GetAttr("filter").AsString()
		n++
		svc := serviceRE.FindStringSubmatch(filter)
		if svc == nil || !slices.Contains(functions, svc[1]) {
			t.Errorf("log metric %s: its filter must name an existing function (resource.labels.service_name=\"<function>\"): %s", name, filter)
		}
		matches := payloadRE.FindAllStringSubmatch(filter, -1)
		if len(matches) == 0 {
			t.Errorf("log metric %s: its filter matches no jsonPayload field: %s", name, filter)
		}
		for _, pm := range matches {
			if !literals[pm[2]] {
				t.Errorf("log metric %s: no Go code under functions/ or shared/ writes %q (jsonPayload.%s): the log line was renamed or removed; update infra/monitoring.tf", name, pm[2], pm[1])
			}
		}
	}
	if n == 0 {
		t.Error("infra/monitoring.tf: log_metrics is empty")
	}
}

// goStringLiterals collects the string literals of the non-test Go files of functions/ and
// shared/.
func goStringLiterals(t *testing.T) map[string]bool {
	t.Helper()
	litRE := regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
	out := map[string]bool{}
	for _, dir := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, lit := range litRE.FindAllString(string(b), -1) {
				if s, err := strconv.Unquote(lit); err == nil {
					out[s] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
