package kernels

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
)

// fakeBzImage builds the smallest boot image ParseImage accepts: a setup
// header (boot protocol 2.15) with the version string, and a gzip payload
// holding the start of an ELF file of the arch's class.
func fakeBzImage(version, arch string) []byte { return fakeBzImageWith(version, arch, nil) }

// fakeBzImageWith is fakeBzImage with body after the ELF header in the payload.
func fakeBzImageWith(version, arch string, body []byte) []byte {
	const setupEnd = 2 * 512
	elf := []byte("\x7fELF\x02\x01\x01")
	if arch == ArchI386 {
		elf[4] = 1
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(append(append(elf, make([]byte, 64)...), body...))
	zw.Close()
	b := make([]byte, setupEnd+z.Len())
	le := binary.LittleEndian
	b[0x1f1] = 1 // setup_sects
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], 0x20f)
	le.PutUint32(b[0x1f4:], uint32((z.Len()+15)/16))
	le.PutUint16(b[0x20e:], 0x300-0x200) // kernel_version at 0x300
	copy(b[0x300:], version)
	le.PutUint32(b[0x248:], 0)
	le.PutUint32(b[0x24c:], uint32(z.Len()))
	copy(b[setupEnd:], z.Bytes())
	return append(b, make([]byte, 16)...)
}
