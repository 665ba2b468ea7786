package unpack

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/cavaliergopher/cpio"
)

// Cpio extracts the regular files of a cpio archive in the "newc" (070701)
// or "crc" (070702) format, as RPM payloads are, under root and returns
// their names (the format: the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst).
func Cpio(r io.Reader, root string, opt Options) ([]string, error) {
	e := newExtractor(root, opt)
	cr := cpio.NewReader(bufio.NewReaderSize(r, 1<<16))
	for {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return e.names, nil
		}
		if err != nil {
			return e.names, fmt.Errorf("read cpio: %w", err)
		}
		name := clean(h.Name)
		if name == "" || !h.Mode.IsRegular() || (opt.Keep != nil && !opt.Keep(name)) {
			continue
		}
		if err := e.file(name, h.Size, cr); err != nil {
			return e.names, err
		}
	}
}
