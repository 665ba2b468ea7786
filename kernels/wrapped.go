package kernels

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
)

// maxUnwrapped bounds the kernel decompressed out of a wrapped image.
const maxUnwrapped = 256 << 20

// unwrap returns the kernel image inside a gzip file (an arm64 or RISC-V
// Image.gz, as Ubuntu ships arm64 kernels) or an EFI zboot image
// (CONFIG_EFI_ZBOOT: "MZ", then "zimg", the payload's offset and size,
// and its compression's name at 0x18, per
// drivers/firmware/efi/libstub/zboot-header.S), and how it was wrapped.
// QEMU 7.2 boots neither form on every architecture, so runmatrix boots
// the image inside. ok is false for any other file.
func unwrap(ctx context.Context, b []byte) (inner []byte, how string, ok bool, err error) {
	le := binary.LittleEndian
	switch {
	case len(b) >= 3 && string(b[:3]) == "\x1f\x8b\x08":
		inner, err = decompress(ctx, b, "gzip", maxUnwrapped+1)
		how = "gzip"
	case len(b) >= 0x40 && string(b[:2]) == "MZ" && string(b[4:8]) == "zimg":
		off, size := int64(le.Uint32(b[8:])), int64(le.Uint32(b[12:]))
		comp, _, _ := strings.Cut(string(b[0x18:0x40]), "\x00")
		how = "EFI zboot (" + comp + ")"
		if off+size > int64(len(b)) || size == 0 {
			return nil, how, true, fmt.Errorf("%w: EFI zboot payload at %d+%d, file of %d bytes", ErrTruncated, off, size, len(b))
		}
		if comp == "lzma" || comp == "xzkern" {
			comp = map[string]string{"lzma": "lzma", "xzkern": "xz"}[comp]
		}
		inner, err = decompress(ctx, b[off:off+size], comp, maxUnwrapped+1)
	default:
		return nil, "", false, nil
	}
	switch {
	case err != nil:
		return nil, how, true, fmt.Errorf("%s: %w", how, err)
	case len(inner) > maxUnwrapped:
		return nil, how, true, fmt.Errorf("%s: the image inside is larger than %d MiB", how, maxUnwrapped>>20)
	case !isARM64Image(inner) && !isRISCVImage(inner):
		return nil, how, true, fmt.Errorf("%s: what it holds is not an arm64 or RISC-V Image", how)
	}
	return inner, how, true, nil
}

// unwrapped writes the image inside a wrapped file to the cache (once,
// named by the wrapper's digest) and returns its path.
func (r *Resolver) unwrapped(path, digest string) (string, error) {
	dst, err := r.Cache.Path("unwrapped", digest)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	inner, _, _, err := unwrap(context.Background(), b)
	if err != nil {
		return "", err
	}
	f, err := r.Cache.TempFile()
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(inner); err != nil {
		f.Close()
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return dst, nil
}
