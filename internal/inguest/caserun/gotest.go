package caserun

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Lookup returns the case with this ID: a case linked into this binary, or
// a go test row (gotest:IMPORT.TestName) of a test binary in the guest's
// manifest, as a case without Run.
func Lookup(id string) (*testcases.Case, error) {
	if gt, _, ok := goTestFor(id); ok {
		return &testcases.Case{ID: id, Title: "go test", Timeout: time.Duration(gt.TimeoutS) * time.Second}, nil
	}
	if pr, ok := programFor(id); ok {
		// The program's own deadline comes first; this one is the backstop.
		return &testcases.Case{ID: id, Title: "program", Timeout: time.Duration(pr.TimeoutS+10) * time.Second}, nil
	}
	return testcases.Lookup(id)
}

// goTestFor finds the test binary and test name of a go test row in the
// guest's manifest.
func goTestFor(id string) (bootproto.GoTest, string, bool) {
	return goTestIn(manifest[bootproto.GoTest](bootproto.GoTestManifestPath), id)
}

// goTestIn finds the package whose rows list id, and the test it runs.
func goTestIn(all []bootproto.GoTest, id string) (bootproto.GoTest, string, bool) {
	for _, gt := range all {
		if name, ok := gt.Rows[id]; ok {
			return gt, name, true
		}
	}
	return bootproto.GoTest{}, "", false
}

// manifest reads a JSON list the host shipped in the initramfs; a guest
// without it has none.
func manifest[T any](path string) []T {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var all []T
	if json.Unmarshal(b, &all) != nil {
		return nil
	}
	return all
}

// baseEnv is the environment a user's test binary or program starts with.
func baseEnv() []string {
	return []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/tmp", "TMPDIR=/tmp"}
}

// testLine is a go test -v result line, subtests indented; it may follow
// output the test wrote without a newline. It is compiled on first use:
// every case process starts this package, whose init took 0.7-2.5 ms of
// each under TCG with the expression compiled there.
var testLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^-])--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)$`)
})

// outputTail bounds the log a go test row keeps.
const outputTail = 16 << 10

// runGoTest runs one top-level test of gt's binary in its package
// directory, emitting a step for it and each subtest as go test reports
// them, and returns how it ended: its verdict, or a crash or timeout.
func runGoTest(gt bootproto.GoTest, name string, emit func(outcome.Step)) end {
	timeout := time.Duration(gt.TimeoutS) * time.Second
	args := []string{"-test.run=^" + regexp.QuoteMeta(name) + "$", "-test.v=true", "-test.count=1"}
	if timeout > 10*time.Second {
		// go test's own timeout fires first and names the hung test.
		args = append(args, "-test.timeout="+(timeout-5*time.Second).String())
	}
	cmd := exec.Command(gt.Bin, append(args, gt.Args...)...)
	cmd.Dir = gt.Dir
	cmd.Env = append(baseEnv(), "GOTRACEBACK=all")
	// The case process runs on one locked thread, so the test binary dies
	// with it when the watchdog kills the case.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return end{Status: outcome.Error, Error: fmt.Sprintf("pipe: %v", err)}
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return end{Status: outcome.Error, Error: fmt.Sprintf("start the test binary: %v", err)}
	}
	pw.Close()
	var tail tailBuffer
	tail.max = outputTail
	verdict, panicked, timedOut := "", "", false
	eachLine(pr, func(line string) {
		tail.Write([]byte(line + "\n"))
		switch {
		case strings.HasPrefix(line, "panic: test timed out"):
			timedOut = true
		case strings.HasPrefix(line, "panic: ") && panicked == "":
			panicked = line
		}
		m := testLine().FindStringSubmatch(line)
		if m == nil {
			return
		}
		secs, _ := strconv.ParseFloat(m[3], 64)
		emit(outcome.Step{Label: m[2], Call: "go test", Ret: 0, Detail: m[1], StartMS: ms(time.Since(start)) - secs*1000, DurMS: secs * 1000})
		if m[2] == name {
			verdict = m[1]
		}
	})
	pr.Close()
	werr := cmd.Wait()
	e := end{Output: tail.String()}
	var ee *exec.ExitError
	switch {
	case timedOut:
		e.Status, e.Error = outcome.Timeout, "go test's own timeout fired (-test.timeout)"
	case panicked != "":
		e.Status, e.Error = outcome.Crashed, "the test panicked: "+strings.TrimPrefix(panicked, "panic: ")
	case errors.As(werr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled():
		e.Status, e.Error = outcome.Crashed, "the test binary was killed by "+signalName(unix.Signal(ee.Sys().(syscall.WaitStatus).Signal()))
	case verdict != "":
		e.Status, e.Reported = outcome.OK, verdict
	case werr == nil:
		e.Status, e.Error = outcome.Error, fmt.Sprintf("the test binary ran no test named %s", name)
	default:
		e.Status, e.Error = outcome.Crashed, fmt.Sprintf("the test binary ended (%v) without a verdict for %s", werr, name)
	}
	return e
}

// maxLine bounds a line of a user's output: longer ones keep their end.
const maxLine = 64 << 10

// eachLine calls fn with each line r gives, without its newline, cut to
// its last maxLine bytes, so that output without newlines (a flood) can
// neither exhaust memory nor hide what stands at its end (go test's verdict
// after output without a newline).
func eachLine(r io.Reader, fn func(line string)) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := readLine(br, maxLine)
		if line == "" && err != nil {
			return
		}
		fn(line)
	}
}

// readLine returns the next line without its newline, cut to its last max
// bytes.
func readLine(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			line = append(line[:0], line[len(line)-max:]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimSuffix(string(line), "\n"), err
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
