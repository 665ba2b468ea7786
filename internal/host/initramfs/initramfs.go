// Package initramfs builds the guest's initial RAM filesystem: a cached base
// (init and NIC modules) and a small per-run archive with the SSH keys.
package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"

	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// File is one regular file to put in an archive.
type File struct {
	Path string
	Mode int64
	Data []byte
}

// hostsFile lets programs and tests resolve "localhost" as on any Linux system.
var hostsFile = File{Path: "/etc/hosts", Mode: 0o644, Data: []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")}

// Base returns the path of the cached base archive holding init, the agent
// (at bootproto.AgentPath; nil leaves it out), modules and extra files
// (go test binaries and their package directories).
func Base(cache store.Cache, initBinary, agent []byte, modules []Module, extra ...File) (string, error) {
	files := []File{{Path: "/init", Mode: 0o755, Data: initBinary}, hostsFile}
	if agent != nil {
		files = append(files, File{Path: bootproto.AgentPath, Mode: 0o755, Data: agent})
	}
	var names []string
	for _, m := range modules {
		files = append(files, File{Path: path.Join(bootproto.ModulesDir, m.Name), Mode: 0o644, Data: m.Data})
		names = append(names, m.Name)
	}
	if len(names) > 0 {
		files = append(files, File{Path: bootproto.ModulesListPath, Mode: 0o644, Data: []byte(strings.Join(names, "\n") + "\n")})
	}
	files = append(files, extra...)
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s %o %d\n", f.Path, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	digest := hex.EncodeToString(h.Sum(nil))[:32]
	p, err := cache.Path("initramfs", digest+".cpio")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := Write(&buf, files); err != nil {
		return "", err
	}
	// A cached archive is reused only if it is still exactly what it should
	// be; every writer renames its own temporary file into place, so guests
	// prepared at once, in one process or several, never race.
	if got, err := os.ReadFile(p); err == nil && bytes.Equal(got, buf.Bytes()) {
		return p, nil
	}
	if err := store.WriteFileAtomic(p, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	return p, nil
}

// Write writes files, and the directories above them, as a newc archive.
func Write(w io.Writer, files []File) error {
	dirs := map[string]bool{"/dev": true, "/proc": true, "/sys": true, "/tmp": true}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	cw := cpio.NewWriter(w)
	for _, d := range dl {
		if err := cw.WriteHeader(&cpio.Header{Name: strings.TrimPrefix(d, "/"), Mode: cpio.TypeDir | 0o755, Links: 2}); err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
	}
	for _, f := range files {
		hdr := &cpio.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: cpio.TypeReg | cpio.FileMode(f.Mode), Size: int64(len(f.Data)), Links: 1}
		if err := cw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("initramfs %s: %w", f.Path, err)
		}
		if _, err := cw.Write(f.Data); err != nil {
			return fmt.Errorf("initramfs %s: %w", f.Path, err)
		}
	}
	return cw.Close()
}

// Compose writes base followed by a second archive of extra files to out;
// the kernel unpacks concatenated archives in order.
func Compose(out io.Writer, base string, extra []File) error {
	in, err := os.Open(base)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer in.Close()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return Write(out, extra)
}
