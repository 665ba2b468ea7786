package kernels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// BuiltinDrivers reports which of names the image has built in: a driver
// compiled into the kernel carries its name (KBUILD_MODNAME, which is also
// its pci_driver name) as a NUL-terminated string in the decompressed
// payload, so a whole-word match of "\x00name\x00" finds it.
func BuiltinDrivers(ctx context.Context, path string, names []string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	payload, comp, err := imagePayload(b)
	if err != nil {
		return nil, err
	}
	vmlinux, err := decompress(ctx, payload, comp, 0)
	if err != nil {
		return nil, fmt.Errorf("decompress %s payload of %s: %w", comp, path, err)
	}
	var found []string
	for _, n := range names {
		if bytes.Contains(vmlinux, []byte("\x00"+n+"\x00")) {
			found = append(found, n)
		}
	}
	return found, nil
}

// imagePayload returns the compressed kernel inside a bzImage.
func imagePayload(b []byte) ([]byte, string, error) {
	img, err := ParseImage(b)
	if err != nil {
		return nil, "", err
	}
	if img.Protocol < 0x208 {
		return nil, "", fmt.Errorf("boot protocol %#x has no payload pointer", img.Protocol)
	}
	setupSects := int(b[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	le := binary.LittleEndian
	start := (setupSects+1)*512 + int(le.Uint32(b[0x248:]))
	n := int(le.Uint32(b[0x24c:]))
	return b[start : start+n], img.Compression, nil
}

// CachedBuiltinDrivers is BuiltinDrivers remembered in c by the image's
// sha256: decompressing a kernel costs up to seconds, and a guest boots
// the same image many times.
func (c Cache) CachedBuiltinDrivers(ctx context.Context, path, sha256 string, names []string) ([]string, error) {
	if sha256 == "" {
		return BuiltinDrivers(ctx, path, names)
	}
	key := sha256Hex([]byte(strings.Join(names, "\x00")))[:16]
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
	return found, writeJSONAtomic(p, found)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
