package distkeys

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPinned loads every embedded key file against its pins, and the
// Alpine RSA keys.
func TestPinned(t *testing.T) {
	for name := range pinned {
		keys, err := OpenPGP(name)
		require.NoError(t, err, name)
		require.NotEmpty(t, keys)
	}
	_, err := OpenPGP("nobody")
	require.ErrorContains(t, err, "no embedded keys")
	require.Contains(t, Names("fedora-"), "fedora-39")
	alpine, err := Alpine()
	require.NoError(t, err)
	require.Len(t, alpine, 18)
}
