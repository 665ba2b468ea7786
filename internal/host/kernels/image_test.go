package kernels

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// TestArchOfDebianImages reads the arch and release of real Debian images
// (fetched through apt into the user's cache): the 32-bit flavour must be
// told apart from the 64-bit one, since it needs GOARCH=386 guest binaries.
func TestArchOfDebianImages(t *testing.T) {
	dir, err := store.DefaultCacheDir()
	require.NoError(t, err)
	r := &Resolver{Cache: store.Cache{Dir: dir}}
	for _, tc := range []struct {
		ref, arch, releaseSuffix string
	}{
		{"debian:6.1", cpu.X86_64, "-amd64"},
		{"debian:6.1@bookworm/i686", cpu.I386, "-686"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(context.Background(), tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.Regexp(t, `^(6\.1|5\.10)\.\d+-\d+`+tc.releaseSuffix+`$`, k.Image.Release)
			b, err := os.ReadFile(k.Path)
			require.NoError(t, err)
			img, err := bootimage.ParseImage(b)
			require.NoError(t, err)
			require.Equal(t, k.Image, img)
		})
	}
}
