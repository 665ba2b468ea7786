package caserun

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A traced program stops at every system call on kernels before 3.5. From
// 3.5 a seccomp filter (SECCOMP_RET_TRACE, PTRACE_O_TRACESECCOMP) stops it
// only at the calls a trace keeps, and the tracer follows each of those to
// its exit with PTRACE_SYSCALL, as strace --seccomp-bpf does. The filter is
// installed by TraceExec, a launcher the tracer starts in place of the
// program, on the one thread that then execs the program: the program and
// everything it starts inherit the filter, the tracer does not.

// TraceExecCommand makes the agent the launcher of a traced program: it
// installs the trace's seccomp filter and execs the program (internal to a
// traced program case).
const TraceExecCommand = "trace-exec"

// auditArch is each architecture's AUDIT_ARCH, which the filter checks
// before it reads a system call number: a call through another ABI (an
// i386 program on x86_64) stops, as every call does without a filter.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64, "386": unix.AUDIT_ARCH_I386, "arm64": unix.AUDIT_ARCH_AARCH64,
	"arm": unix.AUDIT_ARCH_ARM, "riscv64": unix.AUDIT_ARCH_RISCV64, "ppc64le": unix.AUDIT_ARCH_PPC64LE,
	"s390x": unix.AUDIT_ARCH_S390X,
}

// traceFilter is the seccomp program that stops at the calls a trace keeps
// (sysNames, socketcall) and those that change the descriptor table
// (fdTableCalls, execve among them), and lets every other call run.
func traceFilter(arch uint32) []unix.SockFilter {
	var nrs []int
	for nr := range sysNames {
		nrs = append(nrs, nr)
	}
	for nr := range fdTableCalls {
		nrs = append(nrs, nr)
	}
	if socketcallNr >= 0 {
		nrs = append(nrs, socketcallNr)
	}
	slices.Sort(nrs)
	nrs = slices.Compact(nrs)
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK = unix.BPF_RET | unix.BPF_K
	)
	// struct seccomp_data: int nr at 0, __u32 arch at 4.
	f := []unix.SockFilter{
		{Code: ldW, K: 4},
		{Code: jeqK, Jt: 1, K: arch},
		{Code: retK, K: unix.SECCOMP_RET_TRACE},
		{Code: ldW, K: 0},
	}
	for i, nr := range nrs {
		// A match jumps over the remaining tests and the ALLOW to the TRACE.
		f = append(f, unix.SockFilter{Code: jeqK, Jt: uint8(len(nrs) - i), K: uint32(nr)})
	}
	return append(f, unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW}, unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_TRACE})
}

// seccompFilters reports whether this kernel takes seccomp filters (3.5 on,
// CONFIG_SECCOMP_FILTER) and this architecture has a filter: a NULL
// program is EFAULT where filters exist and EINVAL where they do not.
func seccompFilters() bool {
	if _, ok := auditArch[runtime.GOARCH]; !ok {
		return false
	}
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, 0, 0, 0)
	return err == unix.EFAULT
}

// TraceExec is the launcher of a traced program: it installs the trace's
// seccomp filter on its own thread, makes one probe call (getsockname on
// -1, from which the tracer learns in which order this kernel reports a
// filter's stop and the call's entry), and execs args. It runs traced from
// its start; what goes wrong is written on fd 3, which the program never
// sees.
func TraceExec(args []string) int {
	runtime.LockOSThread() // the filter is this thread's, and the exec too
	status := os.NewFile(3, "launcher status")
	fail := func(format string, a ...any) int {
		fmt.Fprintf(status, format, a...)
		return 127
	}
	if len(args) == 0 {
		return fail("usage: %s PROGRAM [ARG]...", TraceExecCommand)
	}
	unix.CloseOnExec(3)
	filter := traceFilter(auditArch[runtime.GOARCH])
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// As root (the agent always is), no PR_SET_NO_NEW_PRIVS: a setuid
	// program the traced one runs behaves as it would untraced.
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fail("trace: install the seccomp filter: %v", err)
	}
	runtime.KeepAlive(filter)
	probe()
	// The program starts with every signal unblocked, as from a shell.
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &unix.Sigset_t{}, nil); err != nil {
		return fail("unblock signals: %v", err)
	}
	err := unix.Exec(args[0], args, os.Environ())
	return fail("start %s: %v", args[0], err)
}

// probe makes the launcher's probe call, getsockname(-1, NULL, NULL),
// through socketcall where the architecture has it (its direct call is
// 4.3's, and ENOSYS before that would look like a call's entry on x86).
func probe() {
	if nr := socketcallNr; nr >= 0 {
		args := [3]uintptr{^uintptr(0), 0, 0}
		unix.Syscall(uintptr(nr), 6, uintptr(unsafe.Pointer(&args[0])), 0)
		runtime.KeepAlive(&args)
		return
	}
	unix.Syscall(unix.SYS_GETSOCKNAME, ^uintptr(0), 0, 0)
}
