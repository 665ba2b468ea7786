package cpu

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTable: every architecture's suffix reads back as itself, and the
// Makefile builds the guest binaries for every row's GOARCH and no other.
func TestTable(t *testing.T) {
	for _, a := range table {
		got, err := Parse(strings.TrimPrefix(Suffix(a.arch), "/"))
		require.NoError(t, err, a.arch)
		require.Equal(t, a.arch, got)
		goarch, err := GOARCH(a.arch)
		require.NoError(t, err)
		require.Equal(t, a.goarch, goarch)
	}
	mk, err := os.ReadFile("../../../../Makefile")
	require.NoError(t, err)
	m := regexp.MustCompile(`for a in ([a-z0-9 ]+); do`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile's loop over guest architectures")
	var want []string
	for _, a := range table {
		want = append(want, a.goarch)
	}
	require.ElementsMatch(t, want, strings.Fields(string(m[1])))
	require.Equal(t, "x86", Alpine(I386))
	pkg, dir := RPM(I386)
	require.Equal(t, []string{"i686", "i386"}, []string{pkg, dir})
	require.Len(t, All(), len(table))

	_, err = Parse("mips")
	require.ErrorContains(t, err, `unknown arch "mips"`)
	_, err = GOARCH("mips")
	require.Error(t, err)
}
