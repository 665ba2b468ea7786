package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TestEvidenceRefusesTamperedResults: a results.json whose step argument
// carries C (or whose kernel release does) is refused in one line naming the
// cell and field, exit 2, and nothing is written.
func TestEvidenceRefusesTamperedResults(t *testing.T) {
	cell := func(kernel, release, value string, ret int64, errno string) results.Result {
		return results.Result{
			Key:        results.Key{Case: "tfo.sendto.blocking", Profile: "default", Kernel: kernel},
			KernelInfo: results.Kernel{Ref: kernel, Release: release, Arch: "x86_64"},
			Outcome: outcome.Outcome{Status: outcome.OK, Summary: "sendto=" + map[bool]string{true: "-1 " + errno, false: "5"}[errno != ""], Steps: []outcome.Step{
				{Label: "socket", Call: "socket", Fd: "client", Args: []outcome.Arg{{Name: "type", Value: "SOCK_STREAM"}}, Ret: 3, RetFd: true},
				{Label: "setsockopt", Call: "setsockopt", Fd: "client", Args: []outcome.Arg{{Name: "level", Value: "SOL_TCP"}, {Name: "optname", Value: "TCP_NODELAY"}, {Name: "value", Value: value}}},
				{Label: "sendto", Call: "sendto", Fd: "client", Key: true, Ret: ret, Errno: errno,
					Args: []outcome.Arg{{Name: "buf", Value: `"hello"`}, {Name: "len", Value: "5"}, {Name: "flags", Value: "MSG_FASTOPEN"}, {Name: "addr", Value: "127.0.0.1:1"}}},
			}},
			Reps: 1, Agree: 1,
		}
	}
	for _, tc := range []struct {
		name, value, release, want string
	}{
		{"C in a step argument", `1; puts("X"); exit(42); (void)0`, "6.1.0-1-amd64", `tfo.sendto.blocking@default on debian:6.1 (6.1.0-1-amd64): steps[1].args.value is "1; puts(\"X\"); exit(42); (void)0", not an integer`},
		{"C in the kernel's release", "1", `6.1.0 */ int main(){system("id");} /*`, `cells[0] (tfo.sendto.blocking default on debian:6.1): kernel_info.release is "6.1.0 */ int main(){system(\"id\");} /*", not a kernel release`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res := results.Results{Format: results.Format, Cells: []results.Result{
				cell("debian:6.1", tc.release, tc.value, -1, "EPIPE"),
				cell("debian:6.12", "6.12.0-1-amd64", "1", 5, ""),
			}}
			b, err := json.Marshal(res)
			require.NoError(t, err)
			from := filepath.Join(dir, "results.json")
			require.NoError(t, os.WriteFile(from, b, 0o644))
			out := filepath.Join(dir, "report")
			root := newRoot()
			root.SetArgs([]string{"evidence", "--from", from, "--case", "tfo.sendto.blocking", "--out", out})
			root.SetOut(new(discard))
			err = root.Execute()
			require.Error(t, err)
			require.Equal(t, 2, exitCode(err))
			require.Contains(t, err.Error(), tc.want)
			require.NoDirExists(t, out, "nothing is written")
		})
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

// TestRerunRunsTheProgram: REPORT.md's re-run line for a program carries
// the program (by absolute path), its arguments and --trace; it said "no
// case matches" when pasted. It has no --out: pasted in the report's own
// folder, which holds results, it failed; each run now gets a folder.
func TestRerunRunsTheProgram(t *testing.T) {
	kernel := filepath.Join(t.TempDir(), "vmlinuz-old")
	require.NoError(t, os.WriteFile(kernel, []byte("a kernel file"), 0o644))
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, kernel) // the file as named from here
	require.NoError(t, err)
	f := runFlags{kernels: []string{"debian:6.1", rel}, out: "report", trace: true, program: []string{"./prog", "--port", "80"}}
	got := rerun(f, "")
	abs, err := filepath.Abs("./prog")
	require.NoError(t, err)
	require.Equal(t, []string{"runmatrix", "evidence", "--kernel", "debian:6.1", "--kernel", kernel, "--trace", "--", abs, "--port", "80"}, got, "the line runs wherever it is pasted")
}

