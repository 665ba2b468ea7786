package kernels

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArchTable: every architecture's suffix reads back as itself, and
// its Debian image package names are recognised.
func TestArchTable(t *testing.T) {
	for _, a := range archTable {
		got, err := ParseArch(strings.TrimPrefix(ArchSuffix(a.arch), "/"))
		require.NoError(t, err, a.arch)
		require.Equal(t, a.arch, got)
		goarch, err := GOARCH(a.arch)
		require.NoError(t, err)
		require.Equal(t, a.goarch, goarch)
		require.True(t, imagePackage.MatchString("linux-image-6.12.118+deb13-"+a.flavour), a.flavour)
	}
	_, err := ParseArch("mips")
	require.ErrorContains(t, err, `unknown arch "mips"`)
	_, err = GOARCH("mips")
	require.Error(t, err)
}
