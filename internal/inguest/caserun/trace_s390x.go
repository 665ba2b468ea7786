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
	unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_CLOSE: "close", unix.SYS_POLL: "poll", unix.SYS_SELECT: "select", unix.SYS_SOCKET: "socket", unix.SYS_CONNECT: "connect",
	unix.SYS_SENDTO: "sendto", unix.SYS_RECVFROM: "recvfrom", unix.SYS_SENDMSG: "sendmsg", unix.SYS_RECVMSG: "recvmsg", unix.SYS_SHUTDOWN: "shutdown", unix.SYS_BIND: "bind", unix.SYS_LISTEN: "listen",
	unix.SYS_GETSOCKNAME: "getsockname", unix.SYS_GETPEERNAME: "getpeername", unix.SYS_SOCKETPAIR: "socketpair", unix.SYS_SETSOCKOPT: "setsockopt", unix.SYS_GETSOCKOPT: "getsockopt",
	unix.SYS_EPOLL_CTL: "epoll_ctl", unix.SYS_EPOLL_WAIT: "epoll_wait", unix.SYS_PSELECT6: "pselect6", unix.SYS_PPOLL: "ppoll", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_ACCEPT4: "accept4",
	unix.SYS_RECVMMSG: "recvmmsg", unix.SYS_SENDMMSG: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number on s390x.
const socketcallNr = unix.SYS_SOCKETCALL

// fdTableCalls can change which descriptor is what: dup, dup2, dup3, fcntl
// and execve.
var fdTableCalls = map[int]bool{unix.SYS_DUP: true, unix.SYS_DUP2: true, unix.SYS_DUP3: true, unix.SYS_FCNTL: true, unix.SYS_EXECVE: true}
