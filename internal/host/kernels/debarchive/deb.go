package debarchive

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
)

// ExtractDeb unpacks the regular files of a .deb's data archive for which
// keep returns true into root and returns their paths relative to root.
// A .deb is an ar archive holding debian-binary, control.tar.* and data.tar.*.
func ExtractDeb(deb io.Reader, root string, keep func(name string) bool) ([]string, error) {
	br := bufio.NewReaderSize(deb, 1<<20)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, errors.New("not a .deb (no ar header)")
	}
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return nil, errors.New("no data.tar member in the .deb")
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad ar member header %q", hdr)
		}
		body := io.LimitReader(br, size)
		if strings.HasPrefix(name, "data.tar") {
			r, err := tarStream(name, body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return extractTar(r, root, keep)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, err
		}
		if size%2 == 1 {
			br.ReadByte()
		}
	}
}

func tarStream(name string, r io.Reader) (io.Reader, error) {
	switch filepath.Ext(name) {
	case ".xz":
		return xz.NewReader(r)
	case ".zst":
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".bz2":
		return bzip2.NewReader(r), nil
	case ".tar":
		return r, nil
	}
	return nil, fmt.Errorf("unknown compression")
}

func extractTar(r io.Reader, root string, keep func(string) bool) ([]string, error) {
	names, err := unpack.Tar(r, root, unpack.Options{Keep: keep})
	if err != nil {
		return names, fmt.Errorf("package data: %w", err)
	}
	return names, nil
}

// Unpack downloads each package (checked against its signed index) into
// a file temp makes, and extracts the names keep accepts under root.
func (a *Archive) Unpack(ctx context.Context, pkgs []Package, root string, temp func() (*os.File, error), keep func(name string) bool) ([]string, error) {
	var names []string
	for _, p := range pkgs {
		got, err := a.unpackOne(ctx, p, root, temp, keep)
		if err != nil {
			return nil, err
		}
		names = append(names, got...)
	}
	return names, nil
}

func (a *Archive) unpackOne(ctx context.Context, p Package, root string, temp func() (*os.File, error), keep func(name string) bool) ([]string, error) {
	f, err := temp()
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := a.Download(ctx, p, f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	names, err := ExtractDeb(f, root, keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Filename, err)
	}
	return names, nil
}
