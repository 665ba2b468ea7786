package kernels

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit/kittest"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestReferenceNamesArch resolves image files that name their arch
// (PATH/ARCH): the right arch resolves, a wrong one is refused as input,
// and a path that merely ends in an arch name is still a missing file.
func TestReferenceNamesArch(t *testing.T) {
	dir := t.TempDir()
	x86 := filepath.Join(dir, "bzImage")
	require.NoError(t, os.WriteFile(x86, archivetest.Image("6.1.0-test (t@e) #1", cpu.X86_64), 0o644))
	arm := filepath.Join(dir, "Image.gz")
	require.NoError(t, os.WriteFile(arm, archivetest.Image("6.6.0-test (t@e) #1", cpu.ARM64), 0o644))
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	ctx := context.Background()

	k, err := r.Resolve(ctx, arm+"/arm64")
	require.NoError(t, err)
	require.Equal(t, cpu.ARM64, k.Image.Arch)
	require.Equal(t, arm, k.Origin.File)
	require.NotEqual(t, arm, k.Path, "the Image inside is booted")
	k, err = r.Resolve(ctx, x86+"/amd64")
	require.NoError(t, err)
	require.Equal(t, cpu.X86_64, k.Image.Arch)

	_, err = r.Resolve(ctx, x86+"/arm64")
	kittest.RequireInputError(t, err, "the image is x86_64, not aarch64 as the reference says; give the image of that arch, or name its own (amd64) or none")
	_, err = r.Resolve(ctx, filepath.Join(dir, "nothing", "arm64"))
	kittest.RequireInputError(t, err, "no such file")
}
