package debarchive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareDebianVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"6.1.99-1", "6.1.100-1", -1},
		{"6.12.9-1", "6.12.9-1~bpo12+1", 1},
		{"1:1.0", "2.0", 1},
		{"2.6.32-48squeeze6", "2.6.32-48", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0", 0},
		{"1.0a", "1.0+", -1},
	} {
		got := CompareVersions(tc.a, tc.b)
		require.Equal(t, tc.want, sign(got), "%s vs %s", tc.a, tc.b)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
