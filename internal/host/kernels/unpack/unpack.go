// Package unpack extracts the regular files of untrusted archives (tar as
// in .deb data and OCI layers, cpio "newc" as in RPM payloads) under a
// root: local names only, no links or devices, and bounded sizes.
package unpack

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Options say which files to take and how much an archive may hold.
type Options struct {
	// Keep reports whether to extract the file with this slash-separated
	// name (relative, without "./"); nil keeps every file.
	Keep func(name string) bool
	// MaxFile and MaxTotal bound one file and all files extracted from
	// one archive (0: DefaultMaxFile, DefaultMaxTotal).
	MaxFile, MaxTotal int64
	// Whiteouts applies OCI layer whiteouts: ".wh.NAME" deletes NAME from
	// what earlier layers extracted, ".wh..wh..opq" empties its folder.
	Whiteouts bool
}

// Default bounds: a kernel image is tens of MiB, a distribution's modules
// some hundreds.
const (
	DefaultMaxFile  = 512 << 20
	DefaultMaxTotal = 4 << 30
)

// ErrTooLarge is returned for an archive that holds more than its bounds.
var ErrTooLarge = errors.New("larger than runmatrix extracts")

func (o Options) limits() (file, total int64) {
	file, total = o.MaxFile, o.MaxTotal
	if file <= 0 {
		file = DefaultMaxFile
	}
	if total <= 0 {
		total = DefaultMaxTotal
	}
	return file, total
}

// clean turns an archive member's name into a local slash path, or "".
func clean(name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/")
	name = path.Clean(name)
	if name == "." || !filepath.IsLocal(filepath.FromSlash(name)) {
		return ""
	}
	return name
}

// extractor writes files under root within the bounds.
type extractor struct {
	root         string
	opt          Options
	maxFile, max int64
	total        int64
	names        []string
}

func newExtractor(root string, opt Options) *extractor {
	f, t := opt.limits()
	return &extractor{root: root, opt: opt, maxFile: f, max: t}
}

func (e *extractor) file(name string, size int64, r io.Reader) error {
	if size > e.maxFile || e.total+size > e.max {
		return fmt.Errorf("%s: %d bytes: %w (%d MiB a file, %d MiB in all)", name, size, ErrTooLarge, e.maxFile>>20, e.max>>20)
	}
	dst := filepath.Join(e.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	// A file of an earlier layer, or a name seen twice, is replaced (never
	// followed: the file is removed, not opened, in case it is a link).
	_ = os.Remove(dst)
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d of %d bytes", io.ErrUnexpectedEOF, n, size)
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	e.total += size
	e.names = append(e.names, name)
	return nil
}

// whiteout applies an OCI whiteout entry; it reports whether name was one.
func (e *extractor) whiteout(name string) bool {
	dir, base := path.Split(name)
	switch {
	case base == ".wh..wh..opq":
		entries, _ := os.ReadDir(filepath.Join(e.root, filepath.FromSlash(dir)))
		for _, d := range entries {
			_ = os.RemoveAll(filepath.Join(e.root, filepath.FromSlash(dir), d.Name()))
		}
		e.forget(func(n string) bool { return dir != "" && strings.HasPrefix(n, dir) || dir == "" })
		return true
	case strings.HasPrefix(base, ".wh."):
		gone := clean(dir + strings.TrimPrefix(base, ".wh."))
		if gone != "" {
			_ = os.RemoveAll(filepath.Join(e.root, filepath.FromSlash(gone)))
			e.forget(func(n string) bool { return n == gone || strings.HasPrefix(n, gone+"/") })
		}
		return true
	}
	return false
}

func (e *extractor) forget(gone func(string) bool) {
	kept := e.names[:0]
	for _, n := range e.names {
		if !gone(n) {
			kept = append(kept, n)
		}
	}
	e.names = kept
}

// Tar extracts a tar stream's regular files under root and returns their
// names, in the order extracted.
func Tar(r io.Reader, root string, opt Options) ([]string, error) {
	e := newExtractor(root, opt)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return e.names, nil
		}
		if err != nil {
			return e.names, fmt.Errorf("read tar: %w", err)
		}
		name := clean(h.Name)
		if name == "" {
			continue
		}
		if opt.Whiteouts && e.whiteout(name) {
			continue
		}
		if h.Typeflag != tar.TypeReg || (opt.Keep != nil && !opt.Keep(name)) {
			continue
		}
		if err := e.file(name, h.Size, tr); err != nil {
			return e.names, err
		}
	}
}
