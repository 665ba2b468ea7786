package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// faultMatrix is a small matrix on one kernel: enough cells that a fault
// can land in the middle of a run.
const faultMatrix = `kernels: [debian:6.1]
profiles: [default]
cases:
  - epipe.*
  - linger0.*
  - reconnect.*
  - defer-accept.*
  - tfo.sendmsg.*
`

func writeSpec(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "faults.yaml")
	require.NoError(t, os.WriteFile(p, []byte(faultMatrix), 0o644))
	return p
}

// started is a runmatrix run in the background whose stderr is read line by line.
type started struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *strings.Builder
	done   chan error
}

func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, args...)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stderr = pw
	require.NoError(t, cmd.Start())
	pw.Close()
	s := &started{cmd: cmd, lines: make(chan string, 1000), stderr: &strings.Builder{}, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.stderr.WriteString(sc.Text() + "\n")
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.done <- cmd.Wait()
	}()
	return s
}

// until reads the run's stderr until cond holds (checked at each line).
func (s *started) until(t *testing.T, cond func() bool) {
	t.Helper()
	for range s.lines {
		if cond() {
			return
		}
	}
	t.Fatalf("the run ended before the condition held; stderr:\n%s", s.stderr)
}

// wait returns the run's exit status once it has ended.
func (s *started) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	go func() {
		for range s.lines {
		}
	}()
	select {
	case err := <-s.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(within):
		s.cmd.Process.Kill()
		t.Fatalf("the run did not end within %s; stderr:\n%s", within, s.stderr)
	}
	return -1
}

func journalLen(out string) int {
	recs, _ := results.ReadJournal(filepath.Join(out, "results.jsonl"))
	return len(recs)
}

