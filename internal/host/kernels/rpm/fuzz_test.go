package rpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestV3SignatureLongerThanTheKey: a version 3 signature whose RSA value
// has more bytes than the key is refused; it panicked (FillBytes).
func TestV3SignatureLongerThanTheKey(t *testing.T) {
	key := rsaKey(t, "distro")
	signed := []byte("header and payload")
	created := []byte{1, 2, 3, 4}
	h := sha256.New()
	h.Write(signed)
	h.Write([]byte{0})
	h.Write(created)
	digest := h.Sum(nil)
	b := []byte{3, 5, 0}
	b = append(b, created...)
	b = binary.BigEndian.AppendUint64(b, key.PrimaryKey.KeyId)
	b = append(b, 1, 8, digest[0], digest[1])
	mpi := bytes.Repeat([]byte{0xff}, 256+10)
	b = binary.BigEndian.AppendUint16(b, uint16(len(mpi)*8))
	b = append(b, mpi...)
	_, err := verifyV3(openpgp.EntityList{key}, bytes.NewReader(signed), b)
	require.ErrorContains(t, err, "longer than the key")
}

// FuzzPackage reads, verifies and extracts arbitrary bytes as an RPM: no
// panic, and whatever is extracted stays under the root as regular files.
func FuzzPackage(f *testing.F) {
	key := rsaKey(&testing.T{}, "distro")
	files := map[string][]byte{"boot/vmlinuz-1": []byte("kernel"), "lib/modules/1/modules.dep": nil}
	for _, v3 := range []bool{true, false} {
		b, err := archivetest.RPM{Name: "kernel", Version: "1", Release: "1", Arch: "x86_64", Files: files, Key: key, V3: v3}.RPMFile()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := archivetest.ScratchDir(t)
		path := filepath.Join(dir, "p.rpm")
		require.NoError(t, os.WriteFile(path, b, 0o644))
		p, err := Open(path)
		if err != nil {
			return
		}
		defer p.Close()
		_, _ = p.Verify(openpgp.EntityList{key})
		root := filepath.Join(dir, "root")
		names, _ := p.Extract(root, unpack.Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		archivetest.CheckExtracted(t, root, names)
	})
}

// FuzzSignaturePacket checks arbitrary signature packets over fixed data.
func FuzzSignaturePacket(f *testing.F) {
	key := rsaKey(&testing.T{}, "distro")
	for _, v3 := range []bool{true, false} {
		b, err := archivetest.RPM{Name: "kernel", Version: "1", Release: "1", Arch: "x86_64", Key: key, V3: v3}.RPMFile()
		if err != nil {
			f.Fatal(err)
		}
		p, err := Open(write(&testing.T{}, b))
		if err != nil {
			f.Fatal(err)
		}
		for _, tag := range []uint32{sigTagPGP, sigTagGPG, sigTagRSA, sigTagDSA} {
			if sig := p.sig.bin(tag); sig != nil {
				f.Add(sig)
			}
		}
		p.Close()
	}
	f.Fuzz(func(t *testing.T, sig []byte) {
		_, _ = verifySignature(openpgp.EntityList{key}, strings.NewReader("signed data"), sig)
	})
}

// FuzzPrimary parses arbitrary primary.xml and repomd.xml.
func FuzzPrimary(f *testing.F) {
	files, err := archivetest.YumRepo{Packages: []archivetest.RPM{{Name: "kernel", Version: "1", Release: "1", Arch: "x86_64"}}}.Files()
	if err != nil {
		f.Fatal(err)
	}
	for name, b := range files {
		if strings.HasSuffix(name, "primary.xml.gz") || strings.HasSuffix(name, "repomd.xml") {
			f.Add(name, b)
		}
	}
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		if r, err := decompressIndex(name, b); err == nil {
			pkgs, err := parsePrimary(r, func(string, string) bool { return true })
			if err == nil {
				for _, p := range pkgs {
					require.NoError(t, checkListed(primaryPackage{Name: p.Name, Checksum: struct {
						Type  string `xml:"type,attr"`
						Value string `xml:",chardata"`
					}{p.SumType, p.Sum}, Location: struct {
						Href string `xml:"href,attr"`
					}{p.Location}}))
				}
			}
		}
		_, _ = parseRepomd(b)
	})
}
