package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// matrixFile runs four cases under two profiles on both Debian kernels. One
// expectation is deliberately wrong, so the run must report a mismatch.
const matrixFile = `# e2e matrix
kernels: [debian:6.1, debian:6.12]
profiles: [default, tfo=3]
cases:
  - tfo.sendmsg.*
  - epipe.write-after-close
  - linger0.reset
expect:
  - case: linger0.reset
    profile: tfo=3
    summary: "recv=0"
    source: deliberately wrong, to check mismatches are reported
`

// TestMatrix runs a real matrix, checks its cells against the cases'
// semantics, then interrupts an identical run, resumes it and checks the
// result equals the uninterrupted one.
func TestMatrix(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(matrixFile), 0o644))

	outA := filepath.Join(dir, "a")
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", outA, "--accel", "tcg", "--format", "none")
	require.Equal(t, 1, code, "the wrong expectation fails the run; stderr:\n%s", stderr)
	res, err := results.Read(filepath.Join(outA, "results.json"))
	require.NoError(t, err)
	require.Len(t, res.Cells, 2*4*2)
	cells := map[string]results.Result{}
	for _, c := range res.Cells {
		require.Equal(t, outcome.OK, c.Outcome.Status, "%s: %s", c.Key, c.Outcome.Error)
		require.Equal(t, "x86_64", c.KernelInfo.Arch)
		require.NotEmpty(t, c.KernelInfo.Origin.PackageVersion, "how the image was obtained")
		require.NotEmpty(t, c.Outcome.Steps)
		cells[c.Kernel+" "+c.Case+" "+c.Profile] = c
	}
	for _, k := range []string{"debian:6.1", "debian:6.12"} {
		// seed 004: the missing msg_name, not MSG_FASTOPEN, gives EINVAL.
		require.Equal(t, "sendmsg=-1 EINVAL", cells[k+" tfo.sendmsg.no-name tfo=3"].Outcome.Summary)
		require.Equal(t, "sendmsg=5 recv=5", cells[k+" tfo.sendmsg.with-name tfo=3"].Outcome.Summary)
		// send(2): EPIPE with SIGPIPE once the peer's RST has arrived.
		e := cells[k+" epipe.write-after-close default"]
		require.Equal(t, "write1=1 write2=-1 EPIPE +SIGPIPE", e.Outcome.Summary)
		require.NotNil(t, e.Expect)
		require.True(t, e.Expect.Pass)
		// The matrix file's override replaces the case's expectation.
		l := cells[k+" linger0.reset tfo=3"]
		require.Equal(t, "recv=-1 ECONNRESET send=-1 EPIPE +SIGPIPE", l.Outcome.Summary)
		require.False(t, l.Expect.Pass)
		require.Equal(t, "recv=0", l.Expect.Summary)
	}
	require.True(t, strings.HasPrefix(cells["debian:6.1 linger0.reset default"].KernelInfo.Release, "6.1."))

	// The reports are there and say the same.
	md, err := os.ReadFile(filepath.Join(outA, "table.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| linger0.reset | tfo=3 | ✗ `recv=-1 ECONNRESET send=-1 EPIPE +SIGPIPE` (expected `recv=0`) |")
	var junit struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	jb, err := os.ReadFile(filepath.Join(outA, "junit.xml"))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(jb, &junit))
	require.Equal(t, 16, junit.Tests)
	require.Equal(t, 2, junit.Failures)
	checkScreenshot(t, filepath.Join(outA, "report.html"))

	// Interrupt the same run after a few cells, then resume it.
	outB := filepath.Join(dir, "b")
	interrupted(t, outB, spec)
	_, stderr, code = runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", outB, "--accel", "tcg", "--format", "none", "--resume")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "resuming: ")
	stdout, stderr, code := runmatrix(t, time.Minute, "diff", filepath.Join(outA, "results.json"), filepath.Join(outB, "results.json"))
	require.Equal(t, 0, code, "resumed run differs from the uninterrupted one:\n%s%s", stdout, stderr)
	require.Contains(t, stdout, "No cell changed")

	// Two shards merged render like the single run (the CI job-matrix way).
	var shards []string
	for _, sh := range []string{"1/2", "2/2"} {
		out := filepath.Join(dir, "shard"+sh[:1])
		_, stderr, _ := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--shard", sh)
		res, err := results.Read(filepath.Join(out, "results.json"))
		require.NoError(t, err, stderr)
		require.Len(t, res.Cells, 8, "half the cells")
		shards = append(shards, filepath.Join(out, "results.json"))
	}
	merged := filepath.Join(dir, "merged.json")
	_, stderr, code = runmatrix(t, time.Minute, append([]string{"merge", "-o", merged}, shards...)...)
	require.Equal(t, 0, code, stderr)
	stdout, _, code = runmatrix(t, time.Minute, "diff", filepath.Join(outA, "results.json"), merged)
	require.Equal(t, 0, code, "merged shards differ from the single run:\n%s", stdout)
	tableA, _, _ := runmatrix(t, time.Minute, "table", filepath.Join(outA, "results.json"), "--format", "markdown")
	tableM, _, _ := runmatrix(t, time.Minute, "table", merged, "--format", "markdown")
	require.Equal(t, tableA, tableM)

	// A run into a directory with results refuses without --resume.
	_, stderr, code = runmatrix(t, time.Minute, "run", "-f", spec, "--out", outB)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "pass --resume")
}

