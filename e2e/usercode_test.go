package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// ciKernels are the kernels CI can get, x86_64 and i686.
var ciKernels = []string{"--kernel", "debian:6.1", "--kernel", "debian:6.12", "--kernel", "debian:6.1@bookworm/i686"}

// summaries maps case → kernel reference → outcome summary.
func summaries(t *testing.T, path string) (map[string]map[string]string, *results.Results) {
	t.Helper()
	res, err := results.Read(path)
	require.NoError(t, err)
	m := map[string]map[string]string{}
	for _, c := range res.Cells {
		if m[c.Case] == nil {
			m[c.Case] = map[string]string{}
		}
		m[c.Case][c.Kernel] = c.Outcome.Summary
	}
	return m, res
}

// TestUserCases runs the example case package, written only against the
// public API, on the kernels CI can get: its SO_PASSPIDFD case shows a real
// difference between 6.1 and 6.12, and bisect, evidence and JUnit work on
// user cases as on built-in ones. A case in a module of its own (with a
// replace to this checkout) runs too, through cases run.
func TestUserCases(t *testing.T) {
	out := t.TempDir()
	args := append([]string{"run", "--cases", "../examples/cases", "--out", out, "--format", "json"}, ciKernels...)
	_, stderr, code := runmatrix(t, 10*time.Minute, args...)
	require.Equal(t, 0, code, stderr)
	got, res := summaries(t, filepath.Join(out, "results.json"))
	require.Equal(t, map[string]string{"debian:6.1": "passpidfd=-1 ENOPROTOOPT", "debian:6.1@bookworm/i686": "passpidfd=-1 ENOPROTOOPT", "debian:6.12": "passpidfd=0"},
		got["example.so-passpidfd"])
	require.Equal(t, map[string]string{"debian:6.1": "recv=0 read=5", "debian:6.1@bookworm/i686": "recv=0 read=5", "debian:6.12": "recv=0 read=5"},
		got["example.half-close"])
	require.Len(t, got, 2, "--cases alone runs the user's cases")
	for _, c := range res.Cells {
		require.NotNil(t, c.Expect, "%s on %s is judged by the case's own expectations", c.Case, c.Kernel)
		require.True(t, c.Expect.Pass, "%s on %s", c.Case, c.Kernel)
		require.Equal(t, outcome.OK, c.Outcome.Status)
		require.Equal(t, "default", c.Profile)
	}
	require.Len(t, res.Transitions, 1)
	junit, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	require.NoError(t, err)
	require.Contains(t, string(junit), "example.so-passpidfd")

	// The same cells through a matrix file's go: list: the same rows, the
	// same outcomes. (--resume continues a run as it was started, so a
	// matrix file in place of --cases is a run of its own.)
	abs, err := filepath.Abs("../examples/cases")
	require.NoError(t, err)
	m := filepath.Join(t.TempDir(), "m.yaml")
	require.NoError(t, os.WriteFile(m, []byte("kernels: [debian:6.1, debian:6.12, debian:6.1@bookworm/i686]\ngo: ["+abs+"]\ncases: ['example.*']\n"), 0o644))
	viaGo := t.TempDir()
	_, stderr, code = runmatrix(t, 5*time.Minute, "run", "-f", m, "--out", viaGo, "--format", "none")
	require.Equal(t, 0, code, stderr)
	stdout, _, code := runmatrix(t, time.Minute, "diff", filepath.Join(out, "results.json"), filepath.Join(viaGo, "results.json"))
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "No cell changed")
	require.NotContains(t, stdout, "Only in")
	_, stderr, code = runmatrix(t, 5*time.Minute, "run", "-f", m, "--out", out, "--resume", "--format", "none")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--resume continues the run in "+out+" as it was started, whose --file was not given, not "+m)

	// bisect over a file and a debian: kernel together: one version order
	// across their lineages; an i686 kernel, alone of its architecture, is
	// left out, never mixed in.
	stdout, stderr, code = runmatrix(t, 5*time.Minute, "bisect", "--cases", "../examples/cases", "--case", "example.so-passpidfd",
		"--kernel", "debian:6.12", "--kernel", resolve(t, "debian:6.1").Path, "--kernel", "debian:6.1@bookworm/i686", "--out", t.TempDir())
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "left out: 6.1.176 i386 Debian bookworm is the only i386 kernel given")
	require.Regexp(t, `example.so-passpidfd under default, x86_64, all 2 kernels in one version order, across 2 lineages \(Debian build \(file or URL\), debian 6.12\): 6.1.0 Debian file, 6.12.\d+ Debian trixie`, stdout)
	require.Regexp(t, `first change: 6.1.0 Debian file → 6.12.\d+ Debian trixie`, stdout)
	require.Contains(t, stdout, "this boundary falls between two lineages")
	require.Contains(t, stdout, "passpidfd=-1 ENOPROTOOPT")
	require.Contains(t, stdout, "passpidfd=0")

	ev := t.TempDir()
	stdout, stderr, code = runmatrix(t, time.Minute, "evidence", "--cases", "../examples/cases", "--from", filepath.Join(out, "results.json"),
		"--case", "example.so-passpidfd", "--out", ev)
	require.Equal(t, 0, code, "stdout=%s stderr=%s", stdout, stderr)
	report, err := os.ReadFile(filepath.Join(ev, "REPORT.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "SO_PASSPIDFD")
	require.FileExists(t, filepath.Join(ev, "repro.c"))
	cc := exec.Command("musl-gcc", "-static", "-o", filepath.Join(ev, "repro"), filepath.Join(ev, "repro.c"))
	b, err := cc.CombinedOutput()
	require.NoError(t, err, "repro.c compiles: %s", b)

	// A case in a separate module, run with cases run.
	stdout, stderr, code = runmatrix(t, 5*time.Minute, "cases", "run", "--cases", "testdata/usermod/tfocase", "--kernel", "debian:6.12", "--json")
	require.Equal(t, 0, code, stderr)
	var rec results.Record
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stdout)), &rec))
	require.Equal(t, "usermod.fastopen-sendto", rec.Case)
	require.Equal(t, "sendto=5", rec.Outcome.Summary, "6.12's default tcp_fastopen=1 turns on the TFO client")
}

