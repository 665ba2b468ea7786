package caserun

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases/cnames"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// tracer records the socket system calls of a program and of every thread
// and child it starts, under ptrace, as steps with the fields a built-in
// case records: decoded arguments, return value, errno and the signals
// raised right after each call. It needs only what Linux 2.6.32 offers
// (PTRACE_TRACEME, PTRACE_O_TRACESYSGOOD and the fork, vfork, clone and
// exec events, PTRACE_PEEKDATA) and decodes socketcall(2) on i386; from 3.5
// a seccomp filter spares the program a stop at every other call.
type tracer struct {
	// stops counts the stops by kind, for a note on what the trace saw.
	stops map[string]int
	// sockets caches, per process, which descriptors are sockets; a call
	// that can change the table (dup*, fcntl, execve) empties it.
	sockets map[int]map[int]bool
	start   time.Time
	main    int
	emit    func(outcome.Step)
	threads map[int]*thread
	// filtered is set when a seccomp filter picks the calls that stop (see
	// seccomp.go); else every call stops at its entry and its exit.
	filtered bool
	// launching holds until the launcher has exec'd the program: its own
	// calls are not the program's.
	launching bool
	// order is how this kernel follows a filter's stop, learnt from the
	// launcher's probe call.
	order filterOrder
	// problem is what made the trace unsound, if anything.
	problem string
	// unfiltered says why no filter was used.
	unfiltered string
}

// filterOrder is what follows a seccomp filter's stop when the tracer
// resumes with PTRACE_SYSCALL.
type filterOrder int

const (
	orderUnknown filterOrder = iota
	// orderExitNext: the filter's stop is the call's entry (Linux 4.8 on).
	orderExitNext
	// orderEntryNext: a syscall-entry stop comes first (3.5 to 4.7).
	orderEntryNext
)

// thread is one traced thread.
type thread struct {
	tgid      int
	inSyscall bool
	// step is the call being made (nil when it is not one the trace keeps).
	step    *outcome.Step
	nr      int
	args    [6]uint64
	pending uint64
	entered time.Time
	// done is the last finished step, held back so that a signal delivered
	// right after it can be added.
	done *outcome.Step
	// skipEntry is set after a filter's stop where a syscall-entry stop
	// is still to come (orderEntryNext); probing while the launcher's probe
	// call is followed.
	skipEntry, probing bool
}

func newTracer(main int, emit func(outcome.Step)) *tracer {
	return &tracer{stops: map[string]int{}, sockets: map[int]map[int]bool{}, start: time.Now(), main: main, emit: emit, threads: map[int]*thread{main: {tgid: main}}}
}

// traceOptions are the ptrace options set on the program (all in 2.6.32).
// TRACEEXEC turns the SIGTRAP the kernel otherwise sends a traced process
// after each execve into an event stop: passed on, that SIGTRAP killed any
// program that execs (a shell script running a command, a fork and exec).
const traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC

// options are the ptrace options this trace sets.
func (t *tracer) options() int {
	if t.filtered {
		return traceOptions | unix.PTRACE_O_TRACESECCOMP
	}
	return traceOptions
}

// resume restarts a stopped thread with sig: to its next system call
// stop, or, under a filter, to its next event unless a call it stopped
// at is still to be followed to its exit.
func (t *tracer) resume(tid, sig int) error {
	if th := t.threads[tid]; t.filtered && (th == nil || !th.inSyscall) {
		return unix.PtraceCont(tid, sig)
	}
	return unix.PtraceSyscall(tid, sig)
}

