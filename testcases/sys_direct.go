//go:build linux && !386

package testcases

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendto is sendto(2) returning the byte count, which x/sys/unix drops;
// a system call of its own wherever there is no socketcall(2) (all but 386).
func sendto(fd int, p []byte, flags int, to unsafe.Pointer, size uintptr) (int, error) {
	ptr, n := uintptr(to), size
	r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), ptr, n)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
