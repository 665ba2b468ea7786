package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// NewKernel reads the image at path; a wrapped image (Image.gz, EFI
// zboot) is unwrapped into the cache and that is the one booted.
func (e *Env) NewKernel(ref Ref, path string) (*Kernel, error) {
	if how := bootimage.WrappingOf(path); how != "" {
		return e.newWrappedKernel(ref, path, how)
	}
	img, err := bootimage.ReadImage(path)
	if err != nil {
		return nil, Describe(ref.Raw, err)
	}
	sum, err := store.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	return &Kernel{Ref: ref, Path: path, Image: img, Origin: Origin{SHA256: sum}}, nil
}

// Describe turns an image error into the one line a user needs.
func Describe(raw string, err error) error {
	switch {
	case errors.Is(err, bootimage.ErrNotKernel):
		return Inputf("kernel %s: not a Linux boot image runmatrix knows (x86 bzImage, arm64 or RISC-V Image or Image.gz, ARM zImage, ppc64el vmlinux, s390x image); point at arch/ARCH/boot/… or /boot/vmlinuz-*", raw)
	case errors.Is(err, bootimage.ErrTruncated):
		return Inputf("kernel %s: truncated image (%v); download or copy it again", raw, errors.Unwrap(err))
	}
	// ReadImage names the file; raw already does.
	return Inputf("kernel %s: %s", raw, strings.TrimPrefix(err.Error(), raw+": "))
}

// newWrappedKernel reads the image a wrapped file holds: unwrapped once
// into the cache, named by the file's digest, and read from there on,
// so later runs decompress nothing. The cached image is used only while
// it has the digest recorded beside it when it was unwrapped; one that
// does not, or no longer reads, is unwrapped again.
func (e *Env) newWrappedKernel(ref Ref, path, how string) (*Kernel, error) {
	sum, err := store.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	dst, err := e.Cache.Path("unwrapped", sum)
	if err != nil {
		return nil, err
	}
	img, err := bootimage.ReadImage(dst)
	if err == nil {
		want, rerr := os.ReadFile(dst + ".sha256")
		got, herr := store.FileSHA256(dst)
		if rerr != nil || herr != nil || got != strings.TrimSpace(string(want)) {
			err = fmt.Errorf("the unwrapped image is not the one recorded")
		}
	}
	if err != nil {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		inner, _, _, err := bootimage.Unwrap(context.Background(), b)
		if err != nil {
			return nil, Describe(ref.Raw, err)
		}
		if err := store.WriteFileAtomic(dst, inner, 0o644); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		if err := store.WriteFileAtomic(dst+".sha256", []byte(bootimage.SHA256Hex(inner)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		if img, err = bootimage.ParseImage(inner); err != nil {
			return nil, Describe(ref.Raw, err)
		}
	}
	img.Wrapped = how
	return &Kernel{Ref: ref, Path: dst, Image: img, Origin: Origin{SHA256: sum}}, nil
}