// stopped handles one ptrace stop of tid and returns the signal to deliver
// when it resumes.
func (t *tracer) stopped(tid int, ws unix.WaitStatus) int {
	th, known := t.threads[tid]
	if !known {
		// A new child or thread: its first stop is a SIGSTOP to swallow.
		t.threads[tid] = &thread{tgid: tgidOf(tid)}
		if ws.StopSignal() == unix.SIGSTOP {
			return 0
		}
		th = t.threads[tid]
	}
	sig := ws.StopSignal()
	switch {
	case sig == unix.SIGTRAP|0x80:
		t.stops["syscall"]++
	case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_SECCOMP:
		t.stops["seccomp"]++
	default:
		t.stops[signalName(sig)]++
	}
	switch {
	case sig == unix.SIGTRAP|0x80:
		if !t.filtered || t.followed(tid, th) {
			t.syscall(tid, th)
		}
		return 0
	case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_SECCOMP:
		t.filterStop(tid, th)
		return 0
	case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXEC:
		if t.launching && th.tgid == t.main {
			t.launching = false
			if t.filtered && t.order == orderUnknown {
				t.problem = "trace: the launcher's probe call did not show how this kernel follows a seccomp filter's stop"
			}
		}
		th.skipEntry, th.probing = false, false
		// The process is a new program: its descriptor table may have
		// lost CLOEXEC sockets, and a thread that exec'd took the
		// leader's ID (the event's message is its old one, 3.0 on).
		delete(t.sockets, th.tgid)
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil && int(msg) != tid {
			delete(t.threads, int(msg))
		}
		// Whichever thread it was, it is inside execve, whose exit stop
		// comes next.
		t.flush(th)
		th.inSyscall, th.step = true, nil
		return 0
	case sig == unix.SIGTRAP && ws.TrapCause() > 0:
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil {
			if _, ok := t.threads[int(msg)]; !ok {
				tgid := th.tgid
				if ws.TrapCause() != unix.PTRACE_EVENT_CLONE {
					tgid = int(msg)
				}
				t.threads[int(msg)] = &thread{tgid: tgid}
			}
		}
		return 0
	case sig == unix.SIGSTOP && th.step == nil && th.done == nil && !th.inSyscall && tid != t.main:
		return 0
	}
	// A signal on its way to the thread: it follows the call just made
	// (which may have seen it pending already), unless the program ignores
	// it: then only the tracer sees it.
	if th.done != nil && !slices.Contains(th.done.Signals, signalName(sig)) && signalsOf(tid).ignoredOnly()&(1<<(sig-1)) == 0 {
		th.done.Signals = append(th.done.Signals, signalName(sig))
	}
	return int(sig)
}

// filterStop handles a seccomp filter's stop: the entry of a call the trace
// keeps, followed to its exit.
func (t *tracer) filterStop(tid int, th *thread) {
	if th.inSyscall {
		return // a filter stops a call before its entry: not one being followed
	}
	t.syscall(tid, th)
	if t.launching {
		probe := th.step != nil && th.step.Call == "getsockname"
		th.step = nil
		if probe && t.order == orderUnknown {
			th.probing = true
			return
		}
	}
	switch t.order {
	case orderUnknown:
		th.inSyscall = false // not followed: the thread is resumed to run on
	case orderEntryNext:
		th.skipEntry = true
	}
}

// followed reports whether a syscall stop under a filter is the exit of a
// call the filter stopped; the launcher's probe, getsockname(-1), tells an
// exit (EBADF in the return register) from an entry stop.
func (t *tracer) followed(tid int, th *thread) bool {
	switch {
	case th.probing:
		th.probing = false
		if _, _, ret, err := regs(tid); err == nil && ret == -int64(unix.EBADF) {
			t.order = orderExitNext
			return true
		}
		t.order = orderEntryNext
		return false
	case th.skipEntry:
		th.skipEntry = false
		return false
	}
	return th.inSyscall
}

