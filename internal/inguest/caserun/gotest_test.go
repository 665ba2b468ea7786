package caserun

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TestRunGoTest runs a real test binary's functions one by one, as a go
// test row does in a guest, and checks how each one ends.
func TestRunGoTest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("go.mod", "module example.com/p\n\ngo 1.23\n")
	write("p_test.go", `package p

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestPass(t *testing.T) { t.Log("fine") }
func TestFail(t *testing.T) { t.Fatal("broken on purpose") }
func TestSkip(t *testing.T) { t.Skip("not here") }
func TestSubs(t *testing.T) {
	t.Run("a", func(t *testing.T) {})
	t.Run("b", func(t *testing.T) { t.Error("b fails") })
}
func TestPanic(t *testing.T) { panic("boom") }
func TestHang(t *testing.T) { time.Sleep(time.Hour) }
func TestFlood(t *testing.T) {
	line := make([]byte, 1<<20)
	for i := range line {
		line[i] = 'x'
	}
	for i := 0; i < 64; i++ {
		os.Stdout.Write(line)
	}
}
func TestKilled(t *testing.T) { syscall.Kill(os.Getpid(), syscall.SIGSEGV); time.Sleep(time.Second) }
func TestData(t *testing.T) {
	if _, err := os.Stat("testdata/x"); err != nil {
		t.Fatal(err)
	}
}
`)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "testdata"), 0o755))
	write("testdata/x", "x")
	bin := filepath.Join(t.TempDir(), "p.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	gt := bootproto.GoTest{Import: "example.com/p", Bin: bin, Dir: dir, TimeoutS: 12}
	for _, tc := range []struct {
		test     string
		status   outcome.Status
		reported string
		steps    []string
		inOutput string
	}{
		{"TestPass", outcome.OK, "PASS", []string{"TestPass"}, "fine"},
		{"TestFail", outcome.OK, "FAIL", []string{"TestFail"}, "broken on purpose"},
		{"TestSkip", outcome.OK, "SKIP", []string{"TestSkip"}, "not here"},
		{"TestSubs", outcome.OK, "FAIL", []string{"TestSubs", "TestSubs/a", "TestSubs/b"}, "b fails"},
		{"TestPanic", outcome.Crashed, "", []string{"TestPanic"}, "boom"},
		{"TestHang", outcome.Timeout, "", nil, "TestHang"},
		{"TestKilled", outcome.Crashed, "", nil, "SIGSEGV"},
		{"TestData", outcome.OK, "PASS", []string{"TestData"}, ""},
		{"TestFlood", outcome.OK, "PASS", []string{"TestFlood"}, "xxxx"},
		{"TestNone", outcome.Error, "", nil, ""},
	} {
		t.Run(tc.test, func(t *testing.T) {
			var steps []string
			e := runGoTest(gt, tc.test, func(s outcome.Step) { steps = append(steps, s.Label) })
			require.Equal(t, tc.status, e.Status, "error %q output %s", e.Error, e.Output)
			require.Equal(t, tc.reported, e.Reported)
			require.Equal(t, tc.steps, steps)
			require.Contains(t, e.Output+e.Error, tc.inOutput)
		})
	}
}

// TestGoTestLookup: a cell is a go test row only when the host listed its
// ID; an ID shaped like one is not taken apart and guessed at.
func TestGoTestLookup(t *testing.T) {
	all := []bootproto.GoTest{
		{Import: "example.com/p", Rows: map[string]string{"gotest:example.com/p.TestA": "TestA"}},
		{Import: "example.com/p/q", Rows: map[string]string{"gotest:example.com/p/q.TestB": "TestB"}},
	}
	for _, tc := range []struct {
		id, pkg, test string
	}{
		{"gotest:example.com/p.TestA", "example.com/p", "TestA"},
		{"gotest:example.com/p/q.TestB", "example.com/p/q", "TestB"},
		{"gotest:example.com/p.TestB", "", ""},
		{"gotest:example.com/p.TestA/sub", "", ""},
		{"program:a", "", ""},
		{"tfo.sendto.blocking", "", ""},
	} {
		t.Run(tc.id, func(t *testing.T) {
			gt, name, ok := goTestIn(all, tc.id)
			require.Equal(t, tc.pkg != "", ok)
			require.Equal(t, tc.pkg, gt.Import)
			require.Equal(t, tc.test, name)
		})
	}
}
