package evidence

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/inguest/caserun"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// The test binary doubles as the case process for caserun.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == caserun.ChildCommand {
		os.Exit(caserun.Child(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

// TestReproMatchesAgent runs cases on the host kernel with the agent's
// machinery, generates repro.c from each trace, builds it statically (with
// cc, and musl-gcc when installed), runs it in a fresh network namespace
// and requires the same outcome line.
func TestReproMatchesAgent(t *testing.T) {
	needRoot(t)
	compilers := []string{"cc"}
	if _, err := exec.LookPath("musl-gcc"); err == nil {
		compilers = append(compilers, "musl-gcc")
	}
	r := &caserun.Runner{Exe: os.Args[0]}
	for _, tc := range []struct{ id, profile string }{
		{"tfo.sendto.nonblocking", "tfo=3"},
		{"tfo.sendto.blocking", "tfo=0"},
		{"tfo.sendmsg.no-name", "tfo=3"},
		{"tfo.sendmsg.with-name", "tfo=3"},
		{"tfo.server.data-in-syn", "tfo=0x207"},
		{"tfo.listener-option", "default"},
		{"epipe.write-after-close", "default"},
		{"linger0.reset", "default"},
		{"flags.unknown.sendmsg", "default"},
		{"defer-accept.no-data", "default"},
	} {
		t.Run(tc.id+" "+tc.profile, func(t *testing.T) {
			c, err := testcases.Lookup(tc.id)
			require.NoError(t, err)
			p, err := testcases.ParseProfile(tc.profile)
			require.NoError(t, err)
			o := r.Run(context.Background(), c, p)
			require.Equal(t, "ok", string(o.Status), o.Error)
			src, err := Repro(c, p, o, "the host kernel", Sides{Old: o.Summary, OldOn: "the host kernel", New: "x=1", NewOn: "another kernel"})
			require.NoError(t, err)
			dir := t.TempDir()
			cfile := filepath.Join(dir, "repro.c")
			require.NoError(t, os.WriteFile(cfile, []byte(src), 0o644))
			for _, cc := range compilers {
				bin := filepath.Join(dir, "repro-"+cc)
				out, err := exec.Command(cc, "-static", "-Wall", "-Werror", "-o", bin, cfile).CombinedOutput()
				require.NoError(t, err, "%s:\n%s", cc, out)
				got, err := exec.Command("unshare", "-n", bin).Output()
				require.NoError(t, err, "the old outcome exits 0")
				lines := strings.Split(strings.TrimSpace(string(got)), "\n")
				require.Equal(t, "RUNMATRIX-SUMMARY: "+o.Summary, lines[0], "%s-built repro vs the agent", cc)
				require.Equal(t, "RUNMATRIX-VERDICT: the old outcome, as on the host kernel (exit 0)", lines[1])
				err = exec.Command("unshare", "-n", bin, "--new-is-good").Run()
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee, "with --new-is-good the old outcome exits 1")
				require.Equal(t, 1, ee.ExitCode())
			}
		})
	}
}

// needRoot skips a test that runs cases on the host kernel unless root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cases run on the host kernel in network namespaces, with sysctls and raw sockets")
	}
}

// TestReproRefusesRawCases runs a raw-segment case on the host (root) and
// checks no C reproducer is claimed for it.
func TestReproRefusesRawCases(t *testing.T) {
	needRoot(t)
	c, err := testcases.Lookup("reconnect.syn-in-window")
	require.NoError(t, err)
	p, _ := testcases.ParseProfile("default")
	o := (&caserun.Runner{Exe: os.Args[0]}).Run(context.Background(), c, p)
	_, err = Repro(c, p, o, "host", Sides{})
	require.ErrorContains(t, err, "raw TCP segments")
}

// TestTracedReplayTakesSIGPIPEAsTheProgramDid replays, as a traced
// program's, the calls of epipe.write-after-close measured on the host: a
// program that ignored SIGPIPE (no +SIGPIPE in its trace) and one that had
// it at its default (+SIGPIPE). Each repro.c prints the program's summary
// and exits 0, never killed by SIGPIPE; before, the replay ran with SIGPIPE
// at its default and died of it (so git bisect run aborted).
func TestTracedReplayTakesSIGPIPEAsTheProgramDid(t *testing.T) {
	needRoot(t)
	c, err := testcases.Lookup("epipe.write-after-close")
	require.NoError(t, err)
	p, _ := testcases.ParseProfile("default")
	o := (&caserun.Runner{Exe: os.Args[0]}).Run(context.Background(), c, p)
	require.Equal(t, "ok", string(o.Status), o.Error)
	require.Contains(t, o.Summary, "EPIPE +SIGPIPE")
	for _, disp := range []string{"ignored", "default"} {
		t.Run(disp, func(t *testing.T) {
			tr := outcome.Outcome{Status: outcome.OK, Reported: "exit=0", Summary: "exit=0"}
			for _, s := range o.Steps {
				s.Key = false
				if s.Call == "write" {
					s.Args = append(append([]outcome.Arg(nil), s.Args...), outcome.Arg{Name: "sigpipe", Value: disp})
					if disp == "ignored" {
						s.Signals = nil // an ignored SIGPIPE is never raised
					}
				}
				tr.Steps = append(tr.Steps, s)
			}
			src, err := Repro(c, p, tr, "the host kernel", Sides{Old: "exit=0", OldOn: "the host kernel"})
			require.NoError(t, err)
			require.Equal(t, disp == "ignored", strings.Contains(src, "sigpipe_ignored(1)"))
			dir := t.TempDir()
			cfile := filepath.Join(dir, "repro.c")
			require.NoError(t, os.WriteFile(cfile, []byte(src), 0o644))
			bin := filepath.Join(dir, "repro")
			out, err := exec.Command("cc", "-static", "-Wall", "-Werror", "-o", bin, cfile).CombinedOutput()
			require.NoError(t, err, "%s", out)
			got, err := exec.Command("unshare", "-n", bin).Output()
			require.NoError(t, err, "exit 0, not killed: %s", got)
			require.Contains(t, string(got), "RUNMATRIX-SUMMARY: exit=0\n")
		})
	}
}
