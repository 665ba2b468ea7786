package bootimage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
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
			require.NoError(t, os.WriteFile(p, archivetest.ImageWith("6.1.0-test", cpu.X86_64, []byte(tc.payload)), 0o644))
			got, err := BuiltinDrivers(context.Background(), p, names)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := BuiltinDrivers(context.Background(), "/etc/passwd", names)
	require.Error(t, err)
}

func TestCachedBuiltinDrivers(t *testing.T) {
	c := store.Cache{Dir: t.TempDir()}
	p := filepath.Join(t.TempDir(), "bzImage")
	require.NoError(t, os.WriteFile(p, archivetest.ImageWith("6.1.0-test", cpu.X86_64, []byte("\x00e1000\x00")), 0o644))
	sum, err := store.FileSHA256(p)
	require.NoError(t, err)
	got, err := CachedBuiltinDrivers(context.Background(), c, p, sum, []string{"e1000", "virtio_net"})
	require.NoError(t, err)
	require.Equal(t, []string{"e1000"}, got)
	// The answer is remembered by digest: the file is not read again.
	require.NoError(t, os.WriteFile(p, []byte("gone"), 0o644))
	got, err = CachedBuiltinDrivers(context.Background(), c, p, sum, []string{"e1000", "virtio_net"})
	require.NoError(t, err)
	require.Equal(t, []string{"e1000"}, got)
	// Another list of names is another question.
	_, err = CachedBuiltinDrivers(context.Background(), c, p, sum, []string{"pcnet32"})
	require.Error(t, err)
}
