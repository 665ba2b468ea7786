package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number, arguments and return
// value.
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = getRegs(tid, &r); err != nil {
		return
	}
	u := func(v int32) uint64 { return uint64(uint32(v)) }
	return int(r.Orig_eax), [6]uint64{u(r.Ebx), u(r.Ecx), u(r.Edx), u(r.Esi), u(r.Edi), u(r.Ebp)}, int64(r.Eax), nil
}

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 4

// sysNames names the system calls a trace records, by number; before Linux
// 4.3 every socket call goes through socketcall(2).
var sysNames = map[int]string{
	unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_CLOSE: "close", unix.SYS__NEWSELECT: "select", unix.SYS_POLL: "poll", unix.SYS_EPOLL_CTL: "epoll_ctl", unix.SYS_EPOLL_WAIT: "epoll_wait",
	unix.SYS_PSELECT6: "pselect6", unix.SYS_PPOLL: "ppoll", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_RECVMMSG: "recvmmsg", unix.SYS_SENDMMSG: "sendmmsg",
	unix.SYS_SOCKET: "socket", unix.SYS_SOCKETPAIR: "socketpair", unix.SYS_BIND: "bind", unix.SYS_CONNECT: "connect", unix.SYS_LISTEN: "listen", unix.SYS_ACCEPT4: "accept4",
	unix.SYS_GETSOCKOPT: "getsockopt", unix.SYS_SETSOCKOPT: "setsockopt", unix.SYS_GETSOCKNAME: "getsockname", unix.SYS_GETPEERNAME: "getpeername", unix.SYS_SENDTO: "sendto",
	unix.SYS_SENDMSG: "sendmsg", unix.SYS_RECVFROM: "recvfrom", unix.SYS_RECVMSG: "recvmsg", unix.SYS_SHUTDOWN: "shutdown",
}

// socketcallNr is socketcall(2)'s number.
const socketcallNr = unix.SYS_SOCKETCALL

// fdTableCalls can change which descriptor is what: dup, dup2, dup3,
// fcntl (F_DUPFD) and execve (close-on-exec).
var fdTableCalls = map[int]bool{unix.SYS_DUP: true, unix.SYS_DUP2: true, unix.SYS_DUP3: true, unix.SYS_FCNTL: true, unix.SYS_FCNTL64: true, unix.SYS_EXECVE: true}
