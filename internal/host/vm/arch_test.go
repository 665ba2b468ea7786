package vm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

func TestArchTrusted(t *testing.T) {
	s390, err := ArchOf("s390x")
	require.NoError(t, err)
	ok, why := s390.Trusted("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
	require.False(t, ok)
	require.Contains(t, why, "QEMU 7.2 is older than 8.1")
	ok, _ = s390.Trusted("QEMU emulator version 9.2.0")
	require.True(t, ok)
	x86, err := ArchOf("")
	require.NoError(t, err)
	ok, _ = x86.Trusted("QEMU emulator version 7.2.22")
	require.True(t, ok)
	_, err = ArchOf("mips")
	require.ErrorContains(t, err, "no QEMU machine")
}

// TestArchBinary: the configured QEMU (--qemu) is the x86 binary; every
// other architecture runs under its own.
func TestArchBinary(t *testing.T) {
	for _, tc := range []struct{ arch, configured, want string }{
		{"x86_64", "/opt/qemu", "/opt/qemu"},
		{"i386", "", DefaultQEMU},
		{"aarch64", "/opt/qemu", "qemu-system-aarch64"},
		{"ppc64le", "", "qemu-system-ppc64"},
	} {
		a, err := ArchOf(tc.arch)
		require.NoError(t, err)
		require.Equal(t, tc.want, a.Binary(tc.configured), tc.arch)
	}
}

// TestSecondChannelDevice: what QEMU attaches the second channel to is the
// device the guest's init opens (bootproto.SerialDeviceOf its GOARCH): a
// virtio console is hvc0, pseries' second spapr-vty hvc1, a PC's second
// UART ttyS1.
func TestSecondChannelDevice(t *testing.T) {
	for _, a := range arches {
		goarch, err := cpu.GOARCH(a.Name)
		require.NoError(t, err, a.Name)
		args := strings.Join(a.portArgs("c"), " ")
		want := "/dev/ttyS1"
		switch {
		case strings.Contains(args, "virtconsole"):
			want = "/dev/hvc0"
		case a.Console == "hvc0":
			want = "/dev/hvc1" // the console is the first spapr-vty
		}
		require.Equal(t, want, bootproto.SerialDeviceOf(goarch), a.Name)
	}
}
