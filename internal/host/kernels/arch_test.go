package kernels

import (
	"os"
	"regexp"
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
	// The Makefile builds the guest binaries for every row's GOARCH, and
	// for no other.
	mk, err := os.ReadFile("../../../Makefile")
	require.NoError(t, err)
	m := regexp.MustCompile(`for a in ([a-z0-9 ]+); do`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile's loop over guest architectures")
	var want []string
	for _, a := range archTable {
		want = append(want, a.goarch)
	}
	require.ElementsMatch(t, want, strings.Fields(string(m[1])))
	require.Equal(t, "x86", alpineArch(ArchI386))
	pkg, dir := rpmArch(ArchI386)
	require.Equal(t, []string{"i686", "i386"}, []string{pkg, dir})

	_, err = ParseArch("mips")
	require.ErrorContains(t, err, `unknown arch "mips"`)
	_, err = GOARCH("mips")
	require.Error(t, err)
}
