// Package bootimage reads Linux boot images: the architecture, release and
// compression a bzImage, Image, zImage or vmlinux says it has, the kernel
// wrapped inside gzip or EFI zboot, its embedded .config and built-in drivers.
package bootimage

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
)

// ErrNotKernel is returned for a file that is no Linux boot image runmatrix knows.
var ErrNotKernel = errors.New("not a Linux boot image")

// ErrTruncated is returned for a boot image shorter than its header says.
var ErrTruncated = errors.New("truncated boot image")

// Image is what a bzImage says about itself.
type Image struct {
	// Version is the whole kernel_version string, e.g. "6.1.0-26-amd64 (debian-kernel@…) #1 SMP …".
	Version string `json:"version"`
	// Release is the first word of Version, what `uname -r` prints in the guest.
	Release string `json:"release"`
	// Arch is cpu.X86_64 or cpu.I386, read from the ELF class of the compressed payload.
	Arch string `json:"arch"`
	// Protocol is the boot protocol version, e.g. 0x20f.
	Protocol uint16 `json:"protocol"`
	// Compression names the payload's compression (gzip, xz, …).
	Compression string `json:"compression"`
	// CmdlineSize is the longest kernel command line the image takes.
	CmdlineSize int `json:"cmdline_size"`
	// Wrapped says how the file wraps the image booted ("gzip", "EFI
	// zboot (zstd)"), or is empty.
	Wrapped string `json:"wrapped,omitempty"`
}

// ReadImage parses the boot image at path.
func ReadImage(path string) (Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Image{}, err
	}
	img, err := ParseImage(b)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// ParseImage parses a boot image held in memory: an x86 bzImage, an arm64
// Image (Documentation/arch/arm64/booting.rst), a RISC-V Image, an ARM
// zImage, a ppc64el vmlinux, an s390x image, or an arm64 or RISC-V Image
// inside gzip or an EFI zboot image.
func ParseImage(b []byte) (Image, error) {
	if inner, how, ok, err := Unwrap(context.Background(), b); ok {
		if err != nil {
			return Image{}, err
		}
		img, err := ParseImage(inner)
		img.Wrapped = how
		return img, err
	}
	if isARM64Image(b) {
		return parseImageHeader(b, cpu.ARM64, 2048) // arm64 COMMAND_LINE_SIZE
	}
	if isRISCVImage(b) {
		return parseImageHeader(b, cpu.RISCV64, 1024) // riscv COMMAND_LINE_SIZE
	}
	if isARMzImage(b) {
		return parseCompressed(b, cpu.ARM, 1024) // arm COMMAND_LINE_SIZE
	}
	if isS390Image(b) {
		return parseCompressed(b, cpu.S390X, 4096) // s390 COMMAND_LINE_SIZE (default)
	}
	if isPPC64LEvmlinux(b) {
		return parseImageHeader(b, cpu.PPC64LE, 2048) // powerpc COMMAND_LINE_SIZE
	}
	if len(b) < 0x250 || string(b[0x202:0x206]) != "HdrS" {
		if len(b) >= 0x206 && b[0x1fe] == 0x55 && b[0x1ff] == 0xaa && len(b) < 0x250 {
			return Image{}, fmt.Errorf("%w: only %d bytes", ErrTruncated, len(b))
		}
		return Image{}, ErrNotKernel
	}
	le := binary.LittleEndian
	img := Image{Protocol: le.Uint16(b[0x206:])}
	if img.Protocol < 0x200 {
		return Image{}, fmt.Errorf("boot protocol %#x is older than 2.00: unsupported", img.Protocol)
	}
	img.CmdlineSize = 255 // boot protocols before 2.06
	if img.Protocol >= 0x206 {
		img.CmdlineSize = int(le.Uint32(b[0x238:]))
	}
	setupEnd := setupEnd(b)
	sysSize := int64(le.Uint32(b[0x1f4:])) * 16
	// syssize counts 16-byte paragraphs, rounded up: an image may end up
	// to 15 bytes before it (Linux 2.4 and 2.6 builds do).
	if want := int64(setupEnd) + sysSize; int64(len(b)) < want-15 {
		return Image{}, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, len(b), want)
	}
	if off := int(le.Uint16(b[0x20e:])) + 0x200; off < setupEnd {
		s := b[off:setupEnd]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		img.Version = string(s)
		if f := strings.Fields(img.Version); len(f) > 0 {
			img.Release = f[0]
		}
	}
	if img.Release == "" {
		return Image{}, errors.New("boot image has no kernel version string")
	}
	arch, comp, err := payloadArch(b, img.Protocol)
	if err != nil {
		return Image{}, err
	}
	img.Arch, img.Compression = arch, comp
	return img, nil
}

