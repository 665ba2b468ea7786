package kernels

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
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
	vmlinux, err := decompressAll(ctx, payload, comp)
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

// decompressAll decompresses a whole kernel payload, in-process where Go
// can and with the command-line tool where it cannot (see decompressHead).
func decompressAll(ctx context.Context, p []byte, compression string) ([]byte, error) {
	var r io.Reader
	switch compression {
	case "none":
		return p, nil
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
		zr, err := zstd.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case "xz", "lzma", "lzo", "lz4":
		return toolAll(ctx, p, compression)
	default:
		return nil, fmt.Errorf("unknown payload compression")
	}
	var out bytes.Buffer
	_, err := io.Copy(&out, r)
	if out.Len() == 0 && err != nil {
		return nil, err
	}
	// Trailing bytes after the stream (the appended size) end some
	// readers with an error once the kernel itself has been read.
	return out.Bytes(), nil
}

func toolAll(ctx context.Context, p []byte, compression string) ([]byte, error) {
	args := toolArgs[compression]
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(p)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	if out.Len() == 0 {
		if _, lerr := exec.LookPath(args[0]); lerr != nil {
			return nil, fmt.Errorf("%s is needed to read a %s kernel: %w", args[0], compression, lerr)
		}
		return nil, fmt.Errorf("%s: %v", args[0], err)
	}
	// The tools complain about the bytes the kernel appends after the
	// stream, after writing everything.
	return out.Bytes(), nil
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
