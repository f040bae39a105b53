package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// tfRoot is the root module's parsed files.
type tfRoot struct {
	files  map[string]*hclsyntax.Body // by file name (api.tf)
	locals map[string]hclsyntax.Expression
}

// parseRoot parses every .tf file of dir (not its subfolders).
func parseRoot(tb testing.TB, dir string) *tfRoot {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		tb.Fatal(err)
	}
	r := &tfRoot{files: map[string]*hclsyntax.Body{}, locals: map[string]hclsyntax.Expression{}}
	for _, p := range paths {
		b := parseTF(tb, p)
		r.files[filepath.Base(p)] = b
		for _, blk := range b.Blocks {
			if blk.Type != "locals" {
				continue
			}
			for name, a := range blk.Body.Attributes {
				r.locals[name] = a.Expr
			}
		}
	}
	return r
}

func parseTF(tb testing.TB, path string) *hclsyntax.Body {
	tb.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		tb.Fatalf("%s: %s", path, diags.Error())
	}
	return f.Body.(*hclsyntax.Body)
}

// block finds the first block of type with labels.
func block(b *hclsyntax.Body, typ string, labels ...string) *hclsyntax.Block {
	for _, blk := range b.Blocks {
		if blk.Type == typ && strings.Join(blk.Labels, "\x00") == strings.Join(labels, "\x00") {
			return blk
		}
	}
	return nil
}

// literalString is the value of a string literal or a template without interpolations.
func literalString(e hclsyntax.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

// pos renders an expression's position for messages.
func pos(e hclsyntax.Expression) string {
	r := e.Range()
	return fmt.Sprintf("%s:%d", filepath.ToSlash(r.Filename), r.Start.Line)
}

// objectKeys returns the keys of an object expression built from object constructors,
// merge(...) and local.X references to those, so a module's env = merge(local.store_env, {...})
// is read without evaluating anything else.
func (r *tfRoot) objectKeys(e hclsyntax.Expression, depth int) ([]string, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: locals nest too deep", pos(e))
	}
	switch x := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		var keys []string
		for _, item := range x.Items {
			k, ok := literalString(item.KeyExpr)
			if !ok {
				if kw := hcl.ExprAsKeyword(item.KeyExpr); kw != "" {
					k, ok = kw, true
				}
			}
			if !ok {
				return nil, fmt.Errorf("%s: env names must be literal keys", pos(item.KeyExpr))
			}
			keys = append(keys, k)
		}
		return keys, nil
	case *hclsyntax.FunctionCallExpr:
		if x.Name != "merge" {
			return nil, fmt.Errorf("%s: %s(...): env must be an object, merge(...) or local.X", pos(e), x.Name)
		}
		var keys []string
		for _, a := range x.Args {
			k, err := r.objectKeys(a, depth+1)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k...)
		}
		return keys, nil
	case *hclsyntax.ScopeTraversalExpr:
		if name, ok := localName(x); ok {
			if le, ok := r.locals[name]; ok {
				return r.objectKeys(le, depth+1)
			}
			return nil, fmt.Errorf("%s: local.%s is not defined", pos(e), name)
		}
	}
	return nil, fmt.Errorf("%s: cannot read env names from this expression: use an object, merge(...) or local.X", pos(e))
}

// stringList returns the elements of a list expression built from tuples of string literals,
// concat(...) and local.X references.
func (r *tfRoot) stringList(e hclsyntax.Expression, depth int) ([]string, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: locals nest too deep", pos(e))
	}
	switch x := e.(type) {
	case *hclsyntax.TupleConsExpr:
		var out []string
		for _, el := range x.Exprs {
			s, ok := literalString(el)
			if !ok {
				return nil, fmt.Errorf("%s: list elements must be string literals", pos(el))
			}
			out = append(out, s)
		}
		return out, nil
	case *hclsyntax.FunctionCallExpr:
		if x.Name != "concat" {
			return nil, fmt.Errorf("%s: %s(...): use a list, concat(...) or local.X", pos(e), x.Name)
		}
		var out []string
		for _, a := range x.Args {
			l, err := r.stringList(a, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, l...)
		}
		return out, nil
	case *hclsyntax.ScopeTraversalExpr:
		if name, ok := localName(x); ok {
			if le, ok := r.locals[name]; ok {
				return r.stringList(le, depth+1)
			}
			return nil, fmt.Errorf("%s: local.%s is not defined", pos(e), name)
		}
	}
	return nil, fmt.Errorf("%s: cannot read a list of names from this expression: use a list, concat(...) or local.X", pos(e))
}

func localName(x *hclsyntax.ScopeTraversalExpr) (string, bool) {
	if len(x.Traversal) != 2 || x.Traversal.RootName() != "local" {
		return "", false
	}
	a, ok := x.Traversal[1].(hcl.TraverseAttr)
	return a.Name, ok
}

// moduleEnvNames returns the names a function module (modules/function) sets on every
// service itself: the static env blocks of its container.
func moduleEnvNames(tb testing.TB) []string {
	tb.Helper()
	b := parseTF(tb, filepath.Join("modules", "function", "main.tf"))
	svc := block(b, "resource", "google_cloud_run_v2_service", "this")
	if svc == nil {
		tb.Fatal("modules/function/main.tf: no google_cloud_run_v2_service.this")
	}
	var names []string
	for _, tmpl := range svc.Body.Blocks {
		if tmpl.Type != "template" {
			continue
		}
		for _, c := range tmpl.Body.Blocks {
			if c.Type != "containers" {
				continue
			}
			for _, env := range c.Body.Blocks {
				if env.Type != "env" {
					continue
				}
				if a, ok := env.Body.Attributes["name"]; ok {
					if s, ok := literalString(a.Expr); ok {
						names = append(names, s)
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names
}
