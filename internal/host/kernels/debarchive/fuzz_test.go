package debarchive

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func FuzzDeb(f *testing.F) {
	deb, err := archivetest.Deb(map[string][]byte{"boot/vmlinuz-1": []byte("kernel"), "lib/modules/1/modules.dep": nil, "../x": []byte("y")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(deb)
	f.Fuzz(func(t *testing.T, b []byte) {
		root := filepath.Join(archivetest.ScratchDir(t), "root")
		names, _ := ExtractDeb(bytes.NewReader(b), root, func(string) bool { return true })
		archivetest.CheckExtracted(t, root, names)
	})
}

func FuzzRelease(f *testing.F) {
	f.Add([]byte("Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 01 Jun 2024 09:00:00 UTC\nValid-Until: Sat, 08 Jun 2024 09:00:00 UTC\n" +
		"Architectures: amd64\nComponents: main\nSHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 10 main/binary-amd64/Packages.gz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRelease(b)
		if err != nil {
			return
		}
		for name, file := range r.Files {
			require.Equal(t, name, file.Path)
		}
	})
}

func FuzzPackages(f *testing.F) {
	f.Add([]byte("Package: linux-image-6.1.0-9-amd64\nVersion: 6.1.99-1\nArchitecture: amd64\nDepends: linux-base,\n initramfs-tools\nFilename: pool/main/l/linux/x.deb\nSize: 10\nSHA256: ab\n\nPackage: other\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readParagraphs(bytes.NewReader(b), func(Paragraph) bool { return true })
	})
}
