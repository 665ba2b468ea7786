package bootimage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// FuzzImage reads arbitrary bytes as a kernel image (bzImage, arm64 or
// RISC-V Image, gzip or EFI zboot wrapped, vmlinux), then as a kernel to
// find built-in drivers and an embedded .config in: no panic, and what is
// decompressed is bounded.
func FuzzImage(f *testing.F) {
	f.Add(archivetest.Image("6.1.0-9-amd64 (debian-kernel@lists.debian.org) #1 SMP", cpu.X86_64))
	f.Add(archivetest.Image("6.1.0-9-686 #1 SMP", cpu.I386))
	f.Add(archivetest.Image("6.1.0-9-arm64 #1 SMP", cpu.ARM64))
	f.Add(archivetest.BzImage("6.1.0 #1", false, []byte("IKCFG_ST\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03IKCFG_ED")))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := ParseImage(b)
		if err != nil {
			return
		}
		require.NotEmpty(t, img.Release)
		if payload, err := payloadOf(b, img.Protocol); err == nil {
			k, err := decompressKernel(context.Background(), "fuzz", payload, img.Compression)
			if err == nil {
				require.LessOrEqual(t, len(k), vmlinuxLimit(len(payload)))
				cfg, _ := configIn(k)
				require.LessOrEqual(t, len(cfg), maxConfig)
			}
		}
	})
}
