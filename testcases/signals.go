package testcases

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigsetSize is the sigset size the rt_sig* calls take (_NSIG/8).
const kernelSigsetSize = 8

// BlockSIGPIPE blocks SIGPIPE on the calling OS thread, so a SIGPIPE raised
// by a call on this thread stays pending on it until TakeSIGPIPE collects
// it. The caller must have locked its goroutine to the thread.
func BlockSIGPIPE() error {
	var set unix.Sigset_t
	set.Val[0] = 1 << (uint(unix.SIGPIPE) - 1)
	return unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil)
}

// TakeSIGPIPE dequeues a pending SIGPIPE without waiting and reports
// whether there was one.
func TakeSIGPIPE() bool {
	var set unix.Sigset_t
	set.Val[0] = 1 << (uint(unix.SIGPIPE) - 1)
	ts := unix.Timespec{}
	r, _, e := unix.RawSyscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&set)), 0, uintptr(unsafe.Pointer(&ts)), kernelSigsetSize, 0, 0)
	return e == 0 && r == uintptr(unix.SIGPIPE)
}
