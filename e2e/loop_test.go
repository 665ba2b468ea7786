package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

const loopCase = `package mycase

import (
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases"
)

func init() {
	testcases.Register(&testcases.Case{
		ID:     "loop.half-close",
		Title:  "shutdown(SHUT_WR) on the client: the server reads EOF",
		Expect: []testcases.Expect{{Summary: "LABEL=0", Source: "shutdown(2)"}},
		Run: func(t *testcases.T) error {
			cfd, sfd, _, err := t.Pair()
			if err != nil {
				return err
			}
			if c := t.Shutdown(testcases.Client, cfd, unix.SHUT_WR); !c.OK() {
				return testcases.SetupError(c)
			}
			t.Recv(testcases.Server, sfd, 16, 0).Key("LABEL")
			return nil
		},
	})
}
`

// listing is every file under dir, for "the module is untouched".
func listing(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p+" "+fi.ModTime().String())
		}
		return err
	}))
	sort.Strings(out)
	return out
}

// TestEditRunLoop is a user writing a case in their own module: the same
// run twice works (each run a folder of its own, runs/latest the newest,
// nothing written in the module); table and JUnit on its results show the
// case's expectations without --cases; an interrupted run resumed with no
// flags finishes its own plan; resumed after the case's source changed,
// its cells are measured again and the new summary shows.
func TestEditRunLoop(t *testing.T) {
	mod := userModule(t, "1.23.0", map[string]string{"mycase/mycase.go": strings.ReplaceAll(loopCase, "LABEL", "recv")})
	state := t.TempDir()
	writeCase := func(label string) {
		require.NoError(t, os.WriteFile(filepath.Join(mod, "mycase", "mycase.go"), []byte(strings.ReplaceAll(loopCase, "LABEL", label)), 0o644))
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return stderr.String(), code
	}
	latest := filepath.Join(state, "runmatrix", "runs", "latest")
	before := listing(t, mod)
	var folders []string
	for i := 0; i < 2; i++ {
		stderr, code := run("run", "--cases", "./mycase", "--kernel", "debian:6.12", "--format", "none")
		require.Equal(t, 0, code, "run %d: %s", i+1, stderr)
		target, err := filepath.EvalSymlinks(latest)
		require.NoError(t, err)
		require.Contains(t, stderr, "results: "+target)
		folders = append(folders, target)
	}
	require.NotEqual(t, folders[0], folders[1], "each run a folder of its own")
	require.Equal(t, before, listing(t, mod), "nothing written in the module")

	// table on them, in a process that knows nothing of the case.
	stdout, stderr, code := runmatrix(t, time.Minute, "table", filepath.Join(latest, "results.json"), "--format", "json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, `"summary": "recv=0",`+"\n"+`        "source": "shutdown(2)",`+"\n"+`        "pass": true`)
	junit, stderr, code := runmatrix(t, time.Minute, "table", filepath.Join(latest, "results.json"), "--format", "junit")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, junit, `name="loop.half-close [default]"`)
	require.Contains(t, junit, `failures="0"`)

	// Interrupted: the journal holds one cell of two; --resume, no flags.
	stderr, code = run("run", "--cases", "./mycase", "--kernel", "debian:6.1", "--kernel", "debian:6.12", "--format", "none")
	require.Equal(t, 0, code, stderr)
	journal := filepath.Join(latest, "results.jsonl")
	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 2)
	require.NoError(t, os.WriteFile(journal, []byte(lines[0]), 0o644))
	stderr, code = run("run", "--resume", "--format", "none")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resuming: 1 of 2 cells already measured")
	got, _ := summaries(t, filepath.Join(latest, "results.json"))
	require.Equal(t, map[string]string{"debian:6.1": "recv=0", "debian:6.12": "recv=0"}, got["loop.half-close"], "its own plan, not the default matrix")

	// The case's source changes: its cells are measured again.
	writeCase("eof")
	stderr, code = run("run", "--resume", "--format", "none")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resuming: 0 of 2 cells already measured")
	require.Contains(t, stderr, "2 cells measured again")
	got, res := summaries(t, filepath.Join(latest, "results.json"))
	require.Equal(t, map[string]string{"debian:6.1": "eof=0", "debian:6.12": "eof=0"}, got["loop.half-close"])
	for _, c := range res.Cells {
		require.True(t, c.Expect.Pass, c.Kernel)
	}
	recs, err := results.ReadJournal(journal)
	require.NoError(t, err)
	require.Len(t, recs, 4, "the old records stay in the journal, the results are the new ones")

	// A plan flag that differs is refused in one line.
	stderr, code = run("run", "--resume", "--kernel", "debian:6.1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "whose --kernel was debian:6.1, debian:6.12, not debian:6.1")
}

