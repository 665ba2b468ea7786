package bootimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// allocated is how many bytes fn allocated on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecompressionBombRefused: a small bzImage whose zstd payload
// expands to 900 MiB (or a gzip Image.gz that expands to 600 MiB) is
// refused as no kernel, every way it is read (drivers, config, wrapped
// image), with the runner's allocations bounded; before, reading its
// drivers allocated over 2 GiB.
func TestDecompressionBombRefused(t *testing.T) {
	var z bytes.Buffer
	zw, err := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	require.NoError(t, err)
	_, err = zw.Write(archivetest.ELFStart(false))
	require.NoError(t, err)
	zero := make([]byte, 1<<20)
	for i := 0; i < 900; i++ {
		_, err = zw.Write(zero)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	img := archivetest.BzImagePayload("6.1.0-bomb (x@y) #1 SMP", z.Bytes())
	require.Less(t, len(img), 256<<10, "a small file")
	path := filepath.Join(t.TempDir(), "bzImage")
	require.NoError(t, os.WriteFile(path, img, 0o644))
	ctx := context.Background()

	_, err = ParseImage(img)
	require.NoError(t, err, "its header is read without decompressing it whole")
	for name, read := range map[string]func() error{
		"drivers": func() error { _, err := BuiltinDrivers(ctx, path, []string{"virtio_net"}); return err },
		"config":  func() error { _, err := ImageConfig(ctx, path); return err },
	} {
		var err error
		n := allocated(func() { err = read() })
		require.ErrorIs(t, err, ErrBomb, name)
		require.Contains(t, err.Error(), "it is not a kernel image")
		require.Less(t, n, uint64(128<<20), "%s allocated %d MiB", name, n>>20)
		t.Logf("%s: refused after allocating %d MiB: %v", name, n>>20, err)
	}

	// A gzip "Image.gz" (arm64's wrapping) whose inside is 600 MiB.
	var g bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&g, gzip.BestSpeed)
	head := make([]byte, 0x40)
	copy(head[0x38:], "ARM\x64")
	gw.Write(head)
	for i := 0; i < 600; i++ {
		gw.Write(zero)
	}
	require.NoError(t, gw.Close())
	var perr error
	n := allocated(func() { _, perr = ParseImage(g.Bytes()) })
	require.ErrorIs(t, perr, ErrBomb)
	require.Less(t, n, uint64(128<<20), "allocated %d MiB", n>>20)
}
