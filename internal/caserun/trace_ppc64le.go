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
	3: "read", 4: "write", 6: "close", 167: "poll", 142: "select", 326: "socket", 328: "connect", 330: "accept",
	335: "sendto", 337: "recvfrom", 341: "sendmsg", 342: "recvmsg", 338: "shutdown", 327: "bind", 329: "listen",
	331: "getsockname", 332: "getpeername", 333: "socketpair", 339: "setsockopt", 340: "getsockopt",
	237: "epoll_ctl", 238: "epoll_wait", 280: "pselect6", 281: "ppoll", 303: "epoll_pwait", 344: "accept4",
	343: "recvmmsg", 349: "sendmmsg",
}

// socketcallNr is socketcall(2)'s number, which C libraries on ppc64el no
// longer use (they make the direct calls): not decoded here.
const socketcallNr = -1

// fdTableCalls can change which descriptor is what: dup, dup2, dup3, fcntl
// and execve.
var fdTableCalls = map[int]bool{41: true, 63: true, 316: true, 55: true, 11: true}