// TestGoTestRows runs the example go test package on the kernels CI can
// get (a test that needs Linux 6.5 skips on 6.1 and passes on 6.12), a
// package of tests that fail, panic, hang, exit and flood (each ends in its
// own cell, and the others are measured), and the go tool's own flow
// through runmatrix exec.
func TestGoTestRows(t *testing.T) {
	out := t.TempDir()
	args := append([]string{"gotest", "--out", out, "--format", "none"}, ciKernels...)
	_, stderr, code := runmatrix(t, 10*time.Minute, append(args, "../examples/gotest")...)
	require.Equal(t, 0, code, stderr)
	got, res := summaries(t, filepath.Join(out, "results.json"))
	const pkg = "gotest:github.com/runmatrix/runmatrix/examples/gotest."
	require.Equal(t, map[string]string{"debian:6.1": "SKIP", "debian:6.1@bookworm/i686": "SKIP", "debian:6.12": "PASS"}, got[pkg+"TestPassPIDFD"])
	for _, row := range []string{"TestLoopbackEcho", "TestUname", "TestUname/sysname", "TestUname/release"} {
		require.Equal(t, map[string]string{"debian:6.1": "PASS", "debian:6.1@bookworm/i686": "PASS", "debian:6.12": "PASS"}, got[pkg+row], row)
	}
	for _, c := range res.Cells {
		if c.Case == pkg+"TestPassPIDFD" && c.Kernel == "debian:6.1" {
			require.Contains(t, c.Outcome.Output, "SO_PASSPIDFD: ENOPROTOOPT", "the test's output is in the cell")
		}
	}

	// bisect one test function (the Debian images as files: one lineage).
	stdout, stderr, code := runmatrix(t, 5*time.Minute, "bisect", "--gotest", "../examples/gotest", "--run", "PassPIDFD",
		"--kernel", resolve(t, "debian:6.1").Path, "--kernel", resolve(t, "debian:6.12").Path, "--out", t.TempDir())
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "first change")
	require.Regexp(t, `: SKIP\n[\s\S]*: PASS\n`, stdout)

	// Hostile tests, from a module of their own.
	hostile := t.TempDir()
	cmd := exec.Command(binary, "gotest", "--kernel", "debian:6.12", "--out", hostile, "--format", "none", "./hostile", "./fastopen", "--", "-timeout", "20s")
	cmd.Dir = "testdata/usermod"
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", b)
	require.Equal(t, 1, ee.ExitCode(), "failed tests make exit status 1: %s", b)
	got, res = summaries(t, filepath.Join(hostile, "results.json"))
	h := "gotest:example.com/usermod/hostile."
	status := map[string]outcome.Status{}
	for _, c := range res.Cells {
		status[c.Case] = c.Outcome.Status
	}
	require.Equal(t, "FAIL", got[h+"TestFails"]["debian:6.12"])
	// JUnit names the test's own failure, and table needs no --cases.
	jx, err := os.ReadFile(filepath.Join(hostile, "junit.xml"))
	require.NoError(t, err)
	require.Regexp(t, `<failure message="hostile_test.go:11: this test fails on purpose" type="test failure">`, string(jx))
	stdout, stderr, code = runmatrix(t, time.Minute, "table", filepath.Join(hostile, "results.json"), "--format", "junit")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, `message="hostile_test.go:11: this test fails on purpose"`)
	require.Equal(t, outcome.Crashed, status[h+"TestPanics"])
	require.Equal(t, outcome.Timeout, status[h+"TestHangs"])
	require.Equal(t, outcome.Crashed, status[h+"TestExits"])
	require.Equal(t, "PASS", got[h+"TestFloods"]["debian:6.12"], "200 MB of output end as a verdict, not a lost guest")
	require.Equal(t, "PASS", got[h+"TestPasses"]["debian:6.12"])
	require.Equal(t, "PASS", got["gotest:example.com/usermod/fastopen.TestLoopback"]["debian:6.12"])
	require.Equal(t, "PASS", got["gotest:example.com/usermod/fastopen.TestSendtoFastOpen"]["debian:6.12"])

	// go test -exec.
	cmd = exec.Command("go", "test", "-count=1", "-exec", binary+" exec --kernel debian:6.12", "./fastopen")
	cmd.Dir = "testdata/usermod"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Contains(t, string(b), "ok  \texample.com/usermod/fastopen")
	cmd = exec.Command("go", "test", "-count=1", "-run", "TestFails", "-exec", binary+" exec --kernel debian:6.12", "./hostile")
	cmd.Dir = "testdata/usermod"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err = cmd.CombinedOutput()
	require.Error(t, err, "%s", b)
	require.Contains(t, string(b), "this test fails on purpose")
}

