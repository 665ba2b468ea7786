package kernels

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestUnwrappedCacheChecked: the image unwrapped from an Image.gz into the
// cache is used only while it is the one recorded; an altered one (still
// a readable image) is unwrapped again.
func TestUnwrappedCacheChecked(t *testing.T) {
	gz := archivetest.Image("6.6.0-1-arm64 (x@y) #1 SMP", cpu.ARM64) // an Image.gz
	path := filepath.Join(t.TempDir(), "Image.gz")
	require.NoError(t, os.WriteFile(path, gz, 0o644))
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	k, err := r.Resolve(context.Background(), path)
	require.NoError(t, err)
	require.Equal(t, "gzip", k.Image.Wrapped)
	good, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(k.Path, append(bytes.Clone(good), "tampered"...), 0o644))
	k, err = r.Resolve(context.Background(), path)
	require.NoError(t, err)
	got, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	require.Equal(t, good, got, "unwrapped again")
}
