package kernels

import (
	"bytes"
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
	f.Add(fakeBzImage("6.1.0-9-amd64 (debian-kernel@lists.debian.org) #1 SMP", cpu.X86_64))
	f.Add(fakeBzImage("6.1.0-9-686 #1 SMP", cpu.I386))
	f.Add(fakeBzImage("6.1.0-9-arm64 #1 SMP", cpu.ARM64))
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

// FuzzChecksums parses arbitrary mainline CHECKSUMS files and tag listings.
func FuzzChecksums(f *testing.F) {
	f.Add([]byte("# Checksums-Sha256:\n"+string(bytes.Repeat([]byte("a"), 64))+"  linux-image-unsigned-6.1.0-060100-generic_6.1.0-060100.202212112330_amd64.deb\n"), "v6.1")
	f.Fuzz(func(t *testing.T, b []byte, tag string) {
		for name, sum := range parseChecksums(b) {
			require.Len(t, sum, 64, name)
			if g := mainlineImage.FindStringSubmatch(name); g != nil {
				_ = abiOfTag(g[1], tag)
			}
		}
	})
}