// guestsOf returns the pids of the QEMU processes run by runmatrix pid.
func guestsOf(pid int) []int {
	out, _ := exec.Command("pgrep", "-f", fmt.Sprintf("qemu-system-x86_64.*runmatrix-guest-%d-", pid)).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// undisturbed runs the fault matrix once, cleanly, for comparison.
func undisturbed(t *testing.T, spec string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clean")
	_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none")
	require.Equal(t, 0, code, stderr)
	return filepath.Join(out, "results.json")
}

// TestFaults injects the faults a nightly CI run meets, for real, and
// checks what happened to every cell.
func TestFaults(t *testing.T) {
	spec := writeSpec(t)
	clean := undisturbed(t, spec)
	cleanRes, err := results.Read(clean)
	require.NoError(t, err)
	nCells := len(cleanRes.Cells)
	require.Greater(t, nCells, 5)

	t.Run("a frozen guest is killed, its cells retried on a fresh guest", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "frozen")
		// One cell at a time, and cases that wait seconds (reconnect.*), so
		// the freeze lands in the middle of a case.
		r := start(t, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--case-timeout", "15s", "--case-jobs", "1")
		r.until(t, func() bool { return journalLen(out) >= 2 })
		qemus := guestsOf(r.cmd.Process.Pid)
		require.Len(t, qemus, 1, "one guest runs the cells")
		require.NoError(t, syscall.Kill(qemus[0], syscall.SIGSTOP))
		code := r.wait(t, 4*time.Minute)
		require.Equal(t, 0, code, r.stderr)
		require.Contains(t, r.stderr.String(), "guest stopped answering: no case result for 15s")
		require.Contains(t, r.stderr.String(), "retrying")
		recs, err := results.ReadJournal(filepath.Join(out, "results.jsonl"))
		require.NoError(t, err)
		require.Len(t, recs, nCells, "every cell measured, once")
		retried := 0
		for _, rec := range recs {
			require.Equal(t, outcome.OK, rec.Outcome.Status, rec.Key.String())
			if rec.Attempt == 2 {
				retried++
			}
		}
		require.Greater(t, retried, 0, "the cells after the freeze ran on a fresh guest")
		require.Empty(t, guestsOf(r.cmd.Process.Pid))
		stdout, _, code := runmatrix(t, time.Minute, "diff", clean, filepath.Join(out, "results.json"))
		require.Equal(t, 0, code, "a retried cell is still the kernel's behaviour:\n%s", stdout)
	})

	t.Run("SIGTERM ends the run within seconds; --resume finishes it", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "term")
		// One cell at a time: a guest started from a saved one runs the
		// nine cells, eight at once, in about the time two are journaled.
		r := start(t, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--case-jobs", "1")
		r.until(t, func() bool { return journalLen(out) >= 2 })
		pid := r.cmd.Process.Pid
		require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
		start := time.Now()
		code := r.wait(t, time.Minute)
		require.Less(t, time.Since(start), 15*time.Second, "ended within seconds")
		require.Equal(t, 130, code, "exit status says it was interrupted; stderr:\n%s", r.stderr)
		require.Contains(t, r.stderr.String(), "continue with --resume")
		require.Empty(t, guestsOf(pid), "no guest outlives the run")
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("runmatrix-guest-%d-*", pid)))
		require.Empty(t, dirs, "no guest folder is left behind")
		measured := journalLen(out)
		require.GreaterOrEqual(t, measured, 2)
		require.Less(t, measured, nCells)

		_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--resume")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stderr, fmt.Sprintf("resuming: %d of %d cells already measured", measured, nCells))
		stdout, _, code := runmatrix(t, time.Minute, "diff", clean, filepath.Join(out, "results.json"))
		require.Equal(t, 0, code, "resumed run differs:\n%s", stdout)
	})

	t.Run("a torn journal line is dropped on --resume and its cell run again", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "torn")
		require.NoError(t, os.MkdirAll(out, 0o755))
		recs, err := results.ReadJournal(filepath.Join(filepath.Dir(clean), "results.jsonl"))
		require.NoError(t, err)
		// The first half of the records, whole, then half a line: a run
		// killed while writing.
		var b strings.Builder
		for _, rec := range recs[:len(recs)/2] {
			line, err := jsonLine(rec)
			require.NoError(t, err)
			b.WriteString(line)
		}
		torn, err := jsonLine(recs[len(recs)/2])
		require.NoError(t, err)
		b.WriteString(torn[:len(torn)/2])
		require.NoError(t, os.WriteFile(filepath.Join(out, "results.jsonl"), []byte(b.String()), 0o644))
		_, stderr, code := runmatrix(t, 10*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none", "--resume")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stderr, "dropped a torn last line")
		require.Contains(t, stderr, fmt.Sprintf("resuming: %d of %d cells already measured", len(recs)/2, nCells))
		got, err := results.ReadJournal(filepath.Join(out, "results.jsonl"))
		require.NoError(t, err)
		require.Len(t, got, nCells, "every cell once: the torn one was measured again")
		stdout, _, code := runmatrix(t, time.Minute, "diff", clean, filepath.Join(out, "results.json"))
		require.Equal(t, 0, code, stdout)
	})

	t.Run("a failed journal write stops the run with a clear error", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "full")
		require.NoError(t, os.MkdirAll(out, 0o755))
		require.NoError(t, os.Symlink("/dev/full", filepath.Join(out, "results.jsonl")))
		_, stderr, code := runmatrix(t, 5*time.Minute, "run", "-f", spec, "--out", out, "--accel", "tcg", "--format", "none")
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, "results journal "+filepath.Join(out, "results.jsonl")+": write")
		require.Contains(t, stderr, "no space left on device")
		require.NotContains(t, stderr, "goroutine")
	})
}

func jsonLine(r results.Record) (string, error) {
	b, err := json.Marshal(r)
	return string(b) + "\n", err
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestCorruptCacheRefetched damages a cached download: the next use
// notices and downloads it again, instead of booting a wrong image.
func TestCorruptCacheRefetched(t *testing.T) {
	img, err := os.ReadFile(resolve(t, "debian:6.1").Path)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	ref := srv.URL + "/vmlinuz#sha256=" + sha256Hex(img)
	cache := t.TempDir()
	stdout, stderr, code := runmatrix(t, time.Minute, "kernels", "fetch", "--cache-dir", cache, ref)
	require.Equal(t, 0, code, stderr)
	fields := strings.Fields(strings.Split(strings.TrimSpace(stdout), "\n")[1])
	path := fields[len(fields)-1]
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, stderr, code = runmatrix(t, time.Minute, "kernels", "fetch", "--cache-dir", cache, ref)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "is damaged")
	require.Contains(t, stderr, "downloading it again")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, sha256Hex(img), sha256Hex(got))
}

