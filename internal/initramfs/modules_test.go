package initramfs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModuleName(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		ok         bool
	}{
		{"virtio_net.ko", "virtio_net", true},
		{"virtio-net.ko.xz", "virtio_net", true},
		{"e1000.ko.zst", "e1000", true},
		{"modules.dep", "", false},
	} {
		got, ok := moduleName(tc.file)
		require.Equal(t, tc.ok, ok, tc.file)
		require.Equal(t, tc.want, got, tc.file)
	}
}
