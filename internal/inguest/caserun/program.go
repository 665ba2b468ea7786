package caserun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// ProgChildCommand makes the agent the init of a program's own PID and
// mount namespaces (internal to a program case).
const ProgChildCommand = "prog-child"

// programFor finds a program case in the guest's manifest.
func programFor(id string) (bootproto.Program, bool) {
	for _, p := range manifest[bootproto.Program](bootproto.ProgramManifestPath) {
		if p.ID == id {
			return p, true
		}
	}
	return bootproto.Program{}, false
}

// progMessage is one JSON line from the program's init: a traced step,
// or how the program ended.
type progMessage struct {
	Step   *outcome.Step `json:"step,omitempty"`
	Status *progStatus   `json:"status,omitempty"`
}

// progStatus is how the program ended, as its init reports it.
type progStatus struct {
	Exit   *int   `json:"exit,omitempty"`
	Signal string `json:"signal,omitempty"`
	// Killed says why the init killed everything the program started.
	Killed string `json:"killed,omitempty"`
	// Trace says what the tracer saw.
	Trace string `json:"trace,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxSteps bounds the traced steps a cell keeps.
const maxSteps = 10000

// maxProcs bounds the processes a program may have at once; past it (or
// below memLeft) the init kills every process in its namespace, so that
// the guest stays sound for the cells after it.
const maxProcs = 256

// Bounds on what a program leaves on the host side of its cell.
const (
	stdoutTail = 8 << 10
	stderrTail = 4 << 10
)

// runProgram runs a program case: its own PID and mount namespaces (so
// that kill -1, a fork bomb or a full /tmp stay inside), its working
// directory on a bounded tmpfs, its stdout and stderr read to bounded
// tails. Its summary is its last RUNMATRIX-SUMMARY line, else exit=N or
// signal=NAME; past its timeout the whole namespace is killed.
func runProgram(pr bootproto.Program, emit func(outcome.Step)) end {
	var notes []string
	for _, m := range pr.Modules {
		if !moduleLoaded(m) {
			notes = append(notes, "module "+m+": not loaded (this kernel has no such module, or it is built in)")
		}
	}
	e := runProgramIn(pr, emit, programNamespaces)
	e.Notes = append(notes, e.Notes...)
	return e
}

// moduleLoaded reports whether a kernel module is loaded (/proc/modules)
// or otherwise known to sysfs.
func moduleLoaded(name string) bool {
	name = strings.ReplaceAll(name, "-", "_")
	if _, err := os.Stat("/sys/module/" + name); err == nil {
		return true
	}
	b, _ := os.ReadFile("/proc/modules")
	return strings.HasPrefix(string(b), name+" ") || strings.Contains(string(b), "\n"+name+" ")
}

// programNamespaces are the namespaces a program's init is started in,
// the first set the kernel has: a PID and a mount namespace, else (no
// CONFIG_PID_NS) a mount namespace alone.
var programNamespaces = []uintptr{syscall.CLONE_NEWNS | syscall.CLONE_NEWPID, syscall.CLONE_NEWNS}

func runProgramIn(pr bootproto.Program, emit func(outcome.Step), namespaces []uintptr) end {
	self, err := os.Executable()
	if err != nil {
		return end{Status: outcome.Error, Error: err.Error()}
	}
	spec, err := json.Marshal(pr)
	if err != nil {
		return end{Status: outcome.Error, Error: err.Error()}
	}
	var cmd *exec.Cmd
	var outR, errR, stR *os.File
	var flags uintptr
	// A kernel without PID namespaces (CONFIG_PID_NS unset, as OpenWrt
	// builds) still runs the program: in a mount namespace of its own, in a
	// process group of its own, and the cell says what it shared.
	for _, flags = range namespaces {
		var outW, errW, stW *os.File
		if outR, outW, err = os.Pipe(); err == nil {
			if errR, errW, err = os.Pipe(); err == nil {
				stR, stW, err = os.Pipe()
			}
		}
		if err != nil {
			return end{Status: outcome.Error, Error: fmt.Sprintf("pipe: %v", err)}
		}
		cmd = exec.Command(self, ProgChildCommand, string(spec))
		cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = outW, errW, []*os.File{stW}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		outW.Close()
		errW.Close()
		stW.Close()
		if err == nil {
			break
		}
		outR.Close()
		errR.Close()
		stR.Close()
	}
	if err != nil {
		return end{Status: outcome.Error, Error: fmt.Sprintf("start the program's namespaces: %v", err)}
	}
	timedOut := false
	var mu sync.Mutex
	timer := time.AfterFunc(time.Duration(pr.TimeoutS)*time.Second, func() {
		mu.Lock()
		timedOut = true
		mu.Unlock()
		cmd.Process.Kill() // the namespace's init: every process in it dies
	})
	var wg sync.WaitGroup
	var stdout, stderr tailBuffer
	stdout.max, stderr.max = stdoutTail, stderrTail
	summary := ""
	wg.Add(2)
	go func() {
		defer wg.Done()
		eachLine(outR, func(line string) {
			stdout.Write([]byte(line + "\n"))
			if s, ok := strings.CutPrefix(line, bootproto.SummaryPrefix); ok {
				summary = strings.TrimSpace(s)
			}
		})
	}()
	go func() {
		defer wg.Done()
		io.Copy(&stderr, errR)
	}()
	var st progStatus
	stErr := io.ErrUnexpectedEOF
	dec := json.NewDecoder(stR)
	for steps := 0; ; {
		var m progMessage
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.Step != nil && steps < maxSteps {
			emit(*m.Step)
			steps++
		}
		if m.Status != nil {
			st, stErr = *m.Status, nil
			break
		}
	}
	werr := cmd.Wait()
	timer.Stop()
	// The namespace dies with its init; its last processes may hold the
	// pipes a moment longer, but never the cell.
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(3 * time.Second):
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()
	stR.Close()
	e := end{Output: stdout.String(), Stderr: stderr.String()}
	if flags&syscall.CLONE_NEWPID == 0 {
		e.Notes = append(e.Notes, noPIDNamespace)
	}
	if st.Trace != "" {
		e.Notes = append(e.Notes, st.Trace)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case timedOut:
		e.Status, e.Error = outcome.Timeout, fmt.Sprintf("killed after %ds with every process it started", pr.TimeoutS)
	case stErr != nil:
		e.Status, e.Error = outcome.Crashed, fmt.Sprintf("the program's init ended without a status (%v): the program may have exhausted the guest", werr)
	case st.Killed != "":
		e.Status, e.Error = outcome.Crashed, "killed with everything it started: "+st.Killed
	case st.Error != "":
		e.Status, e.Error = outcome.Error, st.Error
	case summary != "":
		e.Status, e.Reported = outcome.OK, summary
		e.Notes = append(e.Notes, "summary: the program's own "+strings.TrimSpace(bootproto.SummaryPrefix)+" line")
		if st.Exit != nil {
			e.Notes = append(e.Notes, "exit status "+strconv.Itoa(*st.Exit))
		}
	case st.Signal != "":
		e.Status, e.Reported = outcome.OK, "signal="+st.Signal
		e.Notes = append(e.Notes, "summary: the signal that killed the program")
	case st.Exit != nil:
		e.Status, e.Reported = outcome.OK, "exit="+strconv.Itoa(*st.Exit)
		e.Notes = append(e.Notes, "summary: the program's exit status")
	}
	return e
}

// noPIDNamespace is the note of a program run on a kernel without PID
// namespaces.
const noPIDNamespace = "isolation: no PID namespace on this kernel (CONFIG_PID_NS): the program ran in a process group of its own but shared the guest's process table, so what it counts or signals beyond its group (kill -1) is the guest's"

// ProgChild is the init of a program's namespaces: it mounts a fresh /proc,
// a bounded /tmp and a bounded copy of the program's directory, starts the
// program (never as PID 1, whose signals would be ignored by default),
// reaps everything, and reports the program's end as JSON on fd 3.
func ProgChild(args []string) int {
	enc := json.NewEncoder(os.NewFile(3, "status"))
	var tr *tracer
	report := func(st progStatus) int {
		if tr != nil {
			st.Trace = tr.summary()
		}
		enc.Encode(progMessage{Status: &st})
		return 0
	}
	if len(args) != 1 {
		return report(progStatus{Error: "usage: prog-child PROGRAM-JSON"})
	}
	var pr bootproto.Program
	if err := json.Unmarshal([]byte(args[0]), &pr); err != nil {
		return report(progStatus{Error: err.Error()})
	}
	work, err := sandbox(pr)
	if err != nil {
		return report(progStatus{Error: err.Error()})
	}
	bin := filepath.Join(work, pr.Bin)
	argv := append([]string{bin}, pr.Args...)
	if pr.Interp != "" {
		argv = append([]string{pr.Interp}, argv...)
	}
	// A traced program is started by the launcher, which installs the
	// seccomp filter where the kernel takes one and reports on launchR.
	var launchR *os.File
	launcher := bytes.Buffer{}
	launched := make(chan struct{})
	filtered, unfiltered := false, ""
	if pr.Trace {
		switch {
		case pr.TraceEvery:
			unfiltered = " (asked for)"
		case !seccompFilters():
			unfiltered = " (no seccomp filter on this kernel)"
		default:
			filtered = true
			argv = append([]string{"/proc/self/exe", TraceExecCommand}, argv...)
		}
	}
	env := append(baseEnv(), pr.Env...)
	if pr.LibDir != "" {
		env = append(env, "LD_LIBRARY_PATH="+pr.LibDir)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = work, env
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// The case's thread blocks SIGPIPE, and a mask outlives fork and exec:
	// the program starts with every signal unblocked, as from a shell.
	runtime.LockOSThread()
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &unix.Sigset_t{}, nil); err != nil {
		return report(progStatus{Error: fmt.Sprintf("unblock signals: %v", err)})
	}
	// The status pipe is this init's alone.
	unix.CloseOnExec(3)
	// PID 1 is a PID namespace's init; elsewhere (no CONFIG_PID_NS) the
	// program gets a process group of its own, which is what is killed
	// in place of the namespace, and dies with this init.
	ownNS := os.Getpid() == 1
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: pr.Trace, Setpgid: !ownNS}
	if !ownNS {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if filtered {
		var launchW *os.File
		if launchR, launchW, err = os.Pipe(); err != nil {
			return report(progStatus{Error: fmt.Sprintf("pipe: %v", err)})
		}
		cmd.ExtraFiles = []*os.File{launchW}
		defer launchR.Close()
		defer launchW.Close()
		go func() { io.Copy(&launcher, io.LimitReader(launchR, 4096)); close(launched) }()
	}
	if err := cmd.Start(); err != nil {
		return report(progStatus{Error: fmt.Sprintf("start %s: %v", pr.Bin, unwrapPath(err))})
	}
	if launchR != nil {
		cmd.ExtraFiles[0].Close() // the launcher's alone now
	}
	// everyone is what a kill of "everything the program started" reaches:
	// the namespace (-1 from its init), else the program's process group.
	everyone := -1
	if !ownNS {
		everyone = -cmd.Process.Pid
		defer unix.Kill(everyone, unix.SIGKILL) // what the program left behind
	}
	if pr.Trace {
		tr = newTracer(cmd.Process.Pid, func(s outcome.Step) { enc.Encode(progMessage{Step: &s}) })
		tr.filtered, tr.launching, tr.unfiltered = filtered, filtered, unfiltered
		var ws unix.WaitStatus
		if _, err := unix.Wait4(cmd.Process.Pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
			return report(progStatus{Error: fmt.Sprintf("trace %s: it did not stop at its start (%v)", pr.Bin, err)})
		}
		if err := unix.PtraceSetOptions(cmd.Process.Pid, tr.options()); err != nil {
			return report(progStatus{Error: fmt.Sprintf("trace %s: PTRACE_SETOPTIONS: %v", pr.Bin, err)})
		}
		if err := tr.resume(cmd.Process.Pid, 0); err != nil {
			return report(progStatus{Error: fmt.Sprintf("trace %s: %v", pr.Bin, err)})
		}
	}
	killed := make(chan string, 1)
	go watch(killed, everyone)
	// Reap every process until the program itself has ended; what it left
	// behind dies with this init.
	for {
		select {
		case why := <-killed:
			reapAll()
			return report(progStatus{Killed: why})
		default:
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return report(progStatus{Error: fmt.Sprintf("wait: %v", err)})
		}
		if tr != nil {
			if ws.Stopped() {
				_ = tr.resume(pid, tr.stopped(pid, ws))
				continue
			}
			tr.exited(pid)
		}
		if pid != cmd.Process.Pid {
			continue
		}
		if tr != nil {
			tr.finish()
			if tr.launching {
				// The launcher ended without exec'ing the program.
				<-launched
				why := strings.TrimSpace(launcher.String())
				if why == "" {
					why = fmt.Sprintf("trace %s: the launcher ended before the program started (wait status %#x)", pr.Bin, uint32(ws))
				}
				return report(progStatus{Error: why})
			}
			if tr.problem != "" {
				return report(progStatus{Error: tr.problem})
			}
		}
		select {
		case why := <-killed: // the program died of the watcher's kill
			reapAll()
			return report(progStatus{Killed: why})
		default:
		}
		switch {
		case ws.Exited():
			code := ws.ExitStatus()
			return report(progStatus{Exit: &code})
		case ws.Signaled():
			return report(progStatus{Signal: signalName(ws.Signal())})
		}
	}
}

// watch kills every process of the namespace (all but this init) when the
// guest holds maxProcs more tasks than when the program started, or has
// less than memLeft percent of its memory left, and says why on killed.
// Programs run alone in their guest, so the guest's own counters are the
// program's; they are read in constant time however many processes a fork
// bomb made, by a thread the scheduler always runs first.
func watch(killed chan<- string, everyone int) {
	runtime.LockOSThread()
	// SCHED_FIFO, priority 1: ahead of every process the program starts.
	param := [1]int32{1}
	_, _, _ = unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, 1, uintptr(unsafe.Pointer(&param[0])))
	// The files stay open and are read into one buffer: under TCG, opening
	// and parsing them afresh every tick cost most of a guest CPU.
	loadavg, _ := os.Open("/proc/loadavg")
	meminfo, _ := os.Open("/proc/meminfo")
	buf := make([]byte, 8192)
	base := tasks(loadavg, buf)
	for range time.Tick(20 * time.Millisecond) {
		why := ""
		if n := tasks(loadavg, buf); n > base+maxProcs {
			why = fmt.Sprintf("more than %d processes at once", maxProcs)
		} else if total, avail := memory(meminfo, buf); total > 0 && avail*100 < total*memLeft {
			why = fmt.Sprintf("the guest had less than %d%% of its memory left", memLeft)
		}
		if why == "" {
			continue
		}
		killed <- why // before the kill, so the reaper sees it first
		// From a namespace's init, kill(-1) reaches everyone else in it
		// (else everyone is the program's process group); a process
		// forked while it ran is caught by the next.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if err := unix.Kill(everyone, unix.SIGKILL); errors.Is(err, unix.ESRCH) {
				break
			}
		}
		return
	}
}

// memLeft is the share of the guest's memory below which a program is stopped.
const memLeft = 15

// readProc reads the whole of a /proc file opened once into buf.
func readProc(f *os.File, buf []byte) []byte {
	if f == nil {
		return nil
	}
	n, _ := f.ReadAt(buf, 0)
	return buf[:n]
}

// tasks is the number of tasks in the guest (/proc/loadavg's fourth field,
// "running/total").
func tasks(loadavg *os.File, buf []byte) int {
	f := bytes.Fields(readProc(loadavg, buf))
	if len(f) < 4 {
		return 0
	}
	_, total, _ := bytes.Cut(f[3], []byte("/"))
	n, _ := strconv.Atoi(string(total))
	return n
}

// memory is the guest's total and available memory in KiB (MemAvailable,
// or MemFree+Buffers+Cached before Linux 3.14).
func memory(meminfo *os.File, buf []byte) (total, avail int64) {
	var free, buffers, cached int64
	hasAvail := false
	for _, line := range bytes.Split(readProc(meminfo, buf), []byte("\n")) {
		k, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(k) { // compiled without allocating
		case "MemTotal":
			dst = &total
		case "MemAvailable":
			dst, hasAvail = &avail, true
		case "MemFree":
			dst = &free
		case "Buffers":
			dst = &buffers
		case "Cached":
			dst = &cached
		default:
			continue
		}
		if fs := bytes.Fields(rest); len(fs) > 0 {
			*dst, _ = strconv.ParseInt(string(fs[0]), 10, 64)
		}
	}
	if !hasAvail {
		avail = free + buffers + cached
	}
	return total, avail
}

// reapAll waits for every process of the namespace to be gone.
func reapAll() {
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); errors.Is(err, unix.ECHILD) {
			return
		} else if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// Bounds of a program's writable space.
const (
	tmpSize  = "10%"
	workSize = "25%"
)

// sandbox mounts /proc, a bounded /tmp and a bounded working directory
// holding a copy of the program's directory, lowers the program's standing
// with the OOM killer, and returns the working directory.
func sandbox(pr bootproto.Program) (string, error) {
	// What is mounted here stays in this mount namespace, whatever the
	// propagation of the mounts it was copied from (shared, under systemd).
	_ = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	// A fresh /proc only in a PID namespace of its own: without one, the
	// guest's /proc is already this PID namespace's, and mounting it again
	// on itself is refused (EBUSY) on every kernel.
	if os.Getpid() == 1 {
		if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
			return "", fmt.Errorf("mount /proc: %w", err)
		}
	}
	if err := os.MkdirAll("/tmp", 0o1777); err == nil {
		_ = unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "size="+tmpSize+",mode=1777")
	}
	work := "/runmatrix/run"
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	if err := unix.Mount("tmpfs", work, "tmpfs", 0, "size="+workSize); err != nil {
		return "", fmt.Errorf("mount the working directory: %w", err)
	}
	if err := copyTree(pr.Dir, work); err != nil {
		return "", fmt.Errorf("copy the program: %w", err)
	}
	// A program that fills memory is the one the OOM killer takes.
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0o644); err != nil {
		_ = os.WriteFile("/proc/self/oom_adj", []byte("15"), 0o644) // before 2.6.36
	}
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	return work, nil
}

// copyTree copies the regular files and directories under src into dst.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, fi.Mode().Perm()|0o700)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
