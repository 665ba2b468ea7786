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
	3: "read", 4: "write", 6: "close", 142: "select", 168: "poll", 255: "epoll_ctl", 256: "epoll_wait",
	308: "pselect6", 309: "ppoll", 319: "epoll_pwait", 337: "recvmmsg", 345: "sendmmsg",
	359: "socket", 360: "socketpair", 361: "bind", 362: "connect", 363: "listen", 364: "accept4",
	365: "getsockopt", 366: "setsockopt", 367: "getsockname", 368: "getpeername", 369: "sendto",
	370: "sendmsg", 371: "recvfrom", 372: "recvmsg", 373: "shutdown",
}

// socketcallNr is socketcall(2)'s number.
const socketcallNr = 102

// fdTableCalls can change which descriptor is what: dup, dup2, dup3,
// fcntl (F_DUPFD) and execve (close-on-exec).
var fdTableCalls = map[int]bool{41: true, 63: true, 330: true, 55: true, 221: true, 11: true}
