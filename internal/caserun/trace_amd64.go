package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number, arguments and return
// value.
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = getRegs(tid, &r); err != nil {
		return
	}
	return int(int64(r.Orig_rax)), [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}, int64(r.Rax), nil
}

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 8

// sysNames names the system calls a trace records, by number.
var sysNames = map[int]string{
	0: "read", 1: "write", 3: "close", 7: "poll", 23: "select", 41: "socket", 42: "connect", 43: "accept",
	44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 48: "shutdown", 49: "bind", 50: "listen",
	51: "getsockname", 52: "getpeername", 53: "socketpair", 54: "setsockopt", 55: "getsockopt",
	232: "epoll_wait", 233: "epoll_ctl", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4",
	299: "recvmmsg", 307: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number (none on x86_64).
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup2, dup3,
// fcntl (F_DUPFD) and execve (close-on-exec).
var fdTableCalls = map[int]bool{32: true, 33: true, 292: true, 72: true, 59: true}
