package cnames

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestNames(t *testing.T) {
	table := []Bit{{0x4000, "MSG_NOSIGNAL"}, {0x20000000, "MSG_FASTOPEN"}}
	for _, tc := range []struct {
		v    int
		want string
	}{
		{0, "0"},
		{0x20004000, "MSG_NOSIGNAL|MSG_FASTOPEN"},
		{int(int32(-0x80000000)), "0x80000000"},
		{0x4001, "MSG_NOSIGNAL|0x1"},
	} {
		require.Equal(t, tc.want, Flags(tc.v, table))
	}
	require.Equal(t, "POLLIN|POLLHUP", Poll(unix.POLLIN|unix.POLLHUP|unix.POLLNVAL))
	require.Equal(t, "0", Poll(unix.POLLNVAL))
}

// TestStraceNames: options and errnos are named as strace names them, the
// kernel-internal errnos too (the net selftests showed optname=15, 26, 36,
// 60, 61 and errno524 where strace says SO_REUSEPORT, IPV6_V6ONLY, TCP_INQ,
// SO_ZEROCOPY, SO_TXTIME and ENOTSUPP).
func TestStraceNames(t *testing.T) {
	for _, tc := range []struct {
		level, opt   int
		lname, oname string
	}{
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, "SOL_SOCKET", "SO_REUSEPORT"},
		{unix.IPPROTO_IPV6, 26, "SOL_IPV6", "IPV6_V6ONLY"},
		{unix.IPPROTO_TCP, 36, "SOL_TCP", "TCP_INQ"},
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, "SOL_SOCKET", "SO_ZEROCOPY"},
		{unix.SOL_SOCKET, unix.SO_TXTIME, "SOL_SOCKET", "SO_TXTIME"},
		{unix.IPPROTO_IP, unix.IP_TOS, "SOL_IP", "IP_TOS"},
		{unix.IPPROTO_TCP, 999, "SOL_TCP", "999"},
		{77, 1, "77", "1"},
	} {
		l, o := Sockopt(tc.level, tc.opt)
		require.Equal(t, tc.lname+" "+tc.oname, l+" "+o)
	}
	require.Equal(t, "IPPROTO_ICMP", Protocol(unix.AF_INET, 1))
	require.Equal(t, "IPPROTO_IP", Protocol(unix.AF_INET6, 0))
	require.Equal(t, "0", Protocol(unix.AF_UNIX, 0))
	require.Equal(t, "ENOTSUPP", Errno(524))
	require.Equal(t, "EOPNOTSUPP", Errno(unix.EOPNOTSUPP))
	require.Equal(t, "ECONNREFUSED", Errno(unix.ECONNREFUSED))
	require.Equal(t, "errno600", Errno(600))
	e, ok := InternalErrno("ENOTSUPP")
	require.True(t, ok)
	require.Equal(t, unix.Errno(524), e)
}
