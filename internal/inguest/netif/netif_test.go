package netif

import (
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestAddr6 gives the loopback of a fresh network namespace an IPv6
// address, binds to it, and takes it away again.
func TestAddr6(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		bind := func(a netip.Addr) error {
			fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Bind(fd, &unix.SockaddrInet6{Addr: a.As16()})
		}
		a := netip.MustParseAddr("fd12:3456::1")
		if err := Up("lo", "127.0.0.1", "255.0.0.0"); err != nil {
			t.Errorf("up: %v", err)
			return
		}
		if err := bind(a); err != unix.EADDRNOTAVAIL {
			t.Errorf("before: bind gave %v, want EADDRNOTAVAIL", err)
		}
		if err := AddAddr6("lo", a); err != nil {
			t.Errorf("add: %v", err)
			return
		}
		if err := bind(a); err != nil {
			t.Errorf("bind to the added address: %v", err)
		}
		if err := DelAddr6("lo", a); err != nil {
			t.Errorf("delete: %v", err)
		}
		if err := bind(a); err != unix.EADDRNOTAVAIL {
			t.Errorf("after: bind gave %v, want EADDRNOTAVAIL", err)
		}
	}()
	<-done
	require.Error(t, AddAddr6("lo", netip.MustParseAddr("127.0.0.1")), "an IPv4 address")
}
