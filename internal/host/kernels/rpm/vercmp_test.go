package rpm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.6.32-504.el6", "2.6.32-431.29.2.el6", 1},
		{"431.el6", "431.29.2.el6", -1},
		{"3.10.0-1160.el7", "3.10.0-1160.119.1.el7", -1},
		{"1.0", "1.0", 0},
		{"1.0a", "1.0", 1},
		{"1.0~rc1", "1.0", -1},
		{"10", "9", 1},
		{"1.a", "1.1", -1},
		{"6.5.6-300.fc39", "6.5.12-300.fc39", -1},
	} {
		require.Equal(t, tc.want, CompareVersions(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
		require.Equal(t, -tc.want, CompareVersions(tc.b, tc.a), "%s vs %s", tc.b, tc.a)
	}
}
