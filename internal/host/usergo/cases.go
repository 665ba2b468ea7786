package usergo

import (
	"context"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/runmatrix/runmatrix/testcases"
)

// testcasesPath is the import path of the case API.
const testcasesPath = "github.com/runmatrix/runmatrix/testcases"

// Cases are a user's case packages and the cases their source declares.
type Cases struct {
	// Module is the module holding the packages, ModRoot its directory and
	// GoVersion its go.mod's go line.
	Module    string
	ModRoot   string
	GoVersion string
	// Packages are the import paths of the case packages.
	Packages []string
	// Cases are the cases as declared, without Run (they run only in a
	// guest), in ID order.
	Cases []*testcases.Case
}

// Discover reads the case packages in dirs (each a directory holding a Go
// package, all in one module) and the cases they declare, without running
// them. Every problem is an *InputError of one line.
func Discover(ctx context.Context, dirs []string) (*Cases, error) {
	cs := &Cases{}
	seenPkg := map[string]bool{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, &InputError{fmt.Errorf("--cases %s: %w", d, err)}
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, &InputError{fmt.Errorf("--cases %s: not a directory: give the directory of a Go package that registers cases", d)}
		}
		pkgs, err := goList(ctx, abs, goEnv("amd64", ""), ".")
		if err != nil && strings.Contains(err.Error(), "go.mod file not found") {
			return nil, &InputError{fmt.Errorf("--cases %s is not in a Go module: add a go.mod that requires github.com/runmatrix/runmatrix", d)}
		}
		if err != nil {
			if hint := tidyHint(err.Error()); hint != "" {
				return nil, &InputError{fmt.Errorf("--cases %s: %s: run `go mod tidy` in %s", d, hint, abs)}
			}
			return nil, &InputError{fmt.Errorf("--cases %s: %v", d, err)}
		}
		if len(pkgs) != 1 {
			return nil, &InputError{fmt.Errorf("--cases %s: not one Go package", d)}
		}
		p := pkgs[0]
		switch {
		case p.Error != nil:
			return nil, &InputError{fmt.Errorf("--cases %s is not a Go package: %s", d, firstLine(p.Error.Err))}
		case p.Module == nil:
			return nil, &InputError{fmt.Errorf("--cases %s is not in a Go module: add a go.mod that requires github.com/runmatrix/runmatrix", d)}
		case p.Name == "main":
			return nil, &InputError{fmt.Errorf("--cases %s is a main package: cases live in a library package whose init calls testcases.Register", d)}
		case cs.ModRoot != "" && p.Module.Dir != cs.ModRoot:
			return nil, &InputError{fmt.Errorf("--cases %s is in module %s, and %s in %s: give case packages of one module", d, p.Module.Path, cs.Packages[0], cs.Module)}
		}
		cs.Module, cs.ModRoot, cs.GoVersion = p.Module.Path, p.Module.Dir, p.Module.GoVersion
		if !seenPkg[p.ImportPath] {
			seenPkg[p.ImportPath] = true
			cs.Packages = append(cs.Packages, p.ImportPath)
		}
	}
	if len(cs.Packages) == 0 {
		return cs, nil
	}
	cfg := &packages.Config{
		Context: ctx,
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports,
		Dir:     cs.ModRoot,
		Env:     goEnv("amd64", ""),
	}
	loaded, err := packages.Load(cfg, cs.Packages...)
	if err != nil {
		return nil, &InputError{fmt.Errorf("--cases: %v", firstLine(err.Error()))}
	}
	if err := moduleProblem(loaded, cs.ModRoot); err != nil {
		return nil, err
	}
	for _, p := range loaded {
		if len(p.Errors) > 0 {
			return nil, &InputError{fmt.Errorf("%s does not compile: %s", p.PkgPath, firstLine(p.Errors[0].Error()))}
		}
	}
	where := map[string]string{}
	for _, p := range loaded {
		found, err := scan(p)
		if err != nil {
			return nil, &InputError{err}
		}
		for _, f := range found {
			if testcases.Builtin(f.c.ID) {
				return nil, &InputError{fmt.Errorf("%s: case ID %q is a built-in case's: choose another", f.pos, f.c.ID)}
			}
			if at, ok := where[f.c.ID]; ok {
				return nil, &InputError{fmt.Errorf("%s: case ID %q is declared twice (also at %s): IDs must be unique", f.pos, f.c.ID, at)}
			}
			where[f.c.ID] = f.pos
			cs.Cases = append(cs.Cases, f.c)
		}
	}
	sort.Slice(cs.Cases, func(i, j int) bool { return cs.Cases[i].ID < cs.Cases[j].ID })
	return cs, nil
}

