package mainline

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzChecksums parses arbitrary mainline CHECKSUMS files and tag listings.
func FuzzChecksums(f *testing.F) {
	f.Add([]byte("# Checksums-Sha256:\n"+string(bytes.Repeat([]byte("a"), 64))+"  linux-image-unsigned-6.1.0-060100-generic_6.1.0-060100.202212112330_amd64.deb\n"), "v6.1")
	f.Fuzz(func(t *testing.T, b []byte, tag string) {
		for name, sum := range parseChecksums(b) {
			require.Len(t, sum, 64, name)
			if g := mainlineImage.FindStringSubmatch(name); g != nil {
				_ = abiOfTag(g[1], tag)
			}
		}
	})
}