// interrupted starts a run and sends it SIGINT once three cells are in its
// journal (checked on the journal itself at each line the run prints); the
// run must keep them and say how to continue.
func interrupted(t *testing.T, out, spec string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--jobs", "1")
	var stderr bytes.Buffer
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stderr = pw
	require.NoError(t, cmd.Start())
	pw.Close()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if recs, _ := results.ReadJournal(filepath.Join(out, "results.jsonl")); len(recs) >= 3 {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	require.Error(t, err, "an interrupted run exits non-zero")
	recs, err := results.ReadJournal(filepath.Join(out, "results.jsonl"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(recs), 3, stderr.String())
	require.Less(t, len(recs), 16)
	res, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err, "an interrupted run still writes its reports")
	require.Equal(t, len(recs), len(res.Cells))
}

// Colours of the HTML report (matrix/report): a failed expectation's red
// frame, and the first two outcome shades of a row that differs.
var (
	failFrame = color.RGBA{0xd7, 0x26, 0x3d, 0xff}
	shade0    = color.RGBA{0xcf, 0xe8, 0xfc, 0xff}
	shade1    = color.RGBA{0xfd, 0xe2, 0xb8, 0xff}
)

// checkScreenshot renders the HTML report in headless Chromium and checks
// the picture: the failed expectations are framed in red, and as both
// kernels agree on every row no cell is shaded by outcome (the legend's
// swatches are all there is of those colours).
func checkScreenshot(t *testing.T, report string) {
	t.Helper()
	counts := screenshotColours(t, report, map[string]color.RGBA{"fail": failFrame, "shade0": shade0, "shade1": shade1})
	require.Greater(t, counts["fail"], 1500, "red frames of the failed expectations drawn")
	legend := screenshotColours(t, report, map[string]color.RGBA{"shade0": shade0})["shade0"]
	require.Less(t, counts["shade0"]+counts["shade1"], 3*legend+1, "only the legend is shaded")
}

// screenshotColours renders the HTML report in headless Chromium and counts
// the pixels of each colour.
func screenshotColours(t *testing.T, report string, want map[string]color.RGBA) map[string]int {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium is needed to check the HTML report (make deps installs it)")
	shot := filepath.Join(t.TempDir(), "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--window-size=1600,1400", "--screenshot="+shot, "file://"+report).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return colourCounts(t, shot, want)
}

func colourCounts(t *testing.T, path string, want map[string]color.RGBA) map[string]int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	counts := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			for name, w := range want {
				if near(c, w) {
					counts[name]++
				}
			}
		}
	}
	return counts
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) < 6 && d(a.G, b.G) < 6 && d(a.B, b.B) < 6
}