// userModule writes a module that requires this checkout, with files.
func userModule(t *testing.T, goLine string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	mod := "module example.com/bad\n\ngo " + goLine + "\n\nrequire (\n\tgithub.com/runmatrix/runmatrix v0.0.0\n\tgolang.org/x/sys v0.35.0\n)\n\nreplace github.com/runmatrix/runmatrix => " + root + "\n"
	files["go.mod"] = mod
	sum, err := os.ReadFile("testdata/usermod/go.sum")
	require.NoError(t, err)
	files["go.sum"] = string(sum)
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

// TestUserCodeBadInput: each mistake in a user's code or patterns is one
// line, exit 2, before any QEMU starts.
func TestUserCodeBadInput(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "qemu-started")
	qemu := filepath.Join(dir, "qemu")
	require.NoError(t, os.WriteFile(qemu, []byte("#!/bin/sh\ntouch "+mark+"\nexit 1\n"), 0o755))
	old := filepath.Join(dir, "vmlinuz-2.6.32")
	require.NoError(t, os.WriteFile(old, archivetest.BzImage("2.6.32-42-server (buildd@batsu) #96-Ubuntu SMP", false, nil), 0o644))
	const header = "package c\n\nimport \"github.com/runmatrix/runmatrix/testcases\"\n\n"
	register := func(id string) string {
		return header + "func init() {\n\ttestcases.Register(&testcases.Case{ID: " + id + ", Run: func(*testcases.T) error { return nil }})\n}\n"
	}
	mod := userModule(t, "1.23.0", map[string]string{
		"empty/README":    "nothing\n",
		"broken/c.go":     header + "func init() { undefinedThing() }\n",
		"clash/c.go":      register(`"linger0.reset"`),
		"dup/c.go":        register(`"tfo.mine"`),
		"dup2/c.go":       register(`"tfo.mine"`),
		"notests/p.go":    "package p\n",
		"notelf/prog":     "#!/bin/sh\n",
		"computed/c.go":   header + "var id = \"x\"\n\nfunc init() {\n\ttestcases.Register(&testcases.Case{ID: id, Run: func(*testcases.T) error { return nil }})\n}\n",
		"hostpkg/host.go": "package hostpkg\n",
	})
	newer := userModule(t, "1.25", map[string]string{"c/c.go": register(`"new.go"`)})
	old386 := filepath.Join(dir, "vmlinuz-686")
	require.NoError(t, os.WriteFile(old386, archivetest.BzImage("6.1.0-50-686 (debian-kernel@lists.debian.org) #1 SMP", true, nil), 0o644))
	dynamic := build(t, dir, "exit3.c", "dynamic", "gcc")
	noInterp := build(t, dir, "exit3.c", "no-interp", "gcc", "-Wl,--dynamic-linker=/nonexistent/ld-linux.so.2")
	lib := filepath.Join(dir, "libgone.so")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gone.c"), []byte("int gone(void){return 1;}\n"), 0o644))
	b, err := exec.Command("gcc", "-shared", "-fPIC", "-o", lib, filepath.Join(dir, "gone.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "uses.c"), []byte("int gone(void);\nint main(void){return gone();}\n"), 0o644))
	noLib := filepath.Join(dir, "no-lib")
	b, err = exec.Command("gcc", "-o", noLib, filepath.Join(dir, "uses.c"), "-L"+dir, "-lgone").CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.NoError(t, os.Remove(lib))
	badProg := filepath.Join(dir, "prog.yaml")
	require.NoError(t, os.WriteFile(badProg, []byte("kernels: [debian:6.1]\nprograms:\n  - id: p\n    path: /bin/true\n    argv: [x]\n"), 0o644))
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"a directory with no Go package", "", []string{"run", "--cases", filepath.Join(mod, "empty"), "--kernel", "debian:6.1"}, "is not a Go package"},
		{"a package that does not compile", "", []string{"run", "--cases", filepath.Join(mod, "broken"), "--kernel", "debian:6.1"}, "does not compile: "},
		{"an ID of a built-in case", "", []string{"cases", "run", "--cases", filepath.Join(mod, "clash"), "--kernel", "debian:6.1"}, `"linger0.reset" is a built-in case's`},
		{"one ID in two packages", "", []string{"run", "--cases", filepath.Join(mod, "dup"), "--cases", filepath.Join(mod, "dup2"), "--kernel", "debian:6.1"}, "declared twice"},
		{"an ID that is not a constant", "", []string{"cases", "list", "--cases", filepath.Join(mod, "computed")}, "Case.ID is not a constant"},
		{"Go too new for a kernel before 3.2", "", []string{"run", "--cases", filepath.Join(newer, "c"), "--kernel", old}, "needs Go 1.25 (its go.mod), and kernel " + old + " (2.6.32-42-server) needs Go 1.23 or older"},
		{"a pattern matching no package", mod, []string{"gotest", "--kernel", "debian:6.1", "example.com/bad/nothing/..."}, "matches no package"},
		{"a package without tests", mod, []string{"gotest", "--kernel", "debian:6.1", "./notests"}, "no test functions"},
		{"an unsupported go test flag", mod, []string{"gotest", "--kernel", "debian:6.1", "./notests", "--", "-bench", "."}, "not supported"},
		{"exec of something that is not ELF", "", []string{"exec", "--kernel", "debian:6.1", filepath.Join(mod, "notelf/prog")}, "is not an ELF executable"},
		{"exec of a dynamic binary", "", []string{"exec", "--kernel", "debian:6.1", "/bin/true"}, "dynamically linked"},
		{"a program that is not executable", "", []string{"run", "--kernel", "debian:6.1", "--", filepath.Join(mod, "empty/README")}, "is not an executable"},
		{"a program for another architecture", "", []string{"run", "--kernel", old386, "--", dynamic}, "has no 386 build, which kernel " + old386 + " runs (it has amd64 ("},
		{"a program whose interpreter is missing", "", []string{"run", "--kernel", "debian:6.1", "--", noInterp}, "needs the ELF interpreter /nonexistent/ld-linux.so.2, which this host does not have"},
		{"a program whose library is missing", "", []string{"run", "--kernel", "debian:6.1", "--", noLib}, "needs libgone.so, which is not on this host"},
		{"a glibc too new for a kernel", "", []string{"run", "--kernel", old, "--", dynamic}, "needs Linux 3.2.0 or newer"},
		{"an unknown key in programs:", "", []string{"run", "-f", badProg}, `unknown key "argv" in a program`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Runner flags go right after the command's name(s), before any --.
			at := 1
			extra := []string{"--qemu", qemu}
			switch tc.args[0] {
			case "cases":
				at = 2
				if tc.args[1] == "list" {
					extra = nil
				}
			case "run", "gotest":
				extra = append(extra, "--out", filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-")))
			}
			args := append(append(append([]string{}, tc.args[:at]...), extra...), tc.args[at:]...)
			cmd := exec.Command(binary, args...)
			cmd.Dir = tc.dir
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, stderr.String())
			require.Equal(t, 2, ee.ExitCode(), stderr.String())
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			require.True(t, strings.HasPrefix(last, "runmatrix: "), stderr.String())
			require.Contains(t, last, tc.want)
			require.Equal(t, 1, strings.Count(stderr.String(), "runmatrix: "), "one error line: %s", stderr.String())
			require.NotContains(t, stderr.String(), "goroutine")
			require.NoFileExists(t, mark, "no QEMU was started")
		})
	}
}

