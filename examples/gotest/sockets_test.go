package gotest

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// soPassPIDFD is SO_PASSPIDFD (Linux 6.5), which old headers lack.
const soPassPIDFD = 76

// TestLoopbackEcho sends the testdata greeting over loopback TCP and reads
// it back: it passes on every kernel.
func TestLoopbackEcho(t *testing.T) {
	want, err := os.ReadFile("testdata/greeting.txt")
	if err != nil {
		t.Fatalf("testdata did not ship with the test: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := c.Read(got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("echo: got %q, want %q", got, want)
	}
}

// TestPassPIDFD needs SO_PASSPIDFD (Linux 6.5): it skips where the kernel
// does not know the option, so its row differs across kernels.
func TestPassPIDFD(t *testing.T) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, soPassPIDFD, 1)
	if errors.Is(err, unix.ENOPROTOOPT) {
		t.Skip("SO_PASSPIDFD: ENOPROTOOPT (Linux before 6.5)")
	}
	if err != nil {
		t.Fatalf("setsockopt(SO_PASSPIDFD): %v", err)
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, soPassPIDFD)
	if err != nil || v != 1 {
		t.Fatalf("getsockopt(SO_PASSPIDFD) = %d, %v; want 1", v, err)
	}
}

// TestUname checks the kernel the test runs on, with a subtest per field.
func TestUname(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	t.Run("sysname", func(t *testing.T) {
		if got := unix.ByteSliceToString(u.Sysname[:]); got != "Linux" {
			t.Fatalf("sysname %q", got)
		}
	})
	t.Run("release", func(t *testing.T) {
		if r := unix.ByteSliceToString(u.Release[:]); !strings.Contains(r, ".") {
			t.Fatalf("release %q", r)
		}
		t.Logf("release %s", unix.ByteSliceToString(u.Release[:]))
	})
}
