package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// cli runs runmatrix in this process as a user would from a shell: its
// stdout, the lines it printed on stderr and its exit status. Nothing can
// boot: PATH holds no QEMU and no go command, and the cache and the run
// folders are the test's own.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	stdout, stderr, code = execute(args...)
	_, serr := os.Stat(filepath.Join(home, "state", "runmatrix", "runs"))
	require.True(t, os.IsNotExist(serr), "%v: a run folder was made for bad input", args)
	return stdout, stderr, code
}

// execute runs runmatrix in this process with args, as main does: its
// stdout, its stderr and its exit status.
func execute(args ...string) (stdout, stderr string, code int) {
	root := newRoot()
	root.SetArgs(args)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	code = finish(&errOut, root.ExecuteContext(context.Background()))
	return out.String(), errOut.String(), code
}

// TestBadInputOneLine: bad input to every command is one line on stderr
// that names the problem and the fix, exit status 2, nothing on stdout
// and no run started: without QEMU, in this process.
func TestBadInputOneLine(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuchcmd"}, `unknown command "nosuchcmd"`},
		{[]string{"run", "--kernel", "debian:6"}, `kernel "debian:6": want debian:SERIES (debian:6.1)`},
		{[]string{"run", "--kernel", "debain:6.1"}, `unknown kind of reference (did you mean debian:?)`},
		{[]string{"run", "--case", "tof.*", "--kernel", "debian:6.1"}, `no case matches "tof.*" (did you mean tfo.*?) (list them with`},
		{[]string{"run", "--profile", "turbo", "--kernel", "debian:6.1"}, `unknown profile "turbo" (use one of default`},
		{[]string{"run", "--profile", "tfo=3+ipv7", "--kernel", "debian:6.1"}, `unknown profile "tfo=3+ipv7"`},
		{[]string{"run", "--accel", "nope", "--kernel", "debian:6.1"}, `--accel "nope": use kvm, tcg or auto`},
		{[]string{"run", "--format", "xml", "--kernel", "debian:6.1"}, `--format "xml": use one of table`},
		{[]string{"run", "--nic", "foo", "--kernel", "debian:6.1"}, `--nic "foo": use one of`},
		{[]string{"run", "--memory", "1", "--kernel", "debian:6.1"}, `--memory 1: give at least 64 (MiB)`},
		{[]string{"run", "--jobs", "-1", "--kernel", "debian:6.1"}, `--jobs -1: give 0 (automatic) or more`},
		{[]string{"run", "--boot-timeout", "-1s", "--kernel", "debian:6.1"}, `timeouts must be positive durations`},
		{[]string{"run", "--repeat", "0", "--kernel", "debian:6.1"}, `repeat`},
		{[]string{"run", "-f", filepath.Join(empty, "m.yaml")}, `cannot read the matrix file`},
		{[]string{"run", "--cases", filepath.Join(empty, "none"), "--kernel", "debian:6.1"}, `not a directory: give the directory of a Go package that registers cases`},
		{[]string{"run", "--trace", "--kernel", "debian:6.1"}, `--trace records the socket calls of a program, and this run has none`},
		{[]string{"run", "--resume", "--out", empty}, `holds no run to continue`},
		{[]string{"run", "--kernel", "debian:6.1", "--", "no-such-program"}, `program no-such-program: not in PATH`},
		{[]string{"gotest"}, `gotest needs package patterns`},
		{[]string{"gotest", "--resume", "--out", empty, "./..."}, `holds no run to continue`},
		{[]string{"exec"}, `requires at least 1 arg`},
		{[]string{"probe"}, `requires at least 1 arg`},
		{[]string{"bisect", "--kernel", "debian:6.1"}, `bisect needs exactly one --case ID`},
		{[]string{"bisect", "--case", "tfo.sendto.blocking", "--kernel", "a"}, `bisect needs at least two kernels`},
		{[]string{"cases", "list", "--bogus"}, `unknown flag: --bogus`},
		{[]string{"cases", "run", "--case", "nope", "--local"}, `no case matches "nope"`},
		{[]string{"cases", "run", "--kernel", "debian:6.1", "--profile", "nope"}, `unknown profile "nope"`},
		{[]string{"diff", filepath.Join(empty, "a.json"), filepath.Join(empty, "b.json")}, `is not a runmatrix results.json`},
		{[]string{"diff", "--fail-on", "nope", "a", "b"}, `--fail-on "nope": use changed, added, missing or moved`},
		{[]string{"table", filepath.Join(empty, "a.json")}, `is not a runmatrix results.json`},
		{[]string{"merge", "-o", filepath.Join(empty, "x.json"), filepath.Join(empty, "a.json")}, `is not a runmatrix results.json`},
		{[]string{"kernels", "list", "zzz:1"}, `list debian: or mainline: patterns`},
		{[]string{"kernels", "snapshots", "nope"}, `unknown command "nope"`},
		// Flags live only on the commands that use them.
		{[]string{"probe", "--case-jobs", "4", "debian:6.1"}, `unknown flag: --case-jobs`},
		{[]string{"exec", "--shared", "--kernel", "debian:6.1", "prog"}, `unknown flag: --shared`},
		{[]string{"kernels", "list", "--memory", "256", "debian:"}, `unknown flag: --memory`},
		{[]string{"diff", "--accel", "tcg", "a", "b"}, `unknown flag: --accel`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := cli(t, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			require.Len(t, lines, 1, "one line: %q", stderr)
			require.True(t, strings.HasPrefix(lines[0], "runmatrix: "), lines[0])
			require.Contains(t, lines[0], tc.want)
		})
	}
}

// TestOptionalKernelsLeftOut: an optional kernel that cannot be had here
// (not cached under --offline, its mirror out of reach) is left out and
// the run goes on; a malformed one stops the run as bad input.
func TestOptionalKernelsLeftOut(t *testing.T) {
	r := &kernels.Resolver{
		Cache:   store.Cache{Dir: t.TempDir()},
		Offline: true,
		Debian:  kernels.Debian{Mirror: "http://127.0.0.1:1"},
		Mirrors: map[string]string{"alpine": "http://127.0.0.1:1"},
	}
	_, err := r.Resolve(context.Background(), "debian:6.1")
	require.True(t, cannotBeHad(err), "offline, not cached: %v", err)
	r.Offline = false
	_, err = r.Resolve(context.Background(), "alpine:3.18")
	require.True(t, cannotBeHad(err), "unreachable: %v", err)
	_, err = r.Resolve(context.Background(), "debian:6")
	require.False(t, cannotBeHad(err), "malformed: %v", err)
}

// TestDefaultsPassCheck: every command that boots guests passes its own
// flag check with no flag given, whether or not it has the cell flags (a
// probe without --case-jobs once refused its zero value).
func TestDefaultsPassCheck(t *testing.T) {
	for _, register := range []func(*guestFlags, *pflag.FlagSet){(*guestFlags).register, (*guestFlags).registerCells} {
		var gf guestFlags
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		register(&gf, fs)
		require.NoError(t, fs.Parse(nil))
		require.NoError(t, gf.check())
	}
}
