package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number (gpr2 at entry),
// arguments (orig_gpr2 and gpr3-gpr7) and return value (gpr2 at exit).
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = unix.PtraceGetRegs(tid, &r); err != nil {
		return
	}
	g := r.Gprs
	return int(g[2]), [6]uint64{r.Orig_gpr2, g[3], g[4], g[5], g[6], g[7]}, int64(g[2]), nil
}

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 8

// sysNames names the system calls a trace records, by number (s390x: the
// direct socket calls came with Linux 4.3; accept only through socketcall).
var sysNames = map[int]string{
	3: "read", 4: "write", 6: "close", 168: "poll", 142: "select", 359: "socket", 362: "connect",
	369: "sendto", 371: "recvfrom", 370: "sendmsg", 372: "recvmsg", 373: "shutdown", 361: "bind", 363: "listen",
	367: "getsockname", 368: "getpeername", 360: "socketpair", 366: "setsockopt", 365: "getsockopt",
	250: "epoll_ctl", 251: "epoll_wait", 301: "pselect6", 302: "ppoll", 312: "epoll_pwait", 364: "accept4",
	357: "recvmmsg", 358: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number on s390x.
const socketcallNr = 102

// fdTableCalls can change which descriptor is what: dup, dup2, dup3, fcntl
// and execve.
var fdTableCalls = map[int]bool{41: true, 63: true, 326: true, 55: true, 11: true}
