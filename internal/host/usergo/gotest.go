package usergo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Tests are go test packages whose test functions run as rows.
type Tests struct {
	// Dir is where the patterns were resolved (the working directory).
	Dir string
	// Module and GoVersion are the main module there ("" outside one).
	Module    string
	GoVersion string
	Packages  []TestPackage
	// Args are test flags passed to every run of a test binary.
	Args []string
	// Timeout bounds one test function's run.
	Timeout time.Duration
}

// TestPackage is one package with tests.
type TestPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	// Tests are the top-level test functions, in source order.
	Tests []string
}

// Row is the case ID of a test function's row.
func Row(importPath, test string) string { return outcome.GoTestPrefix + importPath + "." + test }

// LoadTests resolves package patterns as go test does (./..., std
// packages), in dir, and reads each package's test functions from source;
// run, if not nil, keeps only the tests whose name it matches.
func LoadTests(ctx context.Context, dir string, patterns []string, run *regexp.Regexp) (*Tests, error) {
	ts := &Tests{Dir: dir}
	// List with the toolchain that will build, so that a standard-library
	// package's tests are those of the Go its binary is built with.
	if out, err := goCmd(ctx, dir, goEnv("amd64", ""), "list", "-m", "-f", "{{.Path}} {{.GoVersion}}"); err == nil {
		if f := strings.Fields(string(out)); len(f) == 2 {
			ts.Module, ts.GoVersion = f[0], f[1]
		}
	}
	listWith := ""
	if tc, err := Toolchain(ts.Module, ts.GoVersion, ""); err == nil && tc == OldToolchain {
		listWith = OldToolchain
	}
	pkgs, err := goList(ctx, dir, goEnv("amd64", listWith), patterns...)
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: %v", strings.Join(patterns, " "), err)}
	}
	if len(pkgs) == 0 {
		return nil, &InputError{fmt.Errorf("%s matches no package", strings.Join(patterns, " "))}
	}
	for _, p := range pkgs {
		if p.Error != nil {
			return nil, &InputError{fmt.Errorf("%s", firstLine(p.Error.Err))}
		}
		if len(p.DepsErrors) > 0 {
			return nil, &InputError{fmt.Errorf("%s: %s", p.ImportPath, firstLine(p.DepsErrors[0].Err))}
		}
		names, err := testFuncs(p.Dir, append(append([]string{}, p.TestGoFiles...), p.XTestGoFiles...))
		if err != nil {
			return nil, &InputError{err}
		}
		var keep []string
		for _, n := range names {
			if run == nil || run.MatchString(n) {
				keep = append(keep, n)
			}
		}
		if len(keep) > 0 {
			ts.Packages = append(ts.Packages, TestPackage{ImportPath: p.ImportPath, Dir: p.Dir, Standard: p.Standard, Tests: keep})
		}
	}
	if len(ts.Packages) == 0 {
		what := "no test functions"
		if run != nil {
			what = "no test function matching -run " + run.String()
		}
		return nil, &InputError{fmt.Errorf("%s: %s in %d package(s)", strings.Join(patterns, " "), what, len(pkgs))}
	}
	return ts, nil
}

// testFuncs reads the top-level TestXxx(*testing.T) functions of files in
// dir, as go test finds them.
func testFuncs(dir string, files []string) ([]string, error) {
	fset := token.NewFileSet()
	var names []string
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%v", firstLine(err.Error()))
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isTestName(fn.Name.Name) || fn.Type.Params.NumFields() != 1 {
				continue
			}
			if star, ok := fn.Type.Params.List[0].Type.(*ast.StarExpr); ok {
				if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "T" {
					names = append(names, fn.Name.Name)
				}
			}
		}
	}
	return names, nil
}

// isTestName is go test's rule: "Test", then nothing or not a lower-case letter.
func isTestName(name string) bool {
	if !strings.HasPrefix(name, "Test") || name == "TestMain" {
		return false
	}
	if len(name) == 4 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(name[4:])
	return !unicode.IsLower(r)
}

// payloadLimit bounds what one package ships into a guest (its test binary
// and directory): it lives in the guest's memory.
const payloadLimit = 96 << 20

