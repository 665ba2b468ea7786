package kernels

import (
	"encoding/binary"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// fakeBzImage builds the smallest boot image ParseImage accepts: a
// bzImage for x86, an Image.gz (as Ubuntu ships them) for arm64.
func fakeBzImage(version, arch string) []byte {
	if arch == cpu.ARM64 {
		banner := []byte("\x00Linux version " + version + "\n\x00")
		b := make([]byte, 0x40)
		copy(b[0x38:], "ARM\x64")
		binary.LittleEndian.PutUint64(b[0x10:], uint64(0x40+len(banner)))
		return archivetest.Gzip(append(b, banner...))
	}
	return fakeBzImageWith(version, arch, nil)
}

// fakeBzImageWith is fakeBzImage with body after the ELF header in the payload.
func fakeBzImageWith(version, arch string, body []byte) []byte {
	return archivetest.BzImage(version, arch == cpu.I386, body)
}
