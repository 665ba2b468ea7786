//go:build 386 || amd64

package caserun

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// getRegs is PTRACE_GETREGS, which every kernel has; x/sys/unix's
// PtraceGetRegs uses PTRACE_GETREGSET, which Linux before 2.6.34 answers
// with EIO.
func getRegs(tid int, r *unix.PtraceRegs) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(r)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