type foundCase struct {
	c   *testcases.Case
	pos string
}

// scan finds every testcases.Case literal in p and reads its constant fields.
func scan(p *packages.Package) ([]foundCase, error) {
	var found []foundCase
	var ferr error
	for _, f := range p.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || ferr != nil || !isAPIType(p.TypesInfo.TypeOf(lit), "Case") {
				return ferr == nil
			}
			c, err := readCase(p.Fset, p.TypesInfo, lit)
			if err != nil {
				ferr = err
				return false
			}
			found = append(found, foundCase{c: c, pos: shortPos(p.Fset, lit.Pos())})
			return true
		})
	}
	return found, ferr
}

// isAPIType reports whether t is testcases.NAME or a pointer to it.
func isAPIType(t types.Type, name string) bool {
	if t == nil {
		return false
	}
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	n, ok := t.(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == testcasesPath && n.Obj().Name() == name
}

// notConst is the error for a field runmatrix cannot read from source.
func notConst(fset *token.FileSet, e ast.Expr, what string) error {
	return fmt.Errorf("%s: %s is not a constant: runmatrix reads cases from source without running them (as go test finds tests), so a Case's ID, Title, About, Source, Timeout, Expect, Sysctls and Fresh must be constants (Run is code)", shortPos(fset, e.Pos()), what)
}

func readCase(fset *token.FileSet, info *types.Info, lit *ast.CompositeLit) (*testcases.Case, error) {
	c := &testcases.Case{}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("%s: write testcases.Case with field names (ID: ..., Run: ...)", shortPos(fset, elt.Pos()))
		}
		key := kv.Key.(*ast.Ident).Name
		var err error
		switch key {
		case "ID":
			c.ID, err = constString(fset, info, kv.Value, "Case.ID")
		case "Title":
			c.Title, err = constString(fset, info, kv.Value, "Case.Title")
		case "About":
			c.About, err = constString(fset, info, kv.Value, "Case.About")
		case "Source":
			c.Source, err = constString(fset, info, kv.Value, "Case.Source")
		case "Timeout":
			tv := info.Types[kv.Value]
			if tv.Value == nil || tv.Value.Kind() != constant.Int {
				return nil, notConst(fset, kv.Value, "Case.Timeout")
			}
			n, _ := constant.Int64Val(tv.Value)
			c.Timeout = time.Duration(n)
		case "Expect":
			c.Expect, err = readExpects(fset, info, kv.Value)
		case "Sysctls":
			c.Sysctls, err = constStrings(fset, info, kv.Value, "Case.Sysctls")
		case "Fresh":
			tv := info.Types[kv.Value]
			if tv.Value == nil || tv.Value.Kind() != constant.Bool {
				return nil, notConst(fset, kv.Value, "Case.Fresh")
			}
			c.Fresh = constant.BoolVal(tv.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%s: a testcases.Case without an ID", shortPos(fset, lit.Pos()))
	}
	probe := *c
	probe.Run = func(*testcases.T) error { return nil }
	if err := testcases.CheckCase(&probe); err != nil {
		return nil, fmt.Errorf("%s: %w", shortPos(fset, lit.Pos()), err)
	}
	return c, nil
}

func readExpects(fset *token.FileSet, info *types.Info, e ast.Expr) ([]testcases.Expect, error) {
	lit, ok := ast.Unparen(e).(*ast.CompositeLit)
	if !ok {
		return nil, notConst(fset, e, "Case.Expect (write a []testcases.Expect{...} literal, or put expectations in the matrix file's expect:)")
	}
	var out []testcases.Expect
	for _, elt := range lit.Elts {
		el, ok := ast.Unparen(elt).(*ast.CompositeLit)
		if u, isAddr := ast.Unparen(elt).(*ast.UnaryExpr); isAddr {
			el, ok = u.X.(*ast.CompositeLit)
		}
		if !ok {
			return nil, notConst(fset, elt, "an Expect")
		}
		var x testcases.Expect
		for _, f := range el.Elts {
			kv, ok := f.(*ast.KeyValueExpr)
			if !ok {
				return nil, fmt.Errorf("%s: write testcases.Expect with field names", shortPos(fset, f.Pos()))
			}
			var err error
			switch kv.Key.(*ast.Ident).Name {
			case "Kernels":
				x.Kernels, err = constString(fset, info, kv.Value, "Expect.Kernels")
			case "Summary":
				x.Summary, err = constString(fset, info, kv.Value, "Expect.Summary")
			case "Source":
				x.Source, err = constString(fset, info, kv.Value, "Expect.Source")
			case "Profiles":
				x.Profiles, err = constStrings(fset, info, kv.Value, "Expect.Profiles")
			case "Arches":
				x.Arches, err = constStrings(fset, info, kv.Value, "Expect.Arches")
			case "Config":
				x.Config, err = constStrings(fset, info, kv.Value, "Expect.Config")
			case "Lineage":
				x.Lineage, err = constString(fset, info, kv.Value, "Expect.Lineage")
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, x)
	}
	return out, nil
}

func constString(fset *token.FileSet, info *types.Info, e ast.Expr, what string) (string, error) {
	tv := info.Types[e]
	if tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", notConst(fset, e, what)
	}
	return constant.StringVal(tv.Value), nil
}

func constStrings(fset *token.FileSet, info *types.Info, e ast.Expr, what string) ([]string, error) {
	lit, ok := ast.Unparen(e).(*ast.CompositeLit)
	if !ok {
		return nil, notConst(fset, e, what)
	}
	var out []string
	for _, elt := range lit.Elts {
		s, err := constString(fset, info, elt, what)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// shortPos is file:line with the file relative to the working directory
// when that is shorter.
func shortPos(fset *token.FileSet, p token.Pos) string {
	pos := fset.Position(p)
	name := pos.Filename
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, name); err == nil && len(rel) < len(name) {
			name = rel
		}
	}
	return fmt.Sprintf("%s:%d", name, pos.Line)
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// moduleProblem reports the first package, among loaded and what they
// import, that the go command could not find or load (a module not
// required, a go.sum entry missing): the type checker's own error for an
// importer of it ("invalid package name") says nothing of the fix, which
// is one command.
func moduleProblem(loaded []*packages.Package, modRoot string) error {
	var first *packages.Error
	packages.Visit(loaded, nil, func(p *packages.Package) {
		for i := range p.Errors {
			if first == nil && p.Errors[i].Kind == packages.ListError && tidyHint(p.Errors[i].Msg) != "" {
				first = &p.Errors[i]
			}
		}
	})
	if first == nil {
		return nil
	}
	msg := tidyHint(first.Msg)
	if strings.Contains(msg, "no required module provides package github.com/runmatrix/runmatrix/") {
		return &InputError{fmt.Errorf("%s: require runmatrix (go mod edit -require github.com/runmatrix/runmatrix@v0.0.0 -replace github.com/runmatrix/runmatrix=/path/to/runmatrix), then run `go mod tidy` in %s", msg, modRoot)}
	}
	return &InputError{fmt.Errorf("%s: run `go mod tidy` in %s (it adds what go.mod and go.sum lack)", msg, modRoot)}
}

// tidyHint is the go command's complaint of a go.mod or go.sum that lacks
// something, in one line without its own advice, or "" for any other.
func tidyHint(msg string) string {
	for _, m := range []string{"missing go.sum entry", "no required module provides package", "updates to go.mod needed", "go.mod file indicates go"} {
		if strings.Contains(msg, m) {
			line, _, _ := strings.Cut(firstLine(strings.TrimSpace(msg)), "; to ")
			return strings.TrimPrefix(line, "go: ")
		}
	}
	return ""
}
