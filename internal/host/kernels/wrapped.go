package kernels

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// newWrappedKernel reads the image a wrapped file holds: unwrapped once
// into the cache, named by the file's digest, and read from there on,
// so later runs decompress nothing. The cached image is used only while
// it has the digest recorded beside it when it was unwrapped; one that
// does not, or no longer reads, is unwrapped again.
func (r *Resolver) newWrappedKernel(ref Ref, path, how string) (*Kernel, error) {
	sum, err := store.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	dst, err := r.Cache.Path("unwrapped", sum)
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
			return nil, describe(ref.Raw, err)
		}
		if err := store.WriteFileAtomic(dst, inner, 0o644); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		if err := store.WriteFileAtomic(dst+".sha256", []byte(bootimage.SHA256Hex(inner)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		if img, err = bootimage.ParseImage(inner); err != nil {
			return nil, describe(ref.Raw, err)
		}
	}
	img.Wrapped = how
	return &Kernel{Ref: ref, Path: dst, Image: img, Origin: Origin{SHA256: sum}}, nil
}
