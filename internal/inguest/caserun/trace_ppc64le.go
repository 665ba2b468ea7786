package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number (r0), arguments (r3-r8,
// read at entry) and return value: r3 at exit, an errno when the summary
// overflow bit of CR0 is set (the powerpc convention), returned negated
// as on the other architectures.
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = unix.PtraceGetRegs(tid, &r); err != nil {
		return
	}
	ret = int64(r.Gpr[3])
	if r.Ccr&0x10000000 != 0 {
		ret = -ret
	}
	return int(r.Gpr[0]), [6]uint64{r.Gpr[3], r.Gpr[4], r.Gpr[5], r.Gpr[6], r.Gpr[7], r.Gpr[8]}, ret, nil
}

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 8

// sysNames names the system calls a trace records, by number (powerpc).
var sysNames = map[int]string{
	unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_CLOSE: "close", unix.SYS_POLL: "poll", unix.SYS__NEWSELECT: "select", unix.SYS_SOCKET: "socket", unix.SYS_CONNECT: "connect", unix.SYS_ACCEPT: "accept",
	unix.SYS_SENDTO: "sendto", unix.SYS_RECVFROM: "recvfrom", unix.SYS_SENDMSG: "sendmsg", unix.SYS_RECVMSG: "recvmsg", unix.SYS_SHUTDOWN: "shutdown", unix.SYS_BIND: "bind", unix.SYS_LISTEN: "listen",
	unix.SYS_GETSOCKNAME: "getsockname", unix.SYS_GETPEERNAME: "getpeername", unix.SYS_SOCKETPAIR: "socketpair", unix.SYS_SETSOCKOPT: "setsockopt", unix.SYS_GETSOCKOPT: "getsockopt",
	unix.SYS_EPOLL_CTL: "epoll_ctl", unix.SYS_EPOLL_WAIT: "epoll_wait", unix.SYS_PSELECT6: "pselect6", unix.SYS_PPOLL: "ppoll", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_ACCEPT4: "accept4",
	unix.SYS_RECVMMSG: "recvmmsg", unix.SYS_SENDMMSG: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number, which C libraries on ppc64el no
// longer use (they make the direct calls): not decoded here.
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup2, dup3, fcntl
// and execve.
var fdTableCalls = map[int]bool{unix.SYS_DUP: true, unix.SYS_DUP2: true, unix.SYS_DUP3: true, unix.SYS_FCNTL: true, unix.SYS_EXECVE: true}
