//go:build arm64 || riscv64

package caserun

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 8

// sysNames names the system calls a trace records, by number (the generic
// table arm64 and riscv64 use: no poll, select, epoll_wait or dup2).
var sysNames = map[int]string{
	63: "read", 64: "write", 57: "close", 198: "socket", 203: "connect", 202: "accept",
	206: "sendto", 207: "recvfrom", 211: "sendmsg", 212: "recvmsg", 210: "shutdown", 200: "bind", 201: "listen",
	204: "getsockname", 205: "getpeername", 199: "socketpair", 208: "setsockopt", 209: "getsockopt",
	21: "epoll_ctl", 22: "epoll_pwait", 72: "pselect6", 73: "ppoll", 242: "accept4",
	243: "recvmmsg", 269: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number (none here).
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup3, fcntl
// (F_DUPFD) and execve (close-on-exec).
var fdTableCalls = map[int]bool{23: true, 24: true, 25: true, 221: true}