// TestMatrixBootFailure boots a kernel whose init is missing, so it
// panics: that is the kernel failing, deterministically, so its cells are
// shown as boot-failed with the panic, not retried and never shown as
// kernel behaviour, and the run exits 1.
func TestMatrixBootFailure(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("kernels: [debian:6.1]\ncases: [linger0.reset]\n"), 0o644))
	out := filepath.Join(dir, "out")
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg",
		"--append", "rdinit=/no-such-init", "--format", "none")
	require.Equal(t, 1, code, stderr)
	require.NotContains(t, stderr, "retrying", "a kernel panic is not retried")
	recs, err := results.ReadJournal(filepath.Join(out, "results.jsonl"))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, outcome.BootFailed, recs[0].Outcome.Status)
	require.Equal(t, 1, recs[0].Attempt)
	require.Empty(t, recs[0].Outcome.Steps, "no kernel behaviour is claimed")
	require.NotEmpty(t, recs[0].Outcome.Notes, "the console tail is kept")
	md, err := os.ReadFile(filepath.Join(out, "table.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "✗ `boot-failed: boot: guest failed: ")
	require.Contains(t, string(md), "Kernel panic - not syncing")
}

// TestRunBadInput checks bad matrix input is refused before anything
// boots, in one line naming the problem and the fix, with exit status 2.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("kernels: [debian:6.1]\nprofiles:\n  - tfo=3\n  - turbo\n"), 0o644))
	notResults := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(notResults, []byte("[1,2]"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"matrix error with line", []string{"run", "-f", bad}, bad + ":4: unknown profile \"turbo\""},
		{"missing matrix file", []string{"run", "-f", filepath.Join(dir, "nope.yaml")}, "cannot read the matrix file: no such file or directory"},
		{"unknown case", []string{"run", "--case", "nope.*"}, `no case matches "nope.*"`},
		{"bad shard", []string{"run", "--shard", "3/2"}, "want I/N with 1 <= I <= N"},
		{"bad format", []string{"run", "--format", "pdf"}, "use one of table, markdown"},
		{"diff of a non-results file", []string{"diff", notResults, notResults}, "is not a runmatrix results.json"},
		{"evidence without case", []string{"evidence", "--kernel", "debian:6.1"}, "evidence needs --case GLOB"},
		{"evidence with one kernel", []string{"evidence", "--case", "linger0.reset", "--kernel", "debian:6.1"}, "give at least two --kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			args := tc.args
			if args[0] != "diff" {
				args = append(args, "--out", filepath.Join(dir, "out-"+tc.name))
			}
			_, stderr, code := runmatrix(t, time.Minute, args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
			require.Less(t, time.Since(start), 20*time.Second, "refused before booting anything")
		})
	}
}

// TestParallelCellsEqualSequential runs every case under two profiles on a
// 6.x kernel one cell at a time and with cells in parallel inside the
// guest: the results must be identical.
func TestParallelCellsEqualSequential(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for _, jobs := range []string{"1", "8"} {
		out := filepath.Join(dir, "jobs"+jobs)
		_, stderr, code := runmatrix(t, 10*time.Minute, "run", "--kernel", "debian:6.12", "--profile", "default", "--profile", "tfo=3",
			"--case-jobs", jobs, "--out", out, "--accel", "tcg", "--format", "none")
		require.Equal(t, 0, code, stderr)
		outs = append(outs, filepath.Join(out, "results.json"))
	}
	res, err := results.Read(outs[0])
	require.NoError(t, err)
	require.Len(t, res.Cells, 2*len(testcases.All()))
	stdout, _, code := runmatrix(t, time.Minute, "diff", outs[0], outs[1])
	require.Equal(t, 0, code, "parallel cells differ from sequential ones:\n%s", stdout)
}

// TestRowsWithCellsThatCouldNotRun runs two kernels, one of them a damaged
// image that cannot boot: its cells are boot-failed, and no row is marked
// as differing because of them, in the tables or in the HTML report as
// Chromium draws it.
func TestRowsWithCellsThatCouldNotRun(t *testing.T) {
	dir := t.TempDir()
	img, err := os.ReadFile(resolve(t, "debian:6.1").Path)
	require.NoError(t, err)
	// Damage the kernel's 32-bit entry code, past the header runmatrix
	// checks: the guest triple-faults at once.
	setupEnd := (int(img[0x1f1]) + 1) * 512
	for i := setupEnd; i < setupEnd+256; i++ {
		img[i] = 0xff
	}
	damaged := filepath.Join(dir, "vmlinuz-damaged")
	require.NoError(t, os.WriteFile(damaged, img, 0o644))
	spec := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("kernels: [debian:6.1, "+damaged+"]\ncases: [epipe.*, linger0.reset]\n"), 0o644))
	out := filepath.Join(dir, "out")
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none")
	require.Equal(t, 1, code, stderr)
	res, err := results.Read(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	for _, c := range res.Cells {
		if c.Kernel == damaged {
			require.Equal(t, outcome.BootFailed, c.Outcome.Status, c.Outcome.Error)
			require.Contains(t, c.Outcome.Error, "the guest reset before it was ready")
		} else {
			require.Equal(t, outcome.OK, c.Outcome.Status)
		}
	}
	require.Empty(t, res.Transitions, "a kernel that could not run makes no boundary")
	md, err := os.ReadFile(filepath.Join(out, "table.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "0 of 2 rows differ across kernels")
	require.NotContains(t, string(md), "| ≠ |")
	// In the HTML, no row is highlighted as differing; the cells that could
	// not run are drawn as such.
	counts := screenshotColours(t, filepath.Join(out, "report.html"), map[string]color.RGBA{
		"shade0": shade0, "hatch": {0xdd, 0xdd, 0xdd, 0xff},
	})
	require.Greater(t, counts["hatch"], 2000, "cells that could not run are drawn hatched")
	t.Logf("colour counts: %v", counts)
	require.Less(t, counts["shade0"], 6000, "only the legend carries the outcome colours")
}

// TestSharedModeEqualsNamespaces runs every case without network
// namespaces (as on kernels built without them: each case on its own 127/8
// address, injected segments from the address the kernel really uses) and
// with them, on a CI kernel: the outcomes must be the same.
func TestSharedModeEqualsNamespaces(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for _, mode := range []string{"netns", "shared"} {
		out := filepath.Join(dir, mode)
		args := []string{"run", "--kernel", "debian:6.1", "--profile", "default", "--profile", "tfo=3", "--out", out, "--accel", "tcg", "--format", "none"}
		if mode == "shared" {
			args = append(args, "--shared")
		}
		_, stderr, code := runmatrix(t, 10*time.Minute, args...)
		require.Equal(t, 0, code, stderr)
		outs = append(outs, filepath.Join(out, "results.json"))
	}
	res, err := results.Read(outs[1])
	require.NoError(t, err)
	for _, c := range res.Cells {
		require.Equal(t, "shared", c.Outcome.Isolation, c.Key.String())
	}
	stdout, _, code := runmatrix(t, time.Minute, "diff", outs[0], outs[1])
	require.Equal(t, 0, code, "shared mode differs from namespaces:\n%s", stdout)
}

// TestSysctlsShown runs TFO cases on two kernels whose tcp_fastopen in
// force differs (6.12 booted with sysctl.net.ipv4.tcp_fastopen=0 and its
// cases in the initial namespace, as a kernel whose default is 0), merges
// the two result sets and checks that the table, the HTML report (in
// Chromium) and the transitions show the values and say the default
// changed, and that a case not depending on the sysctl shows nothing.
func TestSysctlsShown(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cases := []string{"--case", "tfo.sendto.blocking", "--case", "linger0.reset", "--profile", "default", "--format", "none"}
	_, stderr, code := runmatrix(t, 10*time.Minute, append([]string{"run", "--kernel", "debian:6.1", "--out", a}, cases...)...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runmatrix(t, 10*time.Minute, append([]string{"run", "--kernel", "debian:6.12", "--shared",
		"--append", "sysctl.net.ipv4.tcp_fastopen=0", "--out", b}, cases...)...)
	require.Equal(t, 0, code, stderr)
	merged := filepath.Join(dir, "merged.json")
	_, stderr, code = runmatrix(t, time.Minute, "merge", "--force", "-o", merged, filepath.Join(a, "results.json"), filepath.Join(b, "results.json"))
	require.Equal(t, 0, code, stderr)

	table, stderr, code := runmatrix(t, time.Minute, "table", merged, "--format", "markdown")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, table, "`sendto=5 recv=5 [tcp_fastopen=1]`")
	require.Contains(t, table, "`sendto=-1 EOPNOTSUPP [tcp_fastopen=0]`")
	require.Contains(t, table, "the default of net.ipv4.tcp_fastopen changed here: 1 → 0; run with --profile tfo=0 to compare the same setting")
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, "linger0.reset") {
			require.NotContains(t, l, "tcp_fastopen", "linger0.reset does not depend on it")
		}
	}
	// The terminal table fits a narrow terminal.
	narrow := exec.Command(binary, "table", merged)
	narrow.Env = append(os.Environ(), "COLUMNS=80")
	out, err := narrow.Output()
	require.NoError(t, err)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		require.LessOrEqual(t, len([]rune(l)), 80, l)
	}
	require.Contains(t, string(out), "sendto=-1 EOPNOTSUPP [tcp_fastopen=0]")

	html, stderr, code := runmatrix(t, time.Minute, "table", merged, "--format", "html")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, html, "sendto=-1 EOPNOTSUPP [tcp_fastopen=0]")
	report := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(report, []byte(html), 0o644))
	counts := screenshotColours(t, report, map[string]color.RGBA{"shade0": shade0, "shade1": shade1})
	legend := screenshotColours(t, filepath.Join(b, "report.html"), map[string]color.RGBA{"shade0": shade0, "shade1": shade1})
	require.Greater(t, counts["shade0"], legend["shade0"]+2000, "the first outcome's cell is shaded")
	require.Greater(t, counts["shade1"], legend["shade1"]+2000, "the other outcome's cell is shaded apart")
}