// summary says what the trace saw.
func (t *tracer) summary() string {
	var parts []string
	for k, v := range t.stops {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	how := "every system call stopped" + t.unfiltered
	if t.filtered {
		how = "a seccomp filter stopped only the calls traced"
	}
	return "trace: " + how + "; stops by kind: " + strings.Join(parts, ", ")
}

// exited flushes what an ended thread held back.
func (t *tracer) exited(tid int) {
	if th, ok := t.threads[tid]; ok {
		t.flush(th)
		delete(t.threads, tid)
	}
}

// finish flushes every thread.
func (t *tracer) finish() {
	for _, th := range t.threads {
		t.flush(th)
	}
}

func (t *tracer) flush(th *thread) {
	if th.done != nil {
		t.emit(*th.done)
		th.done = nil
	}
}

// syscall handles a system-call stop: entry or exit, alternately.
func (t *tracer) syscall(tid int, th *thread) {
	nr, args, ret, err := regs(tid)
	if err != nil {
		t.stops["unreadable registers ("+err.Error()+")"]++
		return
	}
	if !th.inSyscall {
		th.inSyscall = true
		t.flush(th)
		th.nr, th.args, th.step = nr, args, nil
		if fdTableCalls[nr] {
			delete(t.sockets, th.tgid)
		}
		if name, a, ok := t.decode(tid, th.tgid, nr, args); ok {
			th.step = &outcome.Step{Call: name, Label: name, Side: t.side(tid, th), Args: a.args, Fd: a.fd, RetFd: a.retFd}
			th.entered = time.Now()
			if raisesSignals[name] {
				st := signalsOf(tid)
				th.pending = st.pending
				// How the program takes SIGPIPE is part of the call's
				// outcome (killed, an EPIPE alone, a handler run), and what
				// repro.c sets before replaying it.
				th.step.Args = append(th.step.Args, outcome.ArgsOf(outcome.DispositionArgs{Sigpipe: st.disposition(unix.SIGPIPE)})...)
			}
		}
		return
	}
	th.inSyscall = false
	if th.step == nil {
		return
	}
	s := th.step
	th.step = nil
	s.StartMS = msSince(t.start, th.entered)
	s.DurMS = float64(time.Since(th.entered).Microseconds()) / 1000
	s.Ret = ret
	if ret < 0 && ret > -4096 {
		s.Ret, s.Errno = -1, cnames.Errno(unix.Errno(-ret))
	} else {
		t.outputs(tid, s, th)
	}
	if raisesSignals[s.Call] {
		// A signal the program ignores is generated only because it is
		// traced (the kernel keeps ignored signals for tracers): untraced
		// it would not exist, so the step does not show it.
		st := signalsOf(tid)
		if raised := st.pending &^ th.pending &^ st.ignoredOnly(); raised != 0 {
			s.Signals = append(s.Signals, sigNames(raised)...)
		}
	}
	t.learn(th.tgid, s)
	th.done = s
}

func (t *tracer) side(tid int, th *thread) string {
	switch {
	case tid == t.main:
		return ""
	case th.tgid == t.main:
		return "thread " + strconv.Itoa(tid)
	}
	return "pid " + strconv.Itoa(th.tgid)
}

func msSince(start, at time.Time) float64 { return float64(at.Sub(start).Microseconds()) / 1000 }

// raisesSignals are the calls that can raise a signal (SIGPIPE) as they
// return: only for them is the pending set read, twice.
var raisesSignals = map[string]bool{"sendto": true, "sendmsg": true, "sendmmsg": true, "write": true, "connect": true}

// learn keeps what a finished call says of the process's descriptors.
func (t *tracer) learn(tgid int, s *outcome.Step) {
	fds := t.sockets[tgid]
	if fds == nil {
		fds = map[int]bool{}
		t.sockets[tgid] = fds
	}
	switch {
	case s.Errno != "":
	case s.Call == "socket" || s.Call == "accept" || s.Call == "accept4":
		fds[int(s.Ret)] = true
	case s.Call == "close":
		fd, _ := strconv.Atoi(s.Fd)
		delete(fds, fd)
	}
}

// socket reports whether fd of process tgid is a socket, asking /proc once.
func (t *tracer) socket(tid, tgid, fd int) bool {
	fds := t.sockets[tgid]
	if fds == nil {
		fds = map[int]bool{}
		t.sockets[tgid] = fds
	}
	if v, ok := fds[fd]; ok {
		return v
	}
	v := isSocket(tid, fd)
	fds[fd] = v
	return v
}

// decoded is what decode learns of a call at its entry.
type decoded struct {
	args  []outcome.Arg
	fd    string
	retFd bool
}

// socketcalls are socketcall(2)'s calls: name and argument count.
var socketcalls = map[uint64]struct {
	name string
	n    int
}{1: {"socket", 3}, 2: {"bind", 3}, 3: {"connect", 3}, 4: {"listen", 2}, 5: {"accept", 3}, 6: {"getsockname", 3},
	7: {"getpeername", 3}, 8: {"socketpair", 4}, 9: {"send", 4}, 10: {"recv", 4}, 11: {"sendto", 6}, 12: {"recvfrom", 6},
	13: {"shutdown", 2}, 14: {"setsockopt", 5}, 15: {"getsockopt", 5}, 16: {"sendmsg", 3}, 17: {"recvmsg", 3},
	18: {"accept4", 4}, 19: {"recvmmsg", 5}, 20: {"sendmmsg", 4}}

// decode names a call the trace keeps and decodes its inputs; calls on
// descriptors (read, write, close, poll) are kept only on sockets.
func (t *tracer) decode(tid, tgid, nr int, raw [6]uint64) (string, decoded, bool) {
	name, ok := sysNames[nr]
	args := raw
	if nr == socketcallNr {
		sc, known := socketcalls[raw[0]]
		if !known {
			return "", decoded{}, false
		}
		name = sc.name
		b := peek(tid, uintptr(raw[1]), sc.n*wordSize)
		for i := 0; i < sc.n && (i+1)*wordSize <= len(b); i++ {
			args[i] = word(b[i*wordSize:])
		}
		ok = true
	}
	if !ok {
		return "", decoded{}, false
	}
	fd := strconv.Itoa(int(int32(args[0])))
	d := decoded{fd: fd}
	switch name {
	case "socket":
		d.fd, d.retFd = "", true
		d.args = outcome.ArgsOf(outcome.SocketArgs{Domain: family(int(args[0])), Type: sockType(int(args[1])), Protocol: cnames.Protocol(int(args[0]), int(args[2]))})
	case "socketpair":
		d.fd = ""
		d.args = outcome.ArgsOf(outcome.SocketArgs{Domain: family(int(args[0])), Type: sockType(int(args[1])), Protocol: cnames.Protocol(int(args[0]), int(args[2]))})
	case "bind", "connect":
		d.args = outcome.ArgsOf(outcome.AddrArgs{Addr: sockaddr(peek(tid, uintptr(args[1]), int(min(args[2], 128))))})
	case "listen":
		d.args = outcome.ArgsOf(outcome.ListenArgs{Backlog: strconv.Itoa(int(int32(args[1])))})
	case "accept", "accept4":
		d.retFd = true
		a := outcome.AcceptArgs{} // New is the descriptor returned, at the call's exit
		if name == "accept4" {
			a.Flags = sockType(int(args[3]))
		}
		d.args = outcome.ArgsOf(a)
	case "sendto", "send":
		a := outcome.SendArgs{Buf: quoted(peek(tid, uintptr(args[1]), int(min(args[2], 64)))), Len: strconv.Itoa(int(args[2])), Flags: msgFlags(int(args[3])), Addr: "NULL"}
		if name == "sendto" && args[4] != 0 {
			a.Addr = sockaddr(peek(tid, uintptr(args[4]), int(min(args[5], 128))))
		}
		d.args = outcome.ArgsOf(a)
		name = "sendto"
	case "recvfrom", "recv":
		d.args = outcome.ArgsOf(outcome.RecvArgs{Len: strconv.Itoa(int(args[2])), Flags: msgFlags(int(args[3]))})
		name = "recv"
	case "sendmsg":
		iov, nameAddr := msghdr(tid, uintptr(args[1]))
		d.args = outcome.ArgsOf(outcome.SendmsgArgs{MsgName: nameAddr, Iov: iov, Flags: msgFlags(int(args[2]))})
	case "recvmsg":
		d.args = outcome.ArgsOf(outcome.RecvArgs{Flags: msgFlags(int(args[2]))})
	case "sendmmsg", "recvmmsg":
		d.args = outcome.ArgsOf(outcome.MmsgArgs{Vlen: strconv.Itoa(int(args[2])), Flags: msgFlags(int(args[3]))})
	case "shutdown":
		d.args = outcome.ArgsOf(outcome.ShutdownArgs{How: map[int]string{0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}[int(args[1])]})
	case "setsockopt", "getsockopt":
		level, opt := cnames.Sockopt(int(args[1]), int(args[2]))
		a := outcome.SockoptArgs{Level: level, Optname: opt}
		if name == "setsockopt" {
			optValue(&a, tid, uintptr(args[3]), int(args[4]))
		}
		d.args = outcome.ArgsOf(a)
	case "getsockname", "getpeername":
	case "read", "write", "close":
		if !t.socket(tid, tgid, int(int32(args[0]))) {
			if name == "close" {
				delete(t.sockets[tgid], int(int32(args[0])))
			}
			return "", decoded{}, false
		}
		if name == "write" {
			d.args = outcome.ArgsOf(outcome.SendArgs{Buf: quoted(peek(tid, uintptr(args[1]), int(min(args[2], 64)))), Len: strconv.Itoa(int(args[2]))})
		} else if name == "read" {
			d.args = outcome.ArgsOf(outcome.RecvArgs{Len: strconv.Itoa(int(args[2]))})
		}
	case "poll", "ppoll":
		fds := peek(tid, uintptr(args[0]), int(min(args[1], 16))*8)
		var list []string
		sock := false
		for i := 0; i+8 <= len(fds); i += 8 {
			pfd := int(int32(binary.NativeEndian.Uint32(fds[i:])))
			sock = sock || t.socket(tid, tgid, pfd)
			list = append(list, fmt.Sprintf("%d:%s", pfd, cnames.Poll(int16(binary.NativeEndian.Uint16(fds[i+4:])))))
		}
		if !sock {
			return "", decoded{}, false
		}
		d.fd = ""
		d.args = outcome.ArgsOf(outcome.PollArgs{Fds: strings.Join(list, ",")})
	case "epoll_ctl":
		if !t.socket(tid, tgid, int(int32(args[2]))) {
			return "", decoded{}, false
		}
		d.fd = strconv.Itoa(int(int32(args[2])))
		d.args = outcome.ArgsOf(outcome.EpollCtlArgs{Epfd: strconv.Itoa(int(int32(args[0]))), Op: map[int]string{1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}[int(args[1])]})
	case "select", "pselect6", "epoll_wait", "epoll_pwait":
		d.fd = ""
	}
	return name, d, true
}

// outputs decodes what a successful call returned through memory.
func (t *tracer) outputs(tid int, s *outcome.Step, th *thread) {
	args := th.args
	if th.nr == socketcallNr {
		sc := socketcalls[args[0]]
		b := peek(tid, uintptr(args[1]), sc.n*wordSize)
		for i := 0; i < sc.n && (i+1)*wordSize <= len(b); i++ {
			args[i] = word(b[i*wordSize:])
		}
	}
	switch s.Call {
	case "socket":
		s.Fd = strconv.FormatInt(s.Ret, 10)
	case "accept", "accept4":
		s.Args[0].Value = strconv.FormatInt(s.Ret, 10)
	case "recv", "read":
		if s.Ret > 0 {
			s.Detail = strconv.Quote(string(peek(tid, uintptr(args[1]), int(min(uint64(s.Ret), 64)))))
		}
	case "getsockname", "getpeername":
		l := peek(tid, uintptr(args[2]), 4)
		if len(l) == 4 {
			a := sockaddr(peek(tid, uintptr(args[1]), int(min(binary.NativeEndian.Uint32(l), 128))))
			s.Detail = "addr=" + a
		}
	case "getsockopt":
		l := peek(tid, uintptr(args[4]), 4)
		if len(l) == 4 && binary.NativeEndian.Uint32(l) == 4 {
			v := peek(tid, uintptr(args[3]), 4)
			if len(v) == 4 {
				s.Detail = strconv.Itoa(int(int32(binary.NativeEndian.Uint32(v))))
			}
		}
	case "socketpair":
		v := peek(tid, uintptr(args[3]), 8)
		if len(v) == 8 {
			s.Detail = fmt.Sprintf("fds=%d,%d", int32(binary.NativeEndian.Uint32(v)), int32(binary.NativeEndian.Uint32(v[4:])))
		}
	}
}

// peek reads n bytes of a tracee's memory (PTRACE_PEEKDATA: any kernel).
func peek(tid int, addr uintptr, n int) []byte {
	if addr == 0 || n <= 0 {
		return nil
	}
	b := make([]byte, n)
	got, _ := unix.PtracePeekData(tid, addr, b)
	return b[:got]
}

func word(b []byte) uint64 {
	if wordSize == 4 {
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// msghdr reads a struct msghdr's name and the first bytes of its iovecs.
func msghdr(tid int, addr uintptr) (iov, name string) {
	h := peek(tid, addr, 7*wordSize)
	if len(h) < 4*wordSize {
		return `""`, "NULL"
	}
	nameAddr, nameLen := word(h), word(h[wordSize:])&0xffffffff
	iovAddr, iovLen := word(h[2*wordSize:]), word(h[3*wordSize:])
	name = "NULL"
	if nameAddr != 0 {
		name = sockaddr(peek(tid, uintptr(nameAddr), int(min(nameLen, 128))))
	}
	var data []byte
	for i := uint64(0); i < min(iovLen, 8) && len(data) < 64; i++ {
		v := peek(tid, uintptr(iovAddr)+uintptr(i)*2*wordSize, 2*wordSize)
		if len(v) < 2*wordSize {
			break
		}
		data = append(data, peek(tid, uintptr(word(v)), int(min(word(v[wordSize:]), 64)))...)
	}
	return quoted(data), name
}

func quoted(b []byte) string { return strconv.Quote(string(b)) }

// sockaddr renders a socket address as the built-in cases do.
func sockaddr(b []byte) string {
	if len(b) < 2 {
		return "NULL"
	}
	switch fam := binary.NativeEndian.Uint16(b); fam {
	case unix.AF_INET:
		if len(b) >= 8 {
			return fmt.Sprintf("%d.%d.%d.%d:%d", b[4], b[5], b[6], b[7], binary.BigEndian.Uint16(b[2:]))
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			ip := make([]string, 8)
			for i := range ip {
				ip[i] = strconv.FormatUint(uint64(binary.BigEndian.Uint16(b[8+2*i:])), 16)
			}
			return fmt.Sprintf("[%s]:%d", strings.Join(ip, ":"), binary.BigEndian.Uint16(b[2:]))
		}
	case unix.AF_UNIX:
		p := string(b[2:])
		if i := strings.IndexByte(p, 0); i > 0 {
			p = p[:i]
		}
		return "unix:" + p
	default:
		return fmt.Sprintf("family %d", fam)
	}
	return "short address"
}

func family(f int) string {
	if n, ok := map[int]string{1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}[f]; ok {
		return n
	}
	return strconv.Itoa(f)
}

func sockType(t int) string {
	var parts []string
	if base := t & 0xf; base != 0 {
		n, ok := map[int]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}[base]
		if !ok {
			n = strconv.Itoa(base)
		}
		parts = append(parts, n)
	}
	if t&unix.SOCK_NONBLOCK != 0 {
		parts = append(parts, "SOCK_NONBLOCK")
	}
	if t&unix.SOCK_CLOEXEC != 0 {
		parts = append(parts, "SOCK_CLOEXEC")
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// msgFlags spells send/recv flags as a trace names them.
func msgFlags(f int) string { return cnames.Flags(f, cnames.MsgFlags) }

// optValue decodes a setsockopt value: an int, a struct linger or a
// struct timeval, else its bytes.
func optValue(a *outcome.SockoptArgs, tid int, addr uintptr, n int) {
	b := peek(tid, addr, min(n, 64))
	switch {
	case a.Optname == "SO_LINGER" && len(b) >= 8:
		a.LOnoff = strconv.Itoa(int(int32(binary.NativeEndian.Uint32(b))))
		a.LLinger = strconv.Itoa(int(int32(binary.NativeEndian.Uint32(b[4:]))))
	case (a.Optname == "SO_RCVTIMEO" || a.Optname == "SO_SNDTIMEO") && len(b) >= 2*wordSize:
		a.TvSec = strconv.FormatInt(int64(word(b)), 10)
		a.TvUsec = strconv.FormatInt(int64(word(b[wordSize:])), 10)
	case len(b) == 4:
		a.Value = strconv.Itoa(int(int32(binary.NativeEndian.Uint32(b))))
	default:
		a.Optval, a.Optlen = fmt.Sprintf("%x", b), strconv.Itoa(n)
	}
}

// isSocket reports whether fd of tid is a socket.
func isSocket(tid, fd int) bool {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, fd))
	return err == nil && strings.HasPrefix(l, "socket:")
}

// tgidOf is the thread group (process) of a thread.
func tgidOf(tid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return tid
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n
			}
		}
	}
	return tid
}

