package kernels

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBuiltinDrivers(t *testing.T) {
	names := []string{"virtio_net", "e1000", "8139too", "pcnet32", "ne2k-pci"}
	for _, tc := range []struct {
		name    string
		payload string
		want    []string
	}{
		{"virtio and pcnet built in", "\x00virtio_net\x00\x00pcnet32\x00", []string{"virtio_net", "pcnet32"}},
		{"e1000e is not e1000", "\x00e1000e\x00", nil},
		{"a name inside a longer string is no driver", "\x00virtio_net: bad\x00", nil},
		{"nothing", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bzImage")
			require.NoError(t, os.WriteFile(p, fakeBzImageWith("6.1.0-test", ArchX86_64, []byte(tc.payload)), 0o644))
			got, err := BuiltinDrivers(context.Background(), p, names)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := BuiltinDrivers(context.Background(), "/etc/passwd", names)
	require.Error(t, err)
}
