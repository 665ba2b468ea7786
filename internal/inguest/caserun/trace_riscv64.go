package caserun

import "golang.org/x/sys/unix"

// regs reads a stopped thread's system call number (a7), arguments (a0-a5,
// read at entry) and return value (a0, at exit), with PTRACE_GETREGSET.
func regs(tid int) (nr int, args [6]uint64, ret int64, err error) {
	var r unix.PtraceRegs
	if err = unix.PtraceGetRegs(tid, &r); err != nil {
		return
	}
	return int(r.A7), [6]uint64{r.A0, r.A1, r.A2, r.A3, r.A4, r.A5}, int64(r.A0), nil
}
