package unpack

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Cpio extracts the regular files of a cpio archive in the "newc" (070701)
// or "crc" (070702) format, as RPM payloads are, under root and returns
// their names (the format: the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst).
func Cpio(r io.Reader, root string, opt Options) ([]string, error) {
	e := newExtractor(root, opt)
	br := bufio.NewReaderSize(r, 1<<16)
	var off int64
	skip := func(n int64) error {
		m, err := io.CopyN(io.Discard, br, n)
		off += m
		return err
	}
	pad := func() error { return skip((4 - off%4) % 4) }
	for {
		hdr := make([]byte, 110)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return e.names, fmt.Errorf("read cpio header at %d: %w", off, err)
		}
		off += 110
		magic := string(hdr[:6])
		if magic != "070701" && magic != "070702" {
			return e.names, fmt.Errorf("not a newc cpio archive (magic %q at %d)", magic, off-110)
		}
		field := func(i int) (int64, error) {
			return strconv.ParseInt(string(hdr[6+8*i:14+8*i]), 16, 64)
		}
		mode, err1 := field(1)
		size, err2 := field(6)
		nameSize, err3 := field(11)
		if err1 != nil || err2 != nil || err3 != nil || nameSize < 1 || nameSize > 4096 || size < 0 {
			return e.names, fmt.Errorf("bad cpio header at %d", off-110)
		}
		nb := make([]byte, nameSize)
		if _, err := io.ReadFull(br, nb); err != nil {
			return e.names, fmt.Errorf("read cpio name: %w", err)
		}
		off += nameSize
		if err := pad(); err != nil {
			return e.names, err
		}
		raw := string(nb[:nameSize-1])
		if raw == "TRAILER!!!" {
			return e.names, nil
		}
		name := clean(raw)
		const regular = 0o100000
		if name != "" && mode&0o170000 == regular && (opt.Keep == nil || opt.Keep(name)) {
			if err := e.file(name, size, br); err != nil {
				return e.names, err
			}
			off += size
		} else if err := skip(size); err != nil {
			return e.names, fmt.Errorf("read cpio data of %s: %w", raw, err)
		}
		if err := pad(); err != nil {
			return e.names, err
		}
	}
}
