package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// build compiles testdata/programs/SRC with a C compiler and flags into dir.
func build(t *testing.T, dir, src, out string, compiler ...string) string {
	t.Helper()
	p := filepath.Join(dir, out)
	args := append(append([]string{}, compiler[1:]...), "-O1", "-o", p, filepath.Join("testdata/programs", src))
	b, err := exec.Command(compiler[0], args...).CombinedOutput()
	require.NoError(t, err, "%s", b)
	return p
}

// TestPrograms runs C programs as cases on the kernels CI can get: a
// static one, one linked dynamically on this host (shipped with its
// interpreter and libraries), a script with its interpreter, one that
// prints its own summary and one that SIGPIPE kills; for the i686 kernel
// the same built for i386.
func TestPrograms(t *testing.T) {
	dir := t.TempDir()
	musl := []string{"musl-gcc", "-static"}
	gcc := []string{"gcc"}
	m := filepath.Join(dir, "m.yaml")
	spec := "kernels: [debian:6.1, debian:6.12]\nprograms:\n" +
		"  - {id: p.static, path: " + build(t, dir, "tfo.c", "tfo", musl...) + "}\n" +
		"  - {id: p.dynamic, path: " + build(t, dir, "exit3.c", "exit3", gcc...) + ", expect: [{summary: exit=3}]}\n" +
		"  - {id: p.summary, path: " + build(t, dir, "summary.c", "summary", musl...) + "}\n" +
		"  - {id: p.sigpipe, path: " + build(t, dir, "epipe.c", "epipe", gcc...) + "}\n" +
		"  - {id: p.script, path: " + mustAbs(t, "testdata/programs/hello.sh") + ", env: {GREETING: hi}}\n" +
		"cases: ['p.*']\n"
	require.NoError(t, os.WriteFile(m, []byte(spec), 0o644))
	out := t.TempDir()
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", m, "--out", out, "--format", "none")
	require.Equal(t, 0, code, stderr)
	got, res := summaries(t, filepath.Join(out, "results.json"))
	for _, k := range []string{"debian:6.1", "debian:6.12"} {
		require.Equal(t, "exit=0", got["p.static"][k], k)
		require.Equal(t, "exit=3", got["p.dynamic"][k], k)
		require.Equal(t, "answer=42", got["p.summary"][k], k)
		require.Equal(t, "signal=SIGPIPE", got["p.sigpipe"][k], k)
		require.Equal(t, "sh says hi", got["p.script"][k], k)
	}
	for _, c := range res.Cells {
		if c.Case == "p.summary" {
			require.Contains(t, c.Outcome.Stderr, "to stderr", "stderr's tail is in the cell")
			require.Contains(t, c.Outcome.Output, "noise", "stdout's tail is in the cell")
		}
		if c.Case == "p.dynamic" {
			require.True(t, c.Expect != nil && c.Expect.Pass, "the program's expectation is judged")
		}
	}

	// i686: the same programs built for i386, and the one-off form.
	for _, p := range []struct{ src, want string }{
		{"exit3.c", "exit=3"},
		{"epipe.c", "signal=SIGPIPE"},
	} {
		bin := build(t, dir, p.src, strings.TrimSuffix(p.src, ".c")+"-386", "gcc", "-m32")
		stdout, stderr, code := runmatrix(t, 5*time.Minute, "run", "--kernel", "debian:6.1@bookworm/i686", "--out", t.TempDir(), "--", bin)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, p.want)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

// TestHostilePrograms: a program that floods stdout, forks without end,
// fills memory or the file system, kills every process it can or never
// exits ends in its own cell within its deadline, and the built-in cases
// of the same run give what an undisturbed run gives.
func TestHostilePrograms(t *testing.T) {
	dir := t.TempDir()
	musl := []string{"musl-gcc", "-static"}
	var progs strings.Builder
	for _, h := range []string{"flood", "forkbomb", "memfill", "fsfill", "killall", "sleeper"} {
		progs.WriteString("  - {id: hostile." + h + ", path: " + build(t, dir, "hostile-"+h+".c", h, musl...) + ", timeout: 8s}\n")
	}
	builtin := []string{"linger0.reset", "epipe.write-after-close", "tfo.sendto.blocking", "flags.unknown.sendto"}
	m := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.WriteFile(m, []byte("kernels: [debian:6.12]\nprograms:\n"+progs.String()+"cases: ['hostile.*', "+strings.Join(builtin, ", ")+"]\n"), 0o644))
	out := t.TempDir()
	start := time.Now()
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", m, "--out", out, "--format", "none")
	took := time.Since(start)
	require.Equal(t, 1, code, "timeouts are failed cells: %s", stderr)
	got, res := summaries(t, filepath.Join(out, "results.json"))
	byCase := map[string]outcome.Outcome{}
	for _, c := range res.Cells {
		byCase[c.Case] = c.Outcome
		if strings.HasPrefix(c.Case, "hostile.") {
			require.Less(t, c.Outcome.DurMS, 20e3, "%s ended within its deadline (8 s, and the kill)", c.Case)
			require.NotEqual(t, outcome.InfraFailed, c.Outcome.Status, "%s did not take the guest down", c.Case)
		}
	}
	require.Equal(t, outcome.Timeout, byCase["hostile.flood"].Status)
	require.Contains(t, byCase["hostile.flood"].Output, "xxxx", "what was seen is kept")
	require.LessOrEqual(t, len(byCase["hostile.flood"].Output), 16<<10, "and bounded")
	require.Equal(t, outcome.Crashed, byCase["hostile.forkbomb"].Status)
	require.Contains(t, byCase["hostile.forkbomb"].Error, "more than 256 processes")
	require.Equal(t, outcome.Timeout, byCase["hostile.fsfill"].Status)
	require.Equal(t, outcome.Timeout, byCase["hostile.sleeper"].Status)
	require.Equal(t, "killed everyone", got["hostile.killall"]["debian:6.12"], "kill -1 stays in the program's namespace")
	mem := byCase["hostile.memfill"]
	require.True(t, mem.Summary == "signal=SIGKILL" || mem.Status == outcome.Crashed, "memfill: %+v", mem)
	t.Logf("hostile run: %s", took)

	calm := t.TempDir()
	args := []string{"run", "--kernel", "debian:6.12", "--out", calm, "--format", "none", "--profile", "default"}
	for _, c := range builtin {
		args = append(args, "--case", c)
	}
	_, stderr, code = runmatrix(t, 5*time.Minute, args...)
	require.Equal(t, 0, code, stderr)
	undisturbed, _ := summaries(t, filepath.Join(calm, "results.json"))
	for _, c := range builtin {
		require.Equal(t, undisturbed[c], got[c], "%s: the same as in an undisturbed run", c)
	}
}
