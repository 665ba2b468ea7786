package kernels

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseImageOtherArchitectures reads the headers of arm64 and RISC-V
// Images and a 32-bit ARM zImage built here in their documented layouts.
func TestParseImageOtherArchitectures(t *testing.T) {
	banner := []byte("\x00Linux version 6.12.0-test (builder@host) #1 SMP\n\x00")
	header := func(at int, magic string) []byte {
		b := make([]byte, 0x40)
		copy(b[at:], magic)
		binary.LittleEndian.PutUint64(b[0x10:], uint64(0x40+len(banner))) // image_size
		return append(b, banner...)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(append(bytes.Repeat([]byte{0}, 100), banner...))
	require.NoError(t, zw.Close())
	zimage := make([]byte, 0x200)
	binary.LittleEndian.PutUint32(zimage[0x24:], 0x016f2818)
	zimage = append(append(zimage, z.Bytes()...), 0, 0, 0, 0) // the kernel appends the size

	for _, tc := range []struct {
		name, arch string
		image      []byte
	}{
		{"arm64 Image", ArchARM64, header(0x38, "ARM\x64")},
		{"RISC-V Image", ArchRISCV64, header(0x30, "RISCV\x00\x00\x00RSC\x05")},
		{"ARM zImage", ArchARM, zimage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := ParseImage(tc.image)
			require.NoError(t, err)
			require.Equal(t, tc.arch, img.Arch)
			require.Equal(t, "6.12.0-test", img.Release)
		})
	}
	_, err := ParseImage(append(header(0x38, "ARM\x64")[:0x40], []byte("no banner")...))
	require.ErrorContains(t, err, "no kernel version string")
}