// TestProgramSelection: a matrix's program:GLOB selects its programs
// whatever their IDs, and a program no glob selects is refused (it was
// silently skipped).
func TestProgramSelection(t *testing.T) {
	s := &spec.Spec{Source: "m.yaml", Cases: []string{"tfo.*", "program:mail*"}, Programs: []spec.Program{{ID: "mailer.tfo"}, {ID: "program:mailx"}}}
	got, err := selectPrograms(s)
	require.NoError(t, err)
	require.Equal(t, []string{"tfo.*", "mailer.tfo", "program:mailx"}, got)

	s.Programs = append(s.Programs, spec.Program{ID: "forgotten"})
	_, err = selectPrograms(s)
	require.ErrorContains(t, err, "m.yaml: program forgotten is selected by none of cases: tfo.*, program:mail*")
	require.Equal(t, 2, exitCode(err))

	s.Cases = nil
	got, err = selectPrograms(s)
	require.NoError(t, err)
	require.Empty(t, got, "no cases: key: every case and program")

	s.Cases = []string{"*"}
	got, err = selectPrograms(s)
	require.NoError(t, err)
	require.Equal(t, []string{"*"}, got)
}

// TestProgramPathAndMode: a bare program name is looked up in PATH, and a
// file without its execute bit is refused before anything boots.
func TestProgramPathAndMode(t *testing.T) {
	f := runFlags{program: []string{"true"}, progTimeout: time.Minute}
	p, err := f.cliProgram()
	require.NoError(t, err)
	want, err := exec.LookPath("true")
	require.NoError(t, err)
	require.Equal(t, want, p.Path)
	f.program = []string{"no-such-command-anywhere"}
	_, err = f.cliProgram()
	require.ErrorContains(t, err, "not in PATH")
	require.Equal(t, 2, exitCode(err))

	plain := filepath.Join(t.TempDir(), "prog")
	require.NoError(t, os.WriteFile(plain, []byte("#!/bin/sh\necho hi\n"), 0o644))
	_, err = userprog.Inspect(plain)
	require.ErrorContains(t, err, "is not an executable file")
}

// TestWrongArgumentCountsExit2: a wrong number of arguments is bad input
// (exit 2) on every command that counts them, with the usage line; it
// exited 1, which for diff means "a cell changed". So is --repeat 0.
func TestWrongArgumentCountsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"diff", "a"}, {"diff"}, {"diff", "a", "b", "c"}, {"table"}, {"probe"}, {"exec"},
		{"merge", "-o", "x.json"}, {"kernels", "fetch"}, {"run", "--repeat", "0", "--dry-run"},
	} {
		root := newRoot()
		root.SetArgs(args)
		root.SetOut(new(discard))
		err := root.Execute()
		require.Error(t, err, "%v", args)
		require.Equal(t, 2, exitCode(err), "%v: %v", args, err)
	}
}

// TestGoFitsKernel: exec refuses a binary built by Go 1.24 or later for a
// kernel before 3.2 (its runtime needs 3.2), naming the toolchain to use.
func TestGoFitsKernel(t *testing.T) {
	for _, tc := range []struct {
		goVersion, release, err string
	}{
		{"go1.26.8", "2.6.32-5-amd64", "was built by go1.26.8, which needs Linux 3.2, and kernel k is 2.6.32-5-amd64: build it with GOTOOLCHAIN=go1.23.12"},
		{"go1.23.12", "2.6.32-5-amd64", ""},
		{"go1.26.8", "3.2.0-4-amd64", ""},
		{"", "2.6.32-5-amd64", ""},
	} {
		err := goFitsKernel("prog", tc.goVersion, "k", tc.release)
		if tc.err == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, tc.err)
		require.True(t, badInput(err))
	}
}

// TestUsageMessagesSayTheFix: a bare scheme to kernels list shows a real
// range to give ("(ubuntu:..…)" before), and bisect with a glob asks for
// one exact ID ("unknown case" before).
func TestUsageMessagesSayTheFix(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"kernels", "list", "ubuntu:"}, "give a range of releases, e.g. ubuntu:16.04..22.04"},
		{[]string{"bisect", "--case", "tfo.sendto.*", "--kernel", "a", "--kernel", "b"}, "give one exact ID, not the glob \"tfo.sendto.*\" (it matches 4: "},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		root.SetOut(new(discard))
		root.SetErr(new(discard))
		err := root.Execute()
		require.Error(t, err, "%v", tc.args)
		require.Equal(t, 2, exitCode(err), "%v: %v", tc.args, err)
		require.ErrorContains(t, err, tc.want)
	}
}