// TestDryRunChecks: --dry-run refuses, with exit 2 and the run's own
// message, what the run refuses before booting (an amd64 program for an
// i686 kernel; a module that needs Go 1.26 with a 2.6.32 kernel), and
// gotest has a --dry-run that builds the tests and boots nothing.
func TestDryRunChecks(t *testing.T) {
	dir := t.TempDir()
	prog := build(t, dir, "exit3.c", "exit3", "musl-gcc", "-static")
	_, dryErr, code := runmatrix(t, 5*time.Minute, "run", "--dry-run", "--kernel", "debian:6.1@bookworm/i686", "--", prog)
	require.Equal(t, 2, code, dryErr)
	_, runErr, code := runmatrix(t, 5*time.Minute, "run", "--out", t.TempDir(), "--kernel", "debian:6.1@bookworm/i686", "--", prog)
	require.Equal(t, 2, code, runErr)
	require.Equal(t, lastLine(runErr), lastLine(dryErr), "the dry run says what the run says")

	// A 2.6.32 image (its header is all a dry run reads) and a module whose
	// go line asks for Go 1.26.
	old := filepath.Join(dir, "vmlinuz-2.6.32")
	require.NoError(t, os.WriteFile(old, archivetest.BzImage("2.6.32-5-amd64 (debian-kernel@lists.debian.org) #1 SMP", false, make([]byte, 4096)), 0o644))
	mod := userModule(t, "1.26", map[string]string{"mycase/mycase.go": strings.ReplaceAll(loopCase, "LABEL", "recv")})
	_, stderr, code := runmatrix(t, 5*time.Minute, "run", "--dry-run", "--cases", filepath.Join(mod, "mycase"), "--kernel", old)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "needs Go 1.26 (its go.mod), and kernel "+old+" (2.6.32-5-amd64) needs Go 1.23 or older")

	stdout, stderr, code := runmatrix(t, 5*time.Minute, "gotest", "--dry-run", "--kernel", "debian:6.12", "../examples/gotest")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "nothing booted (--dry-run)")
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestExecSharesBigFolders: exec from a package folder larger than an
// initramfs carries (a 100 MiB testdata file) shares the folder read-only
// over 9p instead of refusing it; the program reads it in place.
func TestExecSharesBigFolders(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(t.TempDir(), "readbig")
	src := filepath.Join(t.TempDir(), "readbig.c")
	require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
#include <sys/stat.h>
int main(void) {
	struct stat st;
	char b[16] = {0};
	FILE *f = fopen("testdata/small.txt", "r");
	if (stat("testdata/big", &st) || !f || !fgets(b, sizeof b, f)) { perror("read"); return 1; }
	printf("big=%lld small=%s", (long long)st.st_size, b);
	return 0;
}
`), 0o644))
	out, err := exec.Command("musl-gcc", "-static", "-o", prog, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "testdata"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "testdata", "small.txt"), []byte("hello\n"), 0o644))
	f, err := os.Create(filepath.Join(dir, "testdata", "big"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(100<<20)) // sparse: 100 MiB to the guest, nothing on disk
	require.NoError(t, f.Close())
	cmd := exec.Command(binary, "exec", "--kernel", "debian:6.12", prog)
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Equal(t, "big=104857600 small=hello\n", stdout.String())
	require.Contains(t, stderr.String(), "shared read-only over 9p")
}
