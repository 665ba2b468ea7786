package usergo

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// repoRoot is the runmatrix checkout this test runs in.
func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file))))
}

// module writes a user module requiring runmatrix (replaced by this
// checkout) with files, and returns its directory.
func module(t *testing.T, goLine string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	root := repoRoot(t)
	mod := "module example.com/m\n\ngo " + goLine + "\n\nrequire (\n\tgithub.com/runmatrix/runmatrix v0.0.0\n\tgolang.org/x/sys v0.35.0\n)\n\nreplace github.com/runmatrix/runmatrix => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "e2e/testdata/usermod/go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

const header = "package c\n\nimport \"github.com/runmatrix/runmatrix/testcases\"\n\n"

func caseFile(id string) string {
	return header + "func init() {\n\ttestcases.Register(&testcases.Case{ID: " + id + ", Title: \"t\", Run: func(*testcases.T) error { return nil }})\n}\n"
}

func TestDiscover(t *testing.T) {
	good := module(t, "1.23.0", map[string]string{
		"c/c.go": header + `const prefix = "mine."

var all = []*testcases.Case{
	{ID: prefix + "one", Title: "first", Timeout: 5e9, Run: run,
		Expect: []testcases.Expect{{Kernels: "<3.6", Summary: "x=-1 EPIPE", Source: "s", Profiles: []string{"default"}}}},
	{ID: "mine.two", Fresh: isolated, Run: run},
}

const isolated = true

func run(*testcases.T) error { return nil }

func init() {
	for _, c := range all {
		testcases.Register(c)
	}
}
`})
	cs, err := Discover(context.Background(), []string{filepath.Join(good, "c")})
	require.NoError(t, err)
	require.Equal(t, "example.com/m", cs.Module)
	require.Equal(t, "1.23.0", cs.GoVersion)
	require.Equal(t, []string{"example.com/m/c"}, cs.Packages)
	require.Len(t, cs.Cases, 2)
	require.Equal(t, "mine.one", cs.Cases[0].ID)
	require.Equal(t, "first", cs.Cases[0].Title)
	require.Equal(t, 5*time.Second, cs.Cases[0].Timeout)
	require.Equal(t, "x=-1 EPIPE", cs.Cases[0].Expect[0].Summary)
	require.Equal(t, []string{"default"}, cs.Cases[0].Expect[0].Profiles)
	require.Equal(t, "mine.two", cs.Cases[1].ID)
	require.False(t, cs.Cases[0].Fresh)
	require.True(t, cs.Cases[1].Fresh, "a constant Fresh is read from source")
	require.Nil(t, cs.Cases[0].Run, "nothing of the user's code comes to the host")

	bad := module(t, "1.23.0", map[string]string{
		"empty/README":   "no Go here\n",
		"broken/c.go":    header + "func init() { testcases.Register(&testcases.Case{ID: \"x\", Run: nope}) }\n",
		"computed/c.go":  "package c\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/runmatrix/runmatrix/testcases\"\n)\n\nfunc init() {\n\ttestcases.Register(&testcases.Case{ID: fmt.Sprint(1), Run: func(*testcases.T) error { return nil }})\n}\n",
		"clash/c.go":     caseFile(`"tfo.sendto.blocking"`),
		"dup1/c.go":      caseFile(`"mine.same"`),
		"dup2/c.go":      caseFile(`"mine.same"`),
		"main/main.go":   "package main\n\nfunc main() {}\n",
		"badrange/c.go":  header + "func init() {\n\ttestcases.Register(&testcases.Case{ID: \"r\", Expect: []testcases.Expect{{Kernels: \"~3\", Summary: \"s\"}}, Run: func(*testcases.T) error { return nil }})\n}\n",
		"spaceid/c.go":   caseFile(`"has space"`),
		"varexpect/c.go": header + "var e = []testcases.Expect{{Summary: \"s\"}}\n\nfunc init() {\n\ttestcases.Register(&testcases.Case{ID: \"v\", Expect: e, Run: func(*testcases.T) error { return nil }})\n}\n",
		"varfresh/c.go":  header + "var f = true\n\nfunc init() {\n\ttestcases.Register(&testcases.Case{ID: \"f\", Fresh: f, Run: func(*testcases.T) error { return nil }})\n}\n",
	})
	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"no such directory", []string{filepath.Join(bad, "nope")}, "not a directory"},
		{"not a Go package", []string{filepath.Join(bad, "empty")}, "is not a Go package"},
		{"does not compile", []string{filepath.Join(bad, "broken")}, "does not compile: "},
		{"computed ID", []string{filepath.Join(bad, "computed")}, "Case.ID is not a constant"},
		{"built-in ID", []string{filepath.Join(bad, "clash")}, `case ID "tfo.sendto.blocking" is a built-in case's`},
		{"ID in two packages", []string{filepath.Join(bad, "dup1"), filepath.Join(bad, "dup2")}, `case ID "mine.same" is declared twice`},
		{"main package", []string{filepath.Join(bad, "main")}, "is a main package"},
		{"bad kernel range", []string{filepath.Join(bad, "badrange")}, "expectation"},
		{"ID with a space", []string{filepath.Join(bad, "spaceid")}, "has a space"},
		{"expectations in a variable", []string{filepath.Join(bad, "varexpect")}, "Case.Expect"},
		{"Fresh in a variable", []string{filepath.Join(bad, "varfresh")}, "Case.Fresh is not a constant"},
		{"two modules", []string{filepath.Join(good, "c"), filepath.Join(bad, "dup1")}, "give case packages of one module"},
		{"runmatrix not required", []string{filepath.Join(untidy(t, false), "c")}, "require runmatrix (go mod edit -require github.com/runmatrix/runmatrix@v0.0.0 -replace"},
		{"go.mod not tidy", []string{filepath.Join(untidy(t, true), "c")}, "updates to go.mod needed: run `go mod tidy` in "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Discover(context.Background(), tc.dirs)
			require.Error(t, err)
			var ie *InputError
			require.ErrorAs(t, err, &ie)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// untidy is a module as the README's recipe leaves it with a step left
// out: runmatrix not required, or required without go mod tidy.
func untidy(t *testing.T, required bool) string {
	dir := t.TempDir()
	mod := "module example.com/u\n\ngo 1.23\n"
	if required {
		mod += "\nrequire github.com/runmatrix/runmatrix v0.0.0\n\nreplace github.com/runmatrix/runmatrix => " + repoRoot(t) + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "c"), 0o755))
	body := "package c\n\nimport (\n\t\"golang.org/x/sys/unix\"\n\n\t\"github.com/runmatrix/runmatrix/testcases\"\n)\n\n" +
		"func init() {\n\ttestcases.Register(&testcases.Case{ID: \"u.x\", Run: func(t *testcases.T) error { _ = unix.SHUT_WR; return nil }})\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c", "c.go"), []byte(body), 0o644))
	return dir
}

