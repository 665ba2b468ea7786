// Package archivetest builds what package archives serve, for tests: .deb
// files, and Ubuntu mainline tag folders with signed CHECKSUMS.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
)

// Deb returns a .deb (ar archive of debian-binary, control.tar.gz and
// data.tar.gz) whose data holds files, by path ("./boot/vmlinuz-…").
func Deb(files map[string][]byte) ([]byte, error) {
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", Gzip(nil)}, {"data.tar.gz", Gzip(data.Bytes())}} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.body))
		ar.Write(m.body)
		if len(m.body)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	return ar.Bytes(), nil
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// SHA256 is the hex sha256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// MainlineTag is one tag folder of the Ubuntu mainline layout.
type MainlineTag struct {
	Tag string // "v6.1"
	// ABI and Stamp make the package names: linux-image-unsigned-ABI-generic_ABI.STAMP_ARCH.deb.
	ABI, Stamp string
	// PerArch puts CHECKSUMS and the .debs under ARCH/ (the layout from
	// about 2020) instead of at the top of the tag's folder.
	PerArch bool
	// Arch is the Debian port of the packages ("arm64"); "" is amd64.
	Arch string
	// Image and Modules are the files of the image and modules packages;
	// nil Modules means one image package holding everything.
	Image, Modules map[string][]byte
}

// Files returns the tag's files by path under the mainline root, with
// CHECKSUMS signed by key in CHECKSUMS.gpg.
func (m MainlineTag) Files(key *openpgp.Entity) (map[string][]byte, error) {
	out := map[string][]byte{}
	arch := m.Arch
	if arch == "" {
		arch = "amd64"
	}
	dir := m.Tag + "/"
	if m.PerArch {
		dir += arch + "/"
	}
	version := m.ABI + "." + m.Stamp
	var sums []string
	add := func(name string, files map[string][]byte) error {
		deb, err := Deb(files)
		if err != nil {
			return err
		}
		out[dir+name] = deb
		sums = append(sums, SHA256(deb)+"  "+name)
		return nil
	}
	image := fmt.Sprintf("linux-image-%s-generic_%s_%s.deb", m.ABI, version, arch)
	if m.Modules != nil {
		image = fmt.Sprintf("linux-image-unsigned-%s-generic_%s_%s.deb", m.ABI, version, arch)
		if err := add(fmt.Sprintf("linux-modules-%s-generic_%s_%s.deb", m.ABI, version, arch), m.Modules); err != nil {
			return nil, err
		}
	}
	if err := add(image, m.Image); err != nil {
		return nil, err
	}
	text := "# Checksums-Sha256:\n" + strings.Join(sums, "\n") + "\n"
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, key, strings.NewReader(text), nil); err != nil {
		return nil, err
	}
	out[dir+"CHECKSUMS"] = []byte(text)
	out[dir+"CHECKSUMS.gpg"] = sig.Bytes()
	out[m.Tag+"/"] = []byte(`<html><a href="CHECKSUMS">CHECKSUMS</a></html>`)
	return out, nil
}

// MainlineIndex is the HTML index of the mainline root listing tags.
func MainlineIndex(tags ...string) []byte {
	var b strings.Builder
	b.WriteString(`<html><body><table><tr><td><a href="../">Parent</a></td></tr>` + "\n")
	for _, t := range tags {
		fmt.Fprintf(&b, `<tr><td><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="%s/">%s/</a></td></tr>`+"\n", t, t)
	}
	b.WriteString("</table></body></html>\n")
	return []byte(b.String())
}

// BzImage builds the smallest boot image runmatrix's image reader accepts:
// a setup header (boot protocol 2.15) with the version string, and a gzip
// payload holding the start of an ELF file (32-bit when i386) followed by
// body. It boots nothing: tests use it where only the header is read.
func BzImage(version string, i386 bool, body []byte) []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(append(ELFStart(i386), body...))
	zw.Close()
	return BzImagePayload(version, z.Bytes())
}

// ELFStart is the start of an ELF file (32-bit when i386) as a kernel
// payload begins.
func ELFStart(i386 bool) []byte {
	elf := []byte("\x7fELF\x02\x01\x01")
	if i386 {
		elf[4] = 1
	}
	return append(elf, make([]byte, 64)...)
}

// BzImagePayload is BzImage around an already compressed payload.
func BzImagePayload(version string, payload []byte) []byte {
	const setupEnd = 2 * 512
	b := make([]byte, setupEnd+len(payload))
	le := binary.LittleEndian
	b[0x1f1] = 1 // setup_sects
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], 0x20f)
	le.PutUint32(b[0x1f4:], uint32((len(payload)+15)/16))
	le.PutUint16(b[0x20e:], 0x300-0x200) // kernel_version at 0x300
	copy(b[0x300:], version)
	le.PutUint32(b[0x248:], 0)
	le.PutUint32(b[0x24c:], uint32(len(payload)))
	copy(b[setupEnd:], payload)
	return append(b, make([]byte, 16)...)
}

// ScratchDir is an empty directory for one test or fuzz input, removed
// after it: in /dev/shm where the machine has it, since a fuzz target that
// writes files runs thousands of times a second and a disk mounted with
// discard makes every removal wait for the device.
func ScratchDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "runmatrix-test-*"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// CheckExtracted fails t unless every name an extraction under root
// returned is a local path and everything under root is a regular file or
// a directory: no link, device or FIFO, nothing outside root.
func CheckExtracted(t testing.TB, root string, names []string) {
	t.Helper()
	for _, n := range names {
		if !filepath.IsLocal(n) {
			t.Fatalf("extracted %q, not a local name", n)
		}
	}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != root && !d.Type().IsRegular() && !d.IsDir() {
			t.Fatalf("%s is %v, not a regular file", p, d.Type())
		}
		return nil
	})
}

// Image builds the smallest boot image runmatrix accepts for arch: a
// bzImage for x86, an Image.gz (as Ubuntu ships them) for arm64.
func Image(version, arch string) []byte {
	if arch == cpu.ARM64 {
		banner := []byte("\x00Linux version " + version + "\n\x00")
		b := make([]byte, 0x40)
		copy(b[0x38:], "ARM\x64")
		binary.LittleEndian.PutUint64(b[0x10:], uint64(0x40+len(banner)))
		return Gzip(append(b, banner...))
	}
	return ImageWith(version, arch, nil)
}

// ImageWith is Image of an x86 arch with body after the ELF header in
// the payload.
func ImageWith(version, arch string, body []byte) []byte {
	return BzImage(version, arch == cpu.I386, body)
}
