package infra

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// queryShape is a set of equality-filtered fields one store query uses, where the code says it.
type queryShape struct {
	fields []string // sorted
	at     string
}

func (q queryShape) key() string { return strings.Join(q.fields, ",") }

// filterShapes finds every []store.Filter{...} literal of a Go file (the store port's equality
// filters; the package that declares Filter writes []Filter{...}) and returns those with two or
// more filters, whose fields must be literals: Firestore serves one equality filter with the id order from its automatic
// single-field indexes, while several are kept on a composite index (see infra/firestore.tf).
// A filter list that is not a literal is reported as an error: its shape cannot be read.
func filterShapes(fset *token.FileSet, f *ast.File) (shapes []queryShape, errs []error) {
	isFilter := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			return ok && id.Name == "store" && x.Sel.Name == "Filter"
		case *ast.Ident:
			return f.Name.Name == "store" && x.Name == "Filter"
		}
		return false
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CompositeLit:
			arr, ok := x.Type.(*ast.ArrayType)
			if !ok || !isFilter(arr.Elt) {
				return true
			}
			if len(x.Elts) < 2 {
				return true // one filter, whatever its field: served by single-field indexes
			}
			var fields []string
			for _, el := range x.Elts {
				cl, ok := el.(*ast.CompositeLit)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: a filter that is not a literal in a list of several: its field cannot be checked against the indexes", fset.Position(el.Pos())))
					continue
				}
				for _, kv := range cl.Elts {
					kv, ok := kv.(*ast.KeyValueExpr)
					if !ok || fmt.Sprint(kv.Key) != "Field" {
						continue
					}
					lit, ok := kv.Value.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						errs = append(errs, fmt.Errorf("%s: store.Filter.Field is not a string literal: its index cannot be checked", fset.Position(kv.Pos())))
						continue
					}
					s, _ := strconv.Unquote(lit.Value)
					fields = append(fields, s)
				}
			}
			if len(fields) >= 2 {
				slices.Sort(fields)
				shapes = append(shapes, queryShape{fields: fields, at: fset.Position(x.Pos()).String()})
			}
		case *ast.CallExpr:
			// append(q.Where, ...) builds a filter list the scan cannot see.
			if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "append" && len(x.Args) > 0 {
				if sel, ok := x.Args[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "Where" {
					errs = append(errs, fmt.Errorf("%s: filters appended to a query's Where: write the filter list as one []store.Filter{...} literal so its index can be checked", fset.Position(x.Pos())))
				}
			}
		}
		return true
	})
	return shapes, errs
}