// arm64Magic is an arm64 Image's magic, at offset 0x38 of its header.
const arm64Magic = "ARM\x64"

func isARM64Image(b []byte) bool { return len(b) >= 0x40 && string(b[0x38:0x3c]) == arm64Magic }

// isRISCVImage: a RISC-V Image has "RISCV\0\0\0" at 0x30 and "RSC\x05" at
// 0x38 (Documentation/arch/riscv/boot-image-header.rst).
func isRISCVImage(b []byte) bool {
	return len(b) >= 0x40 && string(b[0x30:0x38]) == "RISCV\x00\x00\x00" && string(b[0x38:0x3c]) == "RSC\x05"
}

// isPPC64LEvmlinux: ppc64el kernels boot as an ELF vmlinux (little-endian,
// 64-bit, EM_PPC64), which QEMU's pseries loads as is.
func isPPC64LEvmlinux(b []byte) bool {
	return len(b) >= 0x40 && string(b[:4]) == "\x7fELF" && b[4] == 2 && b[5] == 1 && binary.LittleEndian.Uint16(b[0x12:]) == 21
}

// isS390Image: an s390x boot image has its parameter area, marked
// "S390EP", at 0x10008 (arch/s390/boot/head.S).
func isS390Image(b []byte) bool { return len(b) >= 0x10010 && string(b[0x10008:0x1000e]) == "S390EP" }

// isARMzImage: a 32-bit ARM zImage has 0x016F2818 at 0x24
// (arch/arm/boot/compressed/head.S).
func isARMzImage(b []byte) bool {
	return len(b) >= 0x30 && binary.LittleEndian.Uint32(b[0x24:]) == 0x016f2818
}

// parseCompressed reads the version banner of the kernel compressed
// inside a boot image (an ARM zImage, an s390x image).
func parseCompressed(b []byte, arch string, cmdline int) (Image, error) {
	k, comp, err := embeddedKernel(context.Background(), b, 32<<20)
	if err != nil {
		return Image{}, fmt.Errorf("%s image: %w", arch, err)
	}
	v := bannerIn(k)
	img, err := parseImageHeader(k[v:], arch, cmdline)
	img.Compression = comp
	return img, err
}

// bannerIn is where the kernel's "Linux version RELEASE" banner starts in
// b (not a "Linux version %s" format string), or -1.
func bannerIn(b []byte) int {
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("Linux version "))
		if i < 0 {
			return -1
		}
		off += i
		if n := off + len("Linux version "); n < len(b) && b[n] >= '0' && b[n] <= '9' {
			return off
		}
		off++
	}
}

// embeddedKernel finds the compressed kernel inside a boot image (xz,
// gzip, zstd, lz4 or lzo: the stream that decompresses to a kernel with a
// version banner) and returns it, or its first limit bytes when it is
// longer (see decompress for limit <= 0).
func embeddedKernel(ctx context.Context, b []byte, limit int) ([]byte, string, error) {
	for _, c := range []struct {
		name  string
		magic string
	}{{"xz", "\xfd7zXZ\x00"}, {"zstd", "\x28\xb5\x2f\xfd"}, {"gzip", "\x1f\x8b\x08"}, {"lz4", "\x02\x21\x4c\x18"}, {"lzo", "\x89LZO"}} {
		for off := 0; ; off++ {
			i := bytes.Index(b[off:], []byte(c.magic))
			if i < 0 {
				break
			}
			off += i
			if k, err := decompress(ctx, b[off:], c.name, limit); err == nil && bannerIn(k) >= 0 {
				return k, c.name, nil
			}
		}
	}
	return nil, "", errors.New("no kernel with a version string in its compressed payload")
}