// TestMergeMisuse: merge never overwrites an input and refuses what is not
// a result set of one plan.
func TestMergeMisuse(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	b := filepath.Join(dir, "b.json")
	r := &results.Results{Format: results.Format, Cells: []results.Result{{Key: results.Key{Case: "linger0.reset", Profile: "default", Kernel: "k"},
		Outcome: outcome.Outcome{Status: outcome.OK, Summary: "x=1"}, Reps: 1, Agree: 1}}}
	require.NoError(t, r.WriteJSON(a))
	r.Cells[0].Key.Kernel = "k2"
	require.NoError(t, r.WriteJSON(b))
	before, err := os.ReadFile(a)
	require.NoError(t, err)
	notResults := filepath.Join(dir, "n.json")
	require.NoError(t, os.WriteFile(notResults, []byte(`{"hello":"world"}`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"output not named", []string{"merge", a, b}, "merge needs -o OUT.json"},
		{"output is an input", []string{"merge", "-o", a, a, b}, "is also an input"},
		{"not a result set", []string{"merge", "-o", filepath.Join(dir, "m.json"), a, notResults}, "is not a runmatrix results.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runmatrix(t, time.Minute, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, stderr)
			after, err := os.ReadFile(a)
			require.NoError(t, err)
			require.Equal(t, before, after, "the input is untouched")
		})
	}
	_, stderr, code := runmatrix(t, time.Minute, "merge", "-o", filepath.Join(dir, "m.json"), a, b)
	require.Equal(t, 0, code, stderr)
}

