package infra

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// modulePath is the root module's path; packages below it are read from the repository.
const modulePath = "github.com/runyard/runyard"

// repoRoot is the repository root (this package is infra/).
const repoRoot = ".."

// envVar is one environment variable a function's Config reads (a go-envconfig tag).
type envVar struct {
	Name       string
	HasDefault bool
	Field      string // e.g. api.Config.Runtimes.Cells, for messages
}

// goPackage is a parsed package: its non-test files.
type goPackage struct {
	name  string
	files []*ast.File
}

// parsePackage parses the non-test Go files of dir.
func parsePackage(dir string) (*goPackage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	p := &goPackage{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.name = f.Name.Name
		p.files = append(p.files, f)
	}
	if len(p.files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	return p, nil
}

// typeSpec finds the type named name and the file declaring it.
func (p *goPackage) typeSpec(name string) (*ast.TypeSpec, *ast.File) {
	for _, f := range p.files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				if ts := s.(*ast.TypeSpec); ts.Name.Name == name {
					return ts, f
				}
			}
		}
	}
	return nil, nil
}

// importPath returns the path file imports under name (its last element or its alias).
func importPath(f *ast.File, name string) string {
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		local := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		if local == name {
			return path
		}
	}
	return ""
}

// configEnv returns the environment variables the Config struct of the package in dir reads,
// following fields of struct types (embedded or named, in this module) the way go-envconfig
// does. Fields of other modules' types without a tag are not followed.
func configEnv(dir string) ([]envVar, error) {
	pkgs := map[string]*goPackage{}
	load := func(dir string) (*goPackage, error) {
		if p, ok := pkgs[dir]; ok {
			return p, nil
		}
		p, err := parsePackage(dir)
		if err != nil {
			return nil, err
		}
		pkgs[dir] = p
		return p, nil
	}
	var out []envVar
	var walk func(dir, typeName, prefix, path string, depth int) error
	walk = func(dir, typeName, prefix, path string, depth int) error {
		if depth > 10 {
			return fmt.Errorf("%s: struct nesting too deep", path)
		}
		p, err := load(dir)
		if err != nil {
			return err
		}
		ts, file := p.typeSpec(typeName)
		if ts == nil {
			return fmt.Errorf("%s: type %s not found in %s", path, typeName, dir)
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return nil
		}
		for _, field := range st.Fields.List {
			var names []string
			for _, n := range field.Names {
				names = append(names, n.Name)
			}
			t := field.Type
			if star, ok := t.(*ast.StarExpr); ok {
				t = star.X
			}
			if len(names) == 0 { // embedded
				switch x := t.(type) {
				case *ast.Ident:
					names = []string{x.Name}
				case *ast.SelectorExpr:
					names = []string{x.Sel.Name}
				}
			}
			tag := ""
			if field.Tag != nil {
				raw, _ := strconv.Unquote(field.Tag.Value)
				tag = reflect.StructTag(raw).Get("env")
			}
			name, opts, _ := strings.Cut(tag, ",")
			name = strings.TrimSpace(name)
			for _, n := range names {
				if !ast.IsExported(n) {
					continue
				}
				fpath := path + "." + n
				if name != "" {
					out = append(out, envVar{Name: prefix + name, HasDefault: strings.Contains(opts, "default="), Field: fpath})
					continue
				}
				sub := prefix
				for _, o := range strings.Split(opts, ",") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(o), "prefix="); ok {
						sub += v
					}
				}
				switch x := t.(type) {
				case *ast.Ident:
					if ts, _ := p.typeSpec(x.Name); ts == nil {
						continue // a predeclared type without a tag: not configuration
					}
					if err := walk(dir, x.Name, sub, fpath, depth+1); err != nil {
						return err
					}
				case *ast.SelectorExpr:
					pkgName, ok := x.X.(*ast.Ident)
					if !ok {
						continue
					}
					imp := importPath(file, pkgName.Name)
					rel, ok := strings.CutPrefix(imp, modulePath+"/")
					if !ok {
						continue // another module's type: go-envconfig would need a tag
					}
					if err := walk(filepath.Join(repoRoot, filepath.FromSlash(rel)), x.Sel.Name, sub, fpath, depth+1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	p, err := load(dir)
	if err != nil {
		return nil, err
	}
	if err := walk(dir, "Config", "", p.name+".Config", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// functionNames lists the deployable functions: folders of functions/ with a function.go.
func functionNames(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "cmd" {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "functions", e.Name(), "function.go")); err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		tb.Fatal("no functions found under functions/")
	}
	return names
}