// Files builds every package's test binary for goarch with toolchain and
// returns them, each package's directory and the manifest as initramfs
// files. Binaries are cached by the content hash of what goes into them.
func (ts *Tests) Files(ctx context.Context, cache store.Cache, goarch, toolchain string) ([]initramfs.File, error) {
	var files []initramfs.File
	var manifest []bootproto.GoTest
	goroot := ""
	for i, p := range ts.Packages {
		bin, err := ts.build(ctx, cache, p, goarch, toolchain)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		root := path.Join(bootproto.GoTestDir, fmt.Sprint(i))
		files = append(files, initramfs.File{Path: root + "/test.bin", Mode: 0o755, Data: data})
		dir := root + "/src"
		limit := payloadLimit - len(data)
		if p.Standard {
			// Standard-library tests read $GOROOT/src/testdata as ../testdata
			// (net's sendfile tests): lay the package out as in GOROOT.
			if goroot == "" {
				out, err := goCmd(ctx, ts.Dir, goEnv(goarch, toolchain), "env", "GOROOT")
				if err != nil {
					return nil, err
				}
				goroot = strings.TrimSpace(string(out))
			}
			dir = root + "/goroot/src/" + p.ImportPath
			shared, err := packageDir(filepath.Join(goroot, "src", "testdata"), root+"/goroot/src/testdata", limit)
			if err == nil {
				files = append(files, shared...)
				limit -= size(shared)
			}
		}
		src, err := packageDir(p.Dir, dir, limit)
		if err != nil {
			return nil, &InputError{fmt.Errorf("%s: %v", p.ImportPath, err)}
		}
		files = append(files, src...)
		rows := map[string]string{}
		for _, t := range p.Tests {
			rows[Row(p.ImportPath, t)] = t
		}
		manifest = append(manifest, bootproto.GoTest{Import: p.ImportPath, Rows: rows, Bin: root + "/test.bin", Dir: dir,
			Args: ts.Args, TimeoutS: int(ts.Timeout.Seconds())})
	}
	b, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	return append(files, initramfs.File{Path: bootproto.GoTestManifestPath, Mode: 0o644, Data: b}), nil
}

// build compiles p's test binary (go test -c), static, for goarch.
func (ts *Tests) build(ctx context.Context, cache store.Cache, p TestPackage, goarch, toolchain string) (string, error) {
	env := goEnv(goarch, toolchain)
	digest, err := contentHash(ctx, ts.Dir, env, []string{"-test"}, []string{p.ImportPath}, nil, toolchain, goarch)
	if err != nil {
		return "", &InputError{fmt.Errorf("%s: %v", p.ImportPath, err)}
	}
	return cached(cache, "test", digest, "test-"+goarch, func(part string) error {
		if _, err := goCmd(ctx, ts.Dir, env, "test", "-c", "-o", part, p.ImportPath); err != nil {
			return &InputError{fmt.Errorf("go test -c %s for %s (%s): %v", p.ImportPath, goarch, toolchain, err)}
		}
		return nil
	})
}

// DirFiles reads dir as a package directory ships into a guest, at dest.
func DirFiles(dir, dest string) ([]initramfs.File, error) { return packageDir(dir, dest, payloadLimit) }

// ErrTooBig is a package directory too big to ship in a guest's
// initramfs (exec shares such a folder over 9p instead).
var ErrTooBig = errors.New("the package directory is too big to ship into a guest")

// packageDir reads a package directory as it ships beside its test binary:
// its files and testdata/, and subdirectories that are not packages of
// their own, regular files only, at most limit bytes.
func packageDir(dir, dest string, limit int) ([]initramfs.File, error) {
	var files []initramfs.File
	total := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if p == dir {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") || (!inTestdata(rel) && hasGoFiles(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += int(info.Size())
		if total > limit {
			return fmt.Errorf("%w: more than %d MiB with its test binary", ErrTooBig, payloadLimit>>20)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, initramfs.File{Path: path.Join(dest, filepath.ToSlash(rel)), Mode: int64(info.Mode().Perm()), Data: data})
		return nil
	})
	return files, err
}

func size(files []initramfs.File) int {
	n := 0
	for _, f := range files {
		n += len(f.Data)
	}
	return n
}

func inTestdata(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "testdata" {
			return true
		}
	}
	return false
}

func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}