// signalState is what /proc/TID/status says of a thread's signals.
type signalState struct {
	// pending is the thread's own and its process's (SigPnd and ShdPnd):
	// a blocked signal a call raised shows here, as it never reaches a
	// signal-delivery stop.
	pending                  uint64
	blocked, ignored, caught uint64
}

// signalsOf reads a thread's signal state.
func signalsOf(tid int) signalState {
	var st signalState
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return st
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		switch k {
		case "SigPnd", "ShdPnd":
			st.pending |= n
		case "SigBlk":
			st.blocked = n
		case "SigIgn":
			st.ignored = n
		case "SigCgt":
			st.caught = n
		}
	}
	return st
}

// ignoredOnly are the signals ignored and not blocked: the kernel
// discards them when generated, unless the thread is traced.
func (st signalState) ignoredOnly() uint64 { return st.ignored &^ st.blocked }

// disposition says how the thread takes sig: "blocked", "ignored",
// "handled" (a handler is installed) or "default".
func (st signalState) disposition(sig unix.Signal) string {
	bit := uint64(1) << (sig - 1)
	switch {
	case st.blocked&bit != 0:
		return "blocked"
	case st.ignored&bit != 0:
		return "ignored"
	case st.caught&bit != 0:
		return "handled"
	}
	return "default"
}

func sigNames(set uint64) []string {
	var out []string
	for s := 1; s <= 64; s++ {
		if set&(1<<(s-1)) != 0 {
			out = append(out, signalName(unix.Signal(s)))
		}
	}
	return out
}