// TestFreshCases: a Fresh case's cells each start on a guest of their own,
// so none sees the file another left behind; the same case without Fresh
// shares its kernel's guest, and one of its two cells finds the other's.
func TestFreshCases(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--cases", "testdata/usermod/freshcase", "--kernel", "debian:6.12", "--accel", "tcg", "--repeat", "2", "--out", t.TempDir(), "--format", "none"},
		{"cases", "run", "--cases", "testdata/usermod/freshcase", "--kernel", "debian:6.12", "--accel", "tcg", "--profile", "default", "--profile", "tfo=3", "--json"},
	} {
		t.Run(args[0], func(t *testing.T) {
			stdout, stderr, code := runmatrix(t, 5*time.Minute, args...)
			require.Equal(t, 0, code, stderr)
			var recs []results.Record
			if args[0] == "run" {
				var err error
				recs, err = results.ReadJournal(filepath.Join(args[len(args)-3], "results.jsonl"))
				require.NoError(t, err)
			} else {
				for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
					var r results.Record
					require.NoError(t, json.Unmarshal([]byte(line), &r))
					recs = append(recs, r)
				}
			}
			notes := map[string][]string{}
			for _, r := range recs {
				require.Equal(t, outcome.OK, r.Outcome.Status, "%s: %s", r.Case, r.Outcome.Error)
				for _, n := range r.Outcome.Notes {
					if strings.Contains(n, "guest") || strings.Contains(n, "cell") {
						notes[r.Case] = append(notes[r.Case], n)
					}
				}
			}
			require.Equal(t, []string{"a clean guest", "a clean guest"}, notes["usermod.fresh-guest"], "each on a guest of its own")
			require.ElementsMatch(t, []string{"a clean guest", "left behind by another cell"}, notes["usermod.shared-guest"], "both on one guest")
		})
	}
}
