package bootimage

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxUnwrapped bounds the kernel decompressed out of a wrapped image.
const maxUnwrapped = 256 << 20

// Unwrap returns the kernel image inside a gzip file (an arm64 or RISC-V
// Image.gz, as Ubuntu ships arm64 kernels) or an EFI zboot image
// (CONFIG_EFI_ZBOOT: "MZ", then "zimg", the payload's offset and size,
// and its compression's name at 0x18, per
// drivers/firmware/efi/libstub/zboot-header.S), and how it was wrapped.
// QEMU 7.2 boots neither form on every architecture, so runmatrix boots
// the image inside. ok is false for any other file.
func Unwrap(ctx context.Context, b []byte) (inner []byte, how string, ok bool, err error) {
	le := binary.LittleEndian
	how = Wrapping(b)
	limit := min(maxUnwrapped, vmlinuxLimit(len(b)))
	switch {
	case how == "gzip":
		inner, err = decompress(ctx, b, "gzip", limit+1)
	case how != "":
		off, size := int64(le.Uint32(b[8:])), int64(le.Uint32(b[12:]))
		comp, _, _ := strings.Cut(string(b[0x18:0x40]), "\x00")
		if off+size > int64(len(b)) || size == 0 {
			return nil, how, true, fmt.Errorf("%w: EFI zboot payload at %d+%d, file of %d bytes", ErrTruncated, off, size, len(b))
		}
		if comp == "lzma" || comp == "xzkern" {
			comp = map[string]string{"lzma": "lzma", "xzkern": "xz"}[comp]
		}
		inner, err = decompress(ctx, b[off:off+size], comp, limit+1)
	default:
		return nil, "", false, nil
	}
	switch {
	case err != nil:
		return nil, how, true, fmt.Errorf("%s: %w", how, err)
	case len(inner) > limit:
		return nil, how, true, fmt.Errorf("%s: the image inside %w (more than %d MiB from %d KiB)", how, ErrBomb, limit>>20, len(b)>>10)
	case !isARM64Image(inner) && !isRISCVImage(inner):
		return nil, how, true, fmt.Errorf("%s: what it holds is not an arm64 or RISC-V Image", how)
	}
	return inner, how, true, nil
}

// Wrapping says how a file whose first bytes are head wraps a kernel
// image ("gzip", "EFI zboot (zstd)"), or "" for any other file; 64 bytes
// of head are enough.
func Wrapping(head []byte) string {
	switch {
	case len(head) >= 3 && string(head[:3]) == "\x1f\x8b\x08":
		return "gzip"
	case len(head) >= 0x40 && string(head[:2]) == "MZ" && string(head[4:8]) == "zimg":
		comp, _, _ := strings.Cut(string(head[0x18:0x40]), "\x00")
		return "EFI zboot (" + comp + ")"
	}
	return ""
}

// WrappingOf is Wrapping for the file at path ("" if it cannot be read).
func WrappingOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 0x40)
	n, _ := io.ReadFull(f, head)
	return Wrapping(head[:n])
}
