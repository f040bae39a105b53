package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// functionModule is what infra/<name>.tf declares for one function.
type functionModule struct {
	file      string
	source    string
	set       map[string]string // env name => "env" or "secret_env"
	defaulted map[string]bool
}

// readFunctionModule reads module "<name>" in infra/<name>.tf.
func readFunctionModule(tb testing.TB, r *tfRoot, name string) (*functionModule, error) {
	tb.Helper()
	file := name + ".tf"
	b, ok := r.files[file]
	if !ok {
		return nil, fmt.Errorf("functions/%s has no infra/%s: add one (copy infra/githubhook.tf for an HTTP function, infra/sweeper.tf for an event function) with module %q, and set every env var its Config reads (infra/README.md)", name, file, name)
	}
	blk := block(b, "module", name)
	if blk == nil {
		return nil, fmt.Errorf("infra/%s has no module %q (the module must be named after the function)", file, name)
	}
	m := &functionModule{file: file, set: map[string]string{}, defaulted: map[string]bool{}}
	if a, ok := blk.Body.Attributes["source"]; ok {
		m.source, _ = literalString(a.Expr)
	}
	if m.source != "./modules/function" && m.source != "./modules/event_function" {
		return nil, fmt.Errorf("infra/%s: module %q has source %q, want ./modules/function or ./modules/event_function", file, name, m.source)
	}
	for _, attr := range []string{"env", "secret_env"} {
		a, ok := blk.Body.Attributes[attr]
		if !ok {
			continue
		}
		keys, err := r.objectKeys(a.Expr, 0)
		if err != nil {
			return nil, fmt.Errorf("infra/%s module %q %s: %w", file, name, attr, err)
		}
		for _, k := range keys {
			if prev, dup := m.set[k]; dup {
				return nil, fmt.Errorf("infra/%s module %q sets %s twice (%s and %s)", file, name, k, prev, attr)
			}
			m.set[k] = attr
		}
	}
	if a, ok := blk.Body.Attributes["defaulted"]; ok {
		l, err := r.stringList(a.Expr, 0)
		if err != nil {
			return nil, fmt.Errorf("infra/%s module %q defaulted: %w", file, name, err)
		}
		for _, d := range l {
			m.defaulted[d] = true
		}
	}
	return m, nil
}

// TestEveryFunctionHasTerraform: each folder of functions/ with a function.go (the deployables)
// has infra/<name>.tf declaring module "<name>" from one of the function modules.
func TestEveryFunctionHasTerraform(t *testing.T) {
	t.Parallel()
	r := parseRoot(t, ".")
	for _, name := range functionNames(t) {
		if _, err := readFunctionModule(t, r, name); err != nil {
			t.Error(err)
		}
	}
}

// TestFunctionEnvInTerraform: every env var a function's Config reads (go-envconfig tags,
// followed into embedded and nested config structs such as cloudrun.EnvConfig) is set by its
// module (env, secret_env, or by modules/function itself) or listed in defaulted; and nothing
// is set or defaulted that the Config does not read (a typo would leave the real one unset).
func TestFunctionEnvInTerraform(t *testing.T) {
	t.Parallel()
	r := parseRoot(t, ".")
	implicit := moduleEnvNames(t)
	if !slices.Contains(implicit, "FUNCTION_TARGET") {
		t.Errorf("modules/function sets %v; it must set FUNCTION_TARGET", implicit)
	}
	for _, name := range functionNames(t) {
		t.Run(name, func(t *testing.T) {
			vars, err := configEnv(filepath.Join(repoRoot, "functions", name))
			if err != nil {
				t.Fatalf("reading functions/%s Config: %v", name, err)
			}
			if len(vars) == 0 {
				t.Fatalf("functions/%s: no env tags found in type Config", name)
			}
			m, err := readFunctionModule(t, r, name)
			if err != nil {
				t.Fatal(err)
			}
			read := map[string]bool{}
			for _, v := range vars {
				read[v.Name] = true
				_, set := m.set[v.Name]
				switch {
				case set || slices.Contains(implicit, v.Name):
					if m.defaulted[v.Name] {
						t.Errorf("infra/%s: %s is both set and listed in defaulted; drop it from defaulted", m.file, v.Name)
					}
				case m.defaulted[v.Name]:
				default:
					dflt := "no default"
					if v.HasDefault {
						dflt = "it has a default"
					}
					t.Errorf("functions/%s reads %s (%s, %s) but infra/%s module %q neither sets it (env, secret_env) nor lists it in defaulted", name, v.Name, v.Field, dflt, m.file, name)
				}
			}
			var stale []string
			for k, attr := range m.set {
				if !read[k] {
					stale = append(stale, fmt.Sprintf("%s (in %s)", k, attr))
				}
			}
			for k := range m.defaulted {
				if !read[k] {
					stale = append(stale, k+" (in defaulted)")
				}
			}
			sort.Strings(stale)
			for _, s := range stale {
				t.Errorf("infra/%s module %q names %s, but no field of functions/%s's Config reads it: a typo or a removed setting", m.file, name, s, name)
			}
		})
	}
}

// TestREADMEListsEachFunctionsEnv: infra/README.md's table of env names per function is the
// Config's tags byte for byte.
func TestREADMEListsEachFunctionsEnv(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range functionNames(t) {
		vars, err := configEnv(filepath.Join(repoRoot, "functions", name))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range vars {
			names = append(names, v.Name)
		}
		sort.Strings(names)
		names = slices.Compact(names)
		want := fmt.Sprintf("| `%s` | `%s` |", name, strings.Join(names, "` `"))
		if !strings.Contains(string(readme), want+"\n") {
			t.Errorf("infra/README.md: the env table needs this row for %s (the Config's tags, sorted):\n%s", name, want)
		}
	}
}