// parseImageHeader reads an uncompressed arm64 or RISC-V Image, whose
// headers share their layout: the size (image_size at 0x10) and the
// version string from the "Linux version" banner in the kernel. QEMU and
// the kernel's EFI stub load it as is.
func parseImageHeader(b []byte, arch string, cmdline int) (Image, error) {
	le := binary.LittleEndian
	if len(b) >= 0x18 && (arch == cpu.ARM64 || arch == cpu.RISCV64) {
		if size := int64(le.Uint64(b[0x10:])); size > 0 && int64(len(b)) < size/4 {
			// image_size includes the BSS; the file is shorter, never this short.
			return Image{}, fmt.Errorf("%w: %d bytes of an image of %d", ErrTruncated, len(b), size)
		}
	}
	img := Image{Arch: arch, Compression: "none", CmdlineSize: cmdline}
	i := bannerIn(b)
	if i < 0 {
		return Image{}, fmt.Errorf("%s image has no kernel version string", arch)
	}
	v := b[i+len("Linux version "):]
	if j := bytes.IndexAny(v, "\x00\n"); j >= 0 {
		v = v[:j]
	}
	img.Version = string(v)
	if f := strings.Fields(img.Version); len(f) > 0 {
		img.Release = f[0]
	}
	if img.Release == "" {
		return Image{}, fmt.Errorf("%s image has no kernel version string", arch)
	}
	return img, nil
}

