package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number (x8), arguments (x0-x5,
// read at entry) and return value (x0, at exit). arm64 has no
// PTRACE_GETREGS; PTRACE_GETREGSET, which x/sys/unix uses, is there on
// every arm64 kernel (3.7 on).
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = unix.PtraceGetRegs(tid, &r); err != nil {
		return
	}
	return int(r.Regs[8]), [6]uint64{r.Regs[0], r.Regs[1], r.Regs[2], r.Regs[3], r.Regs[4], r.Regs[5]}, int64(r.Regs[0]), nil
}
