package testcases

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketcallSendto is SYS_SENDTO for socketcall(2), the only way to reach
// socket calls on i386 kernels before 4.3.
const socketcallSendto = 11

// sendto is sendto(2) returning the byte count, which x/sys/unix drops.
func sendto(fd int, p []byte, flags int, to unsafe.Pointer, size uintptr) (int, error) {
	ptr, n := uintptr(to), size
	args := [6]uintptr{uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), ptr, n}
	r, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallSendto, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(to)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
