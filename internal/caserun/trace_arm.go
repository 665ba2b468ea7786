package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number (r7, EABI), arguments
// (r0-r5, read at entry) and return value (r0, at exit).
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = unix.PtraceGetRegs(tid, &r); err != nil {
		return
	}
	u := r.Uregs
	return int(u[7]), [6]uint64{uint64(u[0]), uint64(u[1]), uint64(u[2]), uint64(u[3]), uint64(u[4]), uint64(u[5])}, int64(int32(u[0])), nil
}

// wordSize is the size of a pointer, long and size_t of the traced program.
const wordSize = 4

// sysNames names the system calls a trace records, by number (ARM EABI).
var sysNames = map[int]string{
	3: "read", 4: "write", 6: "close", 168: "poll", 142: "select", 281: "socket", 283: "connect", 285: "accept",
	290: "sendto", 292: "recvfrom", 296: "sendmsg", 297: "recvmsg", 293: "shutdown", 282: "bind", 284: "listen",
	286: "getsockname", 287: "getpeername", 288: "socketpair", 294: "setsockopt", 295: "getsockopt",
	251: "epoll_ctl", 252: "epoll_wait", 335: "pselect6", 336: "ppoll", 346: "epoll_pwait", 366: "accept4",
	365: "recvmmsg", 374: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number (none on EABI).
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup2, dup3, fcntl,
// fcntl64 and execve.
var fdTableCalls = map[int]bool{41: true, 63: true, 358: true, 55: true, 221: true, 11: true}
