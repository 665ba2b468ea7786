package mainline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestABIOfTag(t *testing.T) {
	for _, tc := range []struct {
		abi, tag string
		want     bool
	}{
		{"3.6.0-030600", "v3.6", true},
		{"4.19.10-041910", "v4.19.10", true},
		{"6.1.0-060100", "v6.1", true},
		{"5.0.0-050000rc3", "v5.0-rc3", true},
		{"2.6.32-02063227", "v2.6.32.27", true},
		{"2.6.38-020638", "v2.6.38", true},
		{"3.6.0-030600", "v6.1", false},
		{"5.0.0-050000rc3", "v5.0", false},
		{"5.0.0-050000", "v5.0-rc3", false},
		{"4.19.1-041901", "v4.19.10", false},
		{"4.19.10-041910", "v4.19.1", false},
	} {
		require.Equal(t, tc.want, abiOfTag(tc.abi, tc.tag), "%s %s", tc.abi, tc.tag)
	}
}