// setupEnd is where a boot image's setup code ends and the protected-mode
// part (with the compressed payload) begins.
func setupEnd(b []byte) int {
	setupSects := int(b[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	return (setupSects + 1) * 512
}

// payloadOf returns the compressed kernel inside a boot image whose
// header is already known to be whole (ParseImage checks that).
func payloadOf(b []byte, proto uint16) ([]byte, error) {
	if proto < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x has no payload pointer (needs 2.08, Linux 2.6.26+)", proto)
	}
	le := binary.LittleEndian
	off, n := int(le.Uint32(b[0x248:])), int(le.Uint32(b[0x24c:]))
	start := setupEnd(b) + off
	if start < 0 || n <= 0 || start+n > len(b) {
		return nil, fmt.Errorf("%w: payload %d+%d lies past the end (%d bytes)", ErrTruncated, start, n, len(b))
	}
	return b[start : start+n], nil
}

// payloadArch decompresses the start of the payload and reads its ELF class;
// images older than boot protocol 2.08 have no payload pointer and are x86 only
// by their xloadflags-less header, so they are refused.
func payloadArch(b []byte, proto uint16) (arch, compression string, err error) {
	payload, err := payloadOf(b, proto)
	if err != nil {
		return "", "", err
	}
	compression = compressionOf(payload)
	head, derr := decompressHead(payload, compression, 64)
	if derr == nil && len(head) >= 5 && string(head[:4]) == "\x7fELF" {
		switch head[4] {
		case 1:
			return cpu.I386, compression, nil
		case 2:
			return cpu.X86_64, compression, nil
		}
	}
	// Fall back on xloadflags (protocol 2.12+) when the payload cannot be read.
	if proto >= 0x20c {
		if binary.LittleEndian.Uint16(b[0x236:])&1 != 0 {
			return cpu.X86_64, compression, nil
		}
		return cpu.I386, compression, nil
	}
	if derr == nil {
		derr = errors.New("payload is not an ELF file")
	}
	return "", compression, fmt.Errorf("read architecture from %s payload: %w", compression, derr)
}

func compressionOf(p []byte) string {
	switch {
	case bytes.HasPrefix(p, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(p, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case bytes.HasPrefix(p, []byte("BZh")):
		return "bzip2"
	case bytes.HasPrefix(p, []byte{0x5d, 0, 0}):
		return "lzma"
	case bytes.HasPrefix(p, []byte{0x89, 'L', 'Z', 'O'}):
		return "lzo"
	case bytes.HasPrefix(p, []byte{0x02, 0x21, 0x4c, 0x18}):
		return "lz4"
	case bytes.HasPrefix(p, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(p, []byte("\x7fELF")):
		return "none"
	}
	return "unknown"
}

// Bounds on a decompressed kernel: a distribution's vmlinux is 20-80 MiB
// (an allyesconfig one about 300 MiB), and xz, zstd or gzip shrink a
// kernel 3-6 times, so one that grows by more than maxRatio, or past
// MaxVmlinux, is no kernel but a decompression bomb. Small payloads may
// grow to minVmlinux whatever their ratio.
const (
	MaxVmlinux = 512 << 20
	minVmlinux = 16 << 20
	maxRatio   = 32
)

// vmlinuxLimit is how large a kernel decompressed from n bytes may be.
func vmlinuxLimit(n int) int { return min(MaxVmlinux, max(minVmlinux, maxRatio*n)) }

// ErrBomb is a payload that decompresses to more than a kernel can be.
var ErrBomb = errors.New("decompresses to more than a kernel can be")

// decompressKernel decompresses a whole kernel payload of the image at
// path, refusing one past vmlinuxLimit.
func decompressKernel(ctx context.Context, path string, payload []byte, compression string) ([]byte, error) {
	limit := vmlinuxLimit(len(payload))
	k, err := decompress(ctx, payload, compression, limit+1)
	if err != nil {
		return nil, fmt.Errorf("decompress %s payload of %s: %w", compression, path, err)
	}
	if len(k) > limit {
		return nil, fmt.Errorf("%s: its %s payload of %d KiB %w (more than %d MiB); it is not a kernel image", path, compression, len(payload)>>10, ErrBomb, limit>>20)
	}
	return k, nil
}

// decompressHead returns the first n bytes of the decompressed payload.
func decompressHead(p []byte, compression string, n int) ([]byte, error) {
	return decompress(context.Background(), p, compression, n)
}

// decompress returns the decompressed payload, or its first limit bytes
// when it is longer; limit <= 0 means MaxVmlinux, so nothing read from an
// image is ever decompressed without a bound.
func decompress(ctx context.Context, p []byte, compression string, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = MaxVmlinux
	}
	var r io.Reader
	switch compression {
	case "none":
		return p[:min(limit, len(p))], nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false) // the payload is followed by its size, not another member
		r = zr
	case "bzip2":
		r = bzip2.NewReader(bytes.NewReader(p))
	case "zstd":
		// A frame may declare any window or content size: bound the
		// decoder's memory by what may come out.
		zr, err := zstd.NewReader(bytes.NewReader(p), zstd.WithDecoderMaxMemory(uint64(limit)), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case "xz", "lzma", "lzo", "lz4":
		// The kernel's xz streams use the x86 BCJ filter, which the Go xz
		// packages lack; the command-line tools read all of these.
		return toolDecompress(ctx, p, compression, limit)
	default:
		return nil, fmt.Errorf("unknown payload compression")
	}
	var out bytes.Buffer
	_, err := io.Copy(&out, io.LimitReader(r, int64(limit)))
	if out.Len() == 0 && err != nil {
		return nil, err
	}
	// Bytes after the stream (the kernel appends the decompressed size)
	// end some readers with an error once the payload itself is read.
	return out.Bytes(), nil
}

// toolArgs are the commands that decompress to stdout the payloads Go cannot read.
var toolArgs = map[string][]string{
	"xz":   {"xz", "-dc"},
	"lzma": {"xz", "--format=lzma", "-dc"},
	"lzo":  {"lzop", "-dc"},
	"lz4":  {"lz4", "-dc"},
}

// toolDecompress runs the command-line decompressor and stops it once
// limit bytes are read.
func toolDecompress(ctx context.Context, p []byte, compression string, limit int) ([]byte, error) {
	args := toolArgs[compression]
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(p)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s is needed to read a %s kernel: %w", args[0], compression, err)
	}
	var out bytes.Buffer
	_, rerr := io.Copy(&out, io.LimitReader(stdout, int64(limit)))
	cancel() // stops a tool that has more to say than limit
	_ = cmd.Wait()
	// The tools complain about the bytes the kernel appends after the
	// stream, after writing everything.
	if out.Len() < 5 {
		return nil, fmt.Errorf("%s: %v", args[0], rerr)
	}
	return out.Bytes(), nil
}