// codeShapes scans the non-test Go files of shared/ and functions/.
func codeShapes(t *testing.T) []queryShape {
	t.Helper()
	var all []queryShape
	for _, dir := range []string{"shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// Test-support packages (storetest, deploytest, …) query only the emulator.
			if d.IsDir() && strings.HasSuffix(d.Name(), "test") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			shapes, errs := filterShapes(fset, f)
			for _, e := range errs {
				t.Error(e)
			}
			all = append(all, shapes...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// committedIndexes reads local.firestore_indexes of infra/firestore.tf: key => sorted fields.
func committedIndexes(t *testing.T) map[string][]string {
	t.Helper()
	r := parseRoot(t, ".")
	e, ok := r.locals["firestore_indexes"]
	if !ok {
		t.Fatal("infra/firestore.tf: no local firestore_indexes")
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("infra/firestore.tf local.firestore_indexes must be a literal: %s", diags.Error())
	}
	out := map[string][]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, idx := it.Element()
		if !idx.Type().IsObjectType() || !idx.Type().HasAttribute("collection") || !idx.Type().HasAttribute("fields") {
			t.Fatalf("infra/firestore.tf firestore_indexes[%s] needs collection and fields", k.AsString())
		}
		var fields []string
		for fi := idx.GetAttr("fields").ElementIterator(); fi.Next(); {
			_, f := fi.Element()
			if f.Type() != cty.String {
				t.Fatalf("infra/firestore.tf firestore_indexes[%s]: fields must be strings", k.AsString())
			}
			fields = append(fields, f.AsString())
		}
		slices.Sort(fields)
		out[k.AsString()] = fields
	}
	return out
}

// TestFirestoreIndexesCoverQueries: every query of the code that filters on two or more fields
// has a composite index in infra/firestore.tf, and every committed index serves such a query.
func TestFirestoreIndexesCoverQueries(t *testing.T) {
	t.Parallel()
	committed := committedIndexes(t)
	have := map[string]bool{}
	for _, fields := range committed {
		have[strings.Join(fields, ",")] = true
	}
	need := map[string]bool{}
	for _, q := range codeShapes(t) {
		need[q.key()] = true
		if !have[q.key()] {
			t.Errorf("%s: a query filters on %s: add to local.firestore_indexes in infra/firestore.tf: \"<collection>/%s\" = { collection = \"<collection>\", fields = [\"%s\"] }",
				q.at, strings.Join(q.fields, " and "), q.key(), strings.Join(q.fields, `", "`))
		}
	}
	for k, fields := range committed {
		if !need[strings.Join(fields, ",")] {
			t.Errorf("infra/firestore.tf: index %s serves no query of the code (filters on %v): remove it", k, fields)
		}
	}
}

// TestFilterShapesFindsMultiFieldQueries: the scan sees two-field filter lists, skips single
// ones, and refuses lists it cannot read.
func TestFilterShapesFindsMultiFieldQueries(t *testing.T) {
	t.Parallel()
	src := `package x
func f(q store.Query, v string) {
	q.Where = []store.Filter{{Field: "state", Value: "running"}, {Field: "cell", Value: v}}
	_ = store.Query{Where: []store.Filter{{Field: "tenant", Value: v}}}
	q.Where = append(q.Where, store.Filter{Field: "x"})
	_ = []store.Filter{{Field: v}, {Field: "a"}}
	f1 := store.Filter{Field: v}
	_ = []store.Filter{f1}
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	shapes, errs := filterShapes(fset, f)
	if len(shapes) != 1 || shapes[0].key() != "cell,state" {
		t.Errorf("shapes = %v, want one: cell,state", shapes)
	}
	if len(errs) != 2 {
		t.Errorf("errors = %v, want 2 (append to Where, a non-literal Field)", errs)
	}
}

// TestStorePortIsEqualityOnly: the rule above (no composite index for a single filter) holds
// only while the store port has equality filters ordered by document id. A new Query field
// (an order, a range filter) needs new index rules here and in infra/firestore.tf.
func TestStorePortIsEqualityOnly(t *testing.T) {
	t.Parallel()
	p, err := parsePackage(filepath.Join(repoRoot, "shared", "store"))
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string][]string{"Query": {"Cursor", "Desc", "Limit", "Where"}, "Filter": {"Field", "Value"}} {
		ts, _ := p.typeSpec(typ)
		if ts == nil {
			t.Fatalf("shared/store: no type %s", typ)
		}
		var got []string
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			for _, n := range fl.Names {
				got = append(got, n.Name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("shared/store.%s has fields %v, this test knows %v: decide which Firestore indexes the new query shapes need, list them in infra/firestore.tf and extend infra/firestore_test.go", typ, got, want)
		}
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, "shared", "store", "firestore", "list.go"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(src), `"=="`) != 1 || !strings.Contains(string(src), "OrderBy(firestore.DocumentID") {
		t.Error("shared/store/firestore/list.go no longer queries with one == operator and document-id order: revisit infra/firestore.tf's indexes and this test")
	}
}

// TestEventsTTLField: the TTL policy in infra/firestore.tf is on the ledger's expiry field.
func TestEventsTTLField(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(repoRoot, "shared", "store", "helpers.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "`firestore:\"expire_at") {
		t.Error("shared/store/helpers.go: the ledger no longer stores expire_at: update google_firestore_field.events_ttl in infra/firestore.tf")
	}
	r := parseRoot(t, ".")
	blk := block(r.files["firestore.tf"], "resource", "google_firestore_field", "events_ttl")
	if blk == nil {
		t.Fatal("infra/firestore.tf: no google_firestore_field.events_ttl")
	}
	for attr, want := range map[string]string{"collection": "events", "field": "expire_at"} {
		a, ok := blk.Body.Attributes[attr]
		got, _ := "", false
		if ok {
			got, _ = literalString(a.Expr)
		}
		if got != want {
			t.Errorf("google_firestore_field.events_ttl %s = %q, want %q", attr, got, want)
		}
	}
}
