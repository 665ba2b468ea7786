//go:build arm64 || riscv64

package caserun

import "golang.org/x/sys/unix"

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 8

// sysNames names the system calls a trace records, by number (the generic
// table arm64 and riscv64 use: no poll, select, epoll_wait or dup2).
var sysNames = map[int]string{
	unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_CLOSE: "close", unix.SYS_SOCKET: "socket", unix.SYS_CONNECT: "connect", unix.SYS_ACCEPT: "accept",
	unix.SYS_SENDTO: "sendto", unix.SYS_RECVFROM: "recvfrom", unix.SYS_SENDMSG: "sendmsg", unix.SYS_RECVMSG: "recvmsg", unix.SYS_SHUTDOWN: "shutdown", unix.SYS_BIND: "bind", unix.SYS_LISTEN: "listen",
	unix.SYS_GETSOCKNAME: "getsockname", unix.SYS_GETPEERNAME: "getpeername", unix.SYS_SOCKETPAIR: "socketpair", unix.SYS_SETSOCKOPT: "setsockopt", unix.SYS_GETSOCKOPT: "getsockopt",
	unix.SYS_EPOLL_CTL: "epoll_ctl", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_PSELECT6: "pselect6", unix.SYS_PPOLL: "ppoll", unix.SYS_ACCEPT4: "accept4",
	unix.SYS_RECVMMSG: "recvmmsg", unix.SYS_SENDMMSG: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number (none here).
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup3, fcntl
// (F_DUPFD) and execve (close-on-exec).
var fdTableCalls = map[int]bool{unix.SYS_DUP: true, unix.SYS_DUP3: true, unix.SYS_FCNTL: true, unix.SYS_EXECVE: true}
