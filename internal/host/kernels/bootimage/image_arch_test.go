package bootimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
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
		{"arm64 Image", cpu.ARM64, header(0x38, "ARM\x64")},
		{"RISC-V Image", cpu.RISCV64, header(0x30, "RISCV\x00\x00\x00RSC\x05")},
		{"ARM zImage", cpu.ARM, zimage},
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

// TestParseWrappedImages reads an arm64 Image inside gzip (Image.gz) and
// inside an EFI zboot image laid out as zboot-header.S writes it, and
// refuses wrappers that hold something else or are cut short.
func TestParseWrappedImages(t *testing.T) {
	banner := []byte("\x00Linux version 6.6.0-060600-generic (builder@host) #1 SMP\n\x00")
	image := make([]byte, 0x40)
	copy(image[0x38:], "ARM\x64")
	binary.LittleEndian.PutUint64(image[0x10:], uint64(0x40+len(banner)))
	image = append(image, banner...)
	gz := func(b []byte) []byte {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(b)
		require.NoError(t, zw.Close())
		return z.Bytes()
	}
	zboot := func(comp string, payload []byte, size int) []byte {
		b := make([]byte, 0x200)
		copy(b, "MZ")
		copy(b[4:], "zimg")
		binary.LittleEndian.PutUint32(b[8:], 0x200)
		binary.LittleEndian.PutUint32(b[12:], uint32(size))
		copy(b[0x18:], comp+"\x00")
		return append(b, payload...)
	}
	for _, tc := range []struct {
		name, wrapped, err string
		file               []byte
	}{
		{name: "Image.gz", file: gz(image), wrapped: "gzip"},
		{name: "EFI zboot", file: zboot("gzip", gz(image), len(gz(image))), wrapped: "EFI zboot (gzip)"},
		{name: "gzip of something else", file: gz([]byte("hello")), err: "gzip: what it holds is not an arm64 or RISC-V Image"},
		{name: "zboot cut short", file: zboot("gzip", gz(image)[:20], len(gz(image))), err: "truncated"},
		{name: "zboot of an unknown compression", file: zboot("brotli", gz(image), len(gz(image))), err: "unknown payload compression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := ParseImage(tc.file)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, cpu.ARM64, img.Arch)
			require.Equal(t, "6.6.0-060600-generic", img.Release)
			require.Equal(t, tc.wrapped, img.Wrapped)
		})
	}
}
