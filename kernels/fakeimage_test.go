package kernels

import "github.com/runmatrix/runmatrix/internal/archivetest"

// fakeBzImage builds the smallest boot image ParseImage accepts.
func fakeBzImage(version, arch string) []byte { return fakeBzImageWith(version, arch, nil) }

// fakeBzImageWith is fakeBzImage with body after the ELF header in the payload.
func fakeBzImageWith(version, arch string, body []byte) []byte {
	return archivetest.BzImage(version, arch == ArchI386, body)
}
