package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/evidence"
	"github.com/runmatrix/runmatrix/testcases"
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
		"  - {id: p.tun, path: " + mustAbs(t, "testdata/programs/tun.sh") + ", modules: [tun]}\n" +
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
		require.Equal(t, "tun loaded", got["p.tun"][k], "%s: the module the program asked for is loaded", k)
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

// callsOf is the (call, errno, signals) sequence of steps, the loopback
// set-up a C reproducer makes first (a datagram socket for its ioctl) left
// out.
func callsOf(steps []outcome.Step) []string {
	var out []string
	skip := map[string]bool{}
	for _, s := range steps {
		if s.Call == "socket" && strings.Contains(argOf(s, "type"), "SOCK_DGRAM") {
			skip[s.Fd] = true
			continue
		}
		if s.Call == "close" && skip[s.Fd] {
			delete(skip, s.Fd)
			continue
		}
		out = append(out, s.Call+" "+s.Errno+" "+strings.Join(s.Signals, ","))
	}
	return out
}

func argOf(s outcome.Step, name string) string {
	for _, a := range s.Args {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// TestTracedPrograms: --trace records a program's socket calls on x86_64
// and i686 guests; the C reproducer evidence writes for a built-in case,
// run as a traced program, makes the same calls with the same errno and
// signals and prints the same summary as the case on each kernel; and
// evidence on a traced program writes a reproducer that prints the
// program's outcome.
func TestTracedPrograms(t *testing.T) {
	dir := t.TempDir()
	out := t.TempDir()
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "--case", "tfo.sendto.blocking", "--kernel", "debian:6.1", "--kernel", "debian:6.12",
		"--profile", "tfo=0", "--out", out, "--format", "none")
	require.Equal(t, 0, code, stderr)
	builtin, res := summaries(t, filepath.Join(out, "results.json"))
	steps := map[string][]outcome.Step{}
	for _, c := range res.Cells {
		steps[c.Kernel] = c.Outcome.Steps
	}
	// The reproducer evidence writes, from the 6.1 trace.
	c, err := testcases.Lookup("tfo.sendto.blocking")
	require.NoError(t, err)
	p, err := testcases.ParseProfile("tfo=0")
	require.NoError(t, err)
	var o61 outcome.Outcome
	for _, c := range res.Cells {
		if c.Kernel == "debian:6.1" {
			o61 = c.Outcome
		}
	}
	src, err := evidence.Repro(c, p, o61, "debian:6.1", evidence.Sides{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "repro.c"), []byte(src), 0o644))
	repro := filepath.Join(dir, "repro")
	b, err := exec.Command("musl-gcc", "-static", "-o", repro, filepath.Join(dir, "repro.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	traced := t.TempDir()
	_, stderr, code = runmatrix(t, 10*time.Minute, "run", "--trace", "--kernel", "debian:6.1", "--kernel", "debian:6.12", "--profile", "tfo=0",
		"--out", traced, "--format", "none", "--", repro)
	require.Equal(t, 0, code, stderr)
	got, res := summaries(t, filepath.Join(traced, "results.json"))
	for _, c := range res.Cells {
		require.Equal(t, builtin["tfo.sendto.blocking"][c.Kernel], got["program:repro"][c.Kernel], "%s: the reproducer's summary is the case's", c.Kernel)
		require.Equal(t, callsOf(steps[c.Kernel]), callsOf(c.Outcome.Steps), "%s: the same calls, errno and signals", c.Kernel)
	}

	// A program, traced on an i686 guest (socket calls through socketcall
	// on older kernels, direct ones here) and on x86_64.
	bin386 := build(t, dir, "tfo.c", "tfo-386", "gcc", "-m32", "-static")
	_, stderr, code = runmatrix(t, 5*time.Minute, "run", "--trace", "--kernel", "debian:6.1@bookworm/i686", "--out", filepath.Join(dir, "i686"), "--", bin386)
	require.Equal(t, 0, code, stderr)
	_, res = summaries(t, filepath.Join(dir, "i686", "results.json"))
	require.Len(t, res.Cells, 1)
	calls := callsOf(res.Cells[0].Outcome.Steps)
	require.Equal(t, []string{"socket  ", "bind  ", "listen  ", "getsockname  ", "socket  ", "sendto  "}, calls)
	require.Equal(t, "flags", res.Cells[0].Outcome.Steps[5].Args[2].Name)
	require.Equal(t, "MSG_FASTOPEN", res.Cells[0].Outcome.Steps[5].Args[2].Value)

	// evidence on a traced program whose outcome differs between 6.1 and
	// 6.12: its repro.c, from the 6.1 trace, prints the program's outcome
	// there and says where 6.12 differs (exit 1, for git bisect run).
	prog := build(t, dir, "passpidfd.c", "passpidfd", "musl-gcc", "-static")
	ev := t.TempDir()
	_, stderr, code = runmatrix(t, 10*time.Minute, "evidence", "--trace", "--kernel", "debian:6.1", "--kernel", "debian:6.12", "--out", ev, "--", prog)
	require.Equal(t, 0, code, stderr)
	report, err := os.ReadFile(filepath.Join(ev, "REPORT.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "passpidfd=-1 ENOPROTOOPT")
	b, err = exec.Command("musl-gcc", "-static", "-o", filepath.Join(dir, "prog-repro"), filepath.Join(ev, "repro.c")).CombinedOutput()
	require.NoError(t, err, "%s", b)
	_, stderr, code = runmatrix(t, 10*time.Minute, "run", "--kernel", "debian:6.1", "--kernel", "debian:6.12",
		"--out", filepath.Join(dir, "prog-repro-run"), "--", filepath.Join(dir, "prog-repro"))
	require.Equal(t, 0, code, stderr)
	again, _ := summaries(t, filepath.Join(dir, "prog-repro-run", "results.json"))
	traced61 := strings.Contains(head(t, filepath.Join(ev, "repro.c")), "generated from the trace on debian:6.1 (")
	from, other, want := "debian:6.12", "debian:6.1", "passpidfd=0"
	if traced61 {
		from, other, want = "debian:6.1", "debian:6.12", "passpidfd=-1 ENOPROTOOPT"
	}
	require.Equal(t, want, again["program:prog-repro"][from], "the reproducer prints the program's outcome where it was traced")
	require.True(t, strings.HasPrefix(again["program:prog-repro"][other], "differs from the trace: "), again["program:prog-repro"][other])
}

// head is the first line of a file.
func head(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}