// TestBadInputStartsNoVM feeds bad input to every command: each is one
// line on stderr, exit 2, and no QEMU is ever started (QEMU is a script
// that would leave a mark).
func TestBadInputStartsNoVM(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "qemu-started")
	qemu := filepath.Join(dir, "qemu")
	require.NoError(t, os.WriteFile(qemu, []byte("#!/bin/sh\ntouch "+mark+"\nexit 1\n"), 0o755))
	badExpect := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.WriteFile(badExpect, []byte("kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n    summary: x\n    kernel: '>=3.6'\n"), 0o644))
	tabbed := filepath.Join(dir, "m-tab.yaml")
	require.NoError(t, os.WriteFile(tabbed, []byte("kernels:\n\t- debian:6.1\n"), 0o644))
	// An output directory another run holds (its lock taken here).
	locked := filepath.Join(dir, "locked")
	require.NoError(t, os.MkdirAll(locked, 0o755))
	lf, err := os.Create(filepath.Join(locked, ".runmatrix.lock"))
	require.NoError(t, err)
	defer lf.Close()
	_, err = lf.WriteString("4242\n")
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	res := filepath.Join(dir, "r.json")
	require.NoError(t, (&results.Results{Format: results.Format, Cells: []results.Result{{Key: results.Key{Case: "linger0.reset", Profile: "default", Kernel: "k"},
		Outcome: outcome.Outcome{Status: outcome.OK, Summary: "x=1"}, Reps: 1, Agree: 1}}}).WriteJSON(res))
	k := resolve(t, "debian:6.1")
	img, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	arm64 := resolve(t, "debian:6.12/arm64") // in the cache: only QEMU is missing
	for _, tc := range []struct {
		name string
		args []string
		want string
		env  []string
	}{
		{name: "an image not of the arch its reference names", args: []string{"probe", k.Path + "/arm64"}, want: "the image is x86_64, not aarch64 as the reference says"},
		{name: "no QEMU for the kernel's arch", args: []string{"probe", arm64.Ref.Raw}, env: []string{"PATH=" + dir},
			want: "kernel debian:6.12/arm64 is aarch64: qemu-system-aarch64 is not installed (apt-get install qemu-system-arm)"},
		{"a file that is not a kernel", []string{"probe", "/etc/passwd"}, "not a Linux boot image runmatrix knows", nil},
		{"a wrong #sha256=", []string{"probe", "--cache-dir", dir, srv.URL + "/k#sha256=" + strings.Repeat("ab", 32)}, "checksum mismatch", nil},
		{"a negative --memory", []string{"run", "--memory", "-5", "--kernel", k.Path}, "--memory -5", nil},
		{"an over-long --append", []string{"run", "--append", strings.Repeat("x", 5000), "--kernel", k.Path, "--case", "linger0.reset"}, "shorten --append", nil},
		{"an unknown key in an expectation", []string{"run", "-f", badExpect}, `unknown key "kernel" in an expectation`, nil},
		{"a series no archive has", []string{"run", "--kernel", "debian:9.99", "--case", "linger0.reset"}, "no Debian archive", nil},
		{"evidence for a case the results lack", []string{"evidence", "--from", res, "--case", "tfo.sendto.blocking"}, "the results hold no cell of tfo.sendto.blocking", nil},
		{"an unknown accelerator", []string{"probe", "--accel", "hvf", k.Path}, "--accel \"hvf\"", nil},
		{"a mainline keyring that is no keyring", []string{"probe", "--cache-dir", dir, "--mainline-url", srv.URL, "--mainline-keyring", "/etc/passwd", "mainline:v3.6"}, "not an OpenPGP keyring", nil},
		{"a mainline range backwards", []string{"bisect", "--case", "linger0.reset", "--kernel", "mainline:v4.0..v3.0"}, "mainline:vA..vB", nil},
		{"an unknown command", []string{"foo"}, `unknown command "foo"`, nil},
		{"an --out that cannot be created", []string{"run", "--kernel", k.Path, "--case", "linger0.reset", "--out", "/proc/runmatrix/out"}, "output directory /proc/runmatrix/out cannot be created", nil},
		{"an --out another run holds", []string{"run", "--kernel", k.Path, "--case", "linger0.reset", "--out", locked}, "is in use by another runmatrix run (pid ", nil},
		{"cases run given two kernels", []string{"cases", "run", "--kernel", k.Path, "--kernel", "debian:6.12"}, "cases run boots one kernel, and 2 --kernel were given", nil},
		{"a tab in a matrix file", []string{"run", "-f", tabbed}, "m-tab.yaml:2: a tab in the indentation", nil},
		{"a case glob with a typo", []string{"run", "--kernel", k.Path, "--case", "tof.*"}, `no case matches "tof.*" (did you mean tfo.*?)`, nil},
		{"a reference with a typo", []string{"probe", "debain:6.1"}, "did you mean debian:?", nil},
		{"an unknown distribution", []string{"probe", "slackware:15.0"}, `unknown kind of kernel reference "slackware:"`, nil},
		{"a distribution with a typo", []string{"probe", "centoss:6.5"}, `unknown kind of reference (did you mean centos:?)`, nil},
		{"a CentOS release that does not exist", []string{"probe", "centos:6.11"}, "CentOS has no release 6.11 (releases: 6.0–6.10, 7.0–7.9, 8.0–8.5)", nil},
		{"an arch the release lacks", []string{"probe", "centos:7/i686"}, "CentOS 7 has no i686 kernels", nil},
		{"an Ubuntu release that does not exist", []string{"probe", "ubuntu:99.04"}, "Ubuntu has no release 99.04", nil},
		{"a mirror name that does not exist", []string{"probe", "--mirror", "rhel=http://x", "centos:6.5"}, "no mirror is named rhel", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--qemu", qemu)
			if (tc.args[0] == "run" || tc.args[0] == "evidence") && !slices.Contains(tc.args, "--out") {
				args = append(args, "--out", filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-")))
			}
			_, stderr, code := runmatrixEnv(t, 2*time.Minute, tc.env, args...)
			require.Equal(t, 2, code, stderr)
			// Progress lines (a download) may come first; the error is one line.
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			require.True(t, strings.HasPrefix(last, "runmatrix: "), stderr)
			require.Contains(t, last, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "runmatrix: "), "one error line: %s", stderr)
			require.NotContains(t, stderr, "goroutine")
			require.NoFileExists(t, mark, "no QEMU was started")
		})
	}
	// What is not bad input but starts nothing either. An unreachable
	// mirror is the world failing (exit 1, as a Debian mirror out of reach
	// always was), in one line that names the fix.
	_, stderr, code := runmatrix(t, 2*time.Minute, "run", "--qemu", qemu, "--cache-dir", dir, "--mirror", "centos=http://127.0.0.1:1",
		"--kernel", "centos:6.5", "--case", "linger0.reset", "--out", filepath.Join(dir, "unreachable"))
	require.Equal(t, 1, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "runmatrix: "), stderr)
	require.Contains(t, stderr, "point --mirror centos=URL (or RUNMATRIX_MIRRORS) at a mirror that carries it")
	require.NoFileExists(t, mark, "no QEMU was started")
	stdout, stderr, code := runmatrix(t, time.Minute, "--version")
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "runmatrix "), stdout)
	stdout, stderr, code = runmatrix(t, 2*time.Minute, "run", "--dry-run", "--qemu", qemu, "--kernel", k.Path, "--case", "tfo.*", "--out", filepath.Join(dir, "dry"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "plan: 22 cells (11 cases × 2 profiles) on 1 kernels, one boot each; nothing booted (--dry-run)")
	require.Contains(t, stdout, k.Image.Release)
	require.NoDirExists(t, filepath.Join(dir, "dry"), "a dry run writes nothing")
	require.NoFileExists(t, mark, "no QEMU was started")
}
