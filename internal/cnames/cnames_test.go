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
