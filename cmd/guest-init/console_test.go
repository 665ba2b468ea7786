package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestWritable: a console whose other end is gone (a tty in error, as the
// goldfish kernels' serial console whose IRQ is taken) is not writable; a
// live one is, and the test prints nothing on it.
func TestWritable(t *testing.T) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer unix.Close(master)
	require.NoError(t, unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	require.NoError(t, err)
	open := func() int {
		fd, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY, 0)
		require.NoError(t, err)
		return fd
	}
	live := open()
	require.True(t, writable(live))
	unix.Close(live)
	dead := open()
	unix.Close(master) // the slave is hung up: every write is EIO
	require.False(t, writable(dead))
}