func TestToolchain(t *testing.T) {
	for _, tc := range []struct {
		goVersion, needOld, want, err string
	}{
		{"1.21", "", OldToolchain, ""},
		{"1.23.0", "2.6.32", OldToolchain, ""},
		{"", "2.6.32", OldToolchain, ""},
		{"1.24.0", "", "go1.24.0", ""},
		{"1.25", "k (2.6.32-42-server)", "", "needs Go 1.25 (its go.mod), and kernel k (2.6.32-42-server) needs Go 1.23 or older"},
	} {
		got, err := Toolchain("example.com/m", tc.goVersion, tc.needOld)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestLoadTests(t *testing.T) {
	dir := module(t, "1.23.0", map[string]string{
		"p/p.go": "package p\n",
		"p/p_test.go": "package p\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) {}\nfunc Testlower(t *testing.T) {}\nfunc TestMain(m *testing.M) { m.Run() }\n" +
			"func TestB(t *testing.T) { t.Run(\"s\", func(t *testing.T) {}) }\nfunc helper(t *testing.T) {}\nfunc Test(t *testing.T) {}\n",
		"p/x_test.go":           "package p_test\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n",
		"p/testdata/f.txt":      "data\n",
		"p/sub/sub.go":          "package sub\n",
		"p/notpkg/fixture.json": "{}\n",
		"q/q.go":                "package q\n",
		"q/q_test.go":           "package q\n\nimport \"testing\"\n\nfunc TestQ(t *testing.T) {}\n",
	})
	ts, err := LoadTests(context.Background(), dir, []string{"./..."}, nil)
	require.NoError(t, err)
	require.Len(t, ts.Packages, 2)
	require.Equal(t, "example.com/m/p", ts.Packages[0].ImportPath)
	require.Equal(t, []string{"TestA", "TestB", "Test", "TestX"}, ts.Packages[0].Tests)
	require.Equal(t, "gotest:example.com/m/p.TestA", Row("example.com/m/p", "TestA"))

	ts, err = LoadTests(context.Background(), dir, []string{"./..."}, regexp.MustCompile("^TestQ$"))
	require.NoError(t, err)
	require.Len(t, ts.Packages, 1)

	files, err := DirFiles(filepath.Join(dir, "p"), "/d")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	require.ElementsMatch(t, []string{"/d/p.go", "/d/p_test.go", "/d/x_test.go", "/d/testdata/f.txt", "/d/notpkg/fixture.json"}, names,
		"the package's files and testdata ship, another package's directory does not")

	for _, tc := range []struct{ pattern, want string }{
		{"example.com/m/nothing/...", "matches no package"},
		{"./nothing/...", "no such file or directory"},
		{"./q/none", "q/none"},
	} {
		_, err := LoadTests(context.Background(), dir, []string{tc.pattern}, nil)
		require.ErrorContains(t, err, tc.want)
	}
	_, err = LoadTests(context.Background(), dir, []string{"./..."}, regexp.MustCompile("^TestNone$"))
	require.ErrorContains(t, err, "no test function matching -run")
}
