package bootimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// BuiltinDrivers reports which of names the image has built in: a driver
// compiled into the kernel carries its name (KBUILD_MODNAME, which is also
// its pci_driver name) as a NUL-terminated string in the decompressed
// payload, so a whole-word match of "\x00name\x00" finds it.
func BuiltinDrivers(ctx context.Context, path string, names []string) ([]string, error) {
	vmlinux, err := Vmlinux(ctx, path)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, n := range names {
		if bytes.Contains(vmlinux, []byte("\x00"+n+"\x00")) {
			found = append(found, n)
		}
	}
	return found, nil
}

// Vmlinux returns the decompressed kernel inside the boot image at path.
func Vmlinux(ctx context.Context, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := ParseImage(b)
	if err != nil {
		return nil, err
	}
	switch img.Arch {
	case cpu.ARM64, cpu.RISCV64, cpu.PPC64LE:
		return b, nil // an Image or vmlinux is the kernel itself
	case cpu.ARM, cpu.S390X:
		limit := vmlinuxLimit(len(b))
		k, _, err := embeddedKernel(ctx, b, limit+1)
		if err == nil && len(k) > limit {
			return nil, fmt.Errorf("%s: its payload %w (more than %d MiB); it is not a kernel image", path, ErrBomb, limit>>20)
		}
		return k, err
	}
	payload, err := payloadOf(b, img.Protocol)
	if err != nil {
		return nil, err
	}
	return decompressKernel(ctx, path, payload, img.Compression)
}

// CachedBuiltinDrivers is BuiltinDrivers remembered in c by the image's
// sha256: decompressing a kernel costs up to seconds, and a guest boots
// the same image many times.
func CachedBuiltinDrivers(ctx context.Context, c store.Cache, path, sha256 string, names []string) ([]string, error) {
	if sha256 == "" {
		return BuiltinDrivers(ctx, path, names)
	}
	key := SHA256Hex([]byte(strings.Join(names, "\x00")))[:16]
	p, err := c.Path("drivers", sha256+"-"+key+".json")
	if err != nil {
		return nil, err
	}
	var found []string
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &found) == nil {
		return found, nil
	}
	if found, err = BuiltinDrivers(ctx, path, names); err != nil {
		return nil, err
	}
	if found == nil {
		found = []string{}
	}
	return found, store.WriteJSON(p, found)
}

// SHA256Hex is the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
