// Package fastopen is a user's go test package using only x/sys/unix.
package fastopen

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

const msgFastOpen = 0x20000000

func listener(t *testing.T) (int, int) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// TestSendtoFastOpen fails where sendto(MSG_FASTOPEN) on a fresh socket
// does not connect (before 3.6 it fails with EPIPE and raises SIGPIPE,
// which Go ignores for non-stdout descriptors).
func TestSendtoFastOpen(t *testing.T) {
	_, port := listener(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Sendto(fd, []byte("hello"), msgFastOpen, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skip("TFO client off (net.ipv4.tcp_fastopen bit 1)")
	}
	if err != nil {
		t.Fatalf("sendto(MSG_FASTOPEN): %v", err)
	}
}

// TestLoopback passes everywhere.
func TestLoopback(t *testing.T) {
	_, port := listener(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
		t.Fatal(err)
	}
}
