// Package store is runmatrix's cache directory: content-addressed blobs,
// named entries whose every part is a plain file name, flock-guarded
// locks, and atomic writes, shared by the kernel providers, the guest
// pool, the initramfs and guest-binary builders and the results writers.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Cache is a directory of content-addressed files, safe for concurrent runs.
type Cache struct {
	Dir string
}

// DefaultCacheDir returns $XDG_CACHE_HOME/runmatrix (or ~/.cache/runmatrix).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache dir: %w (set XDG_CACHE_HOME)", err)
	}
	return filepath.Join(d, "runmatrix"), nil
}

// Path returns the path of a cache entry, creating its parent. Each part
// is one file name: parts are often read from indexes (a checksum, a
// version), and one such as ".." or "a/../../x" must never name a file
// outside the cache, so any but a plain name is refused.
func (c Cache) Path(parts ...string) (string, error) {
	for _, part := range parts {
		if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "/\x00") {
			return "", fmt.Errorf("cache: %q is not a file name; the index or reference that gave it is damaged", part)
		}
	}
	p := filepath.Join(append([]string{c.Dir}, parts...)...)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return p, nil
}

// Lock takes an exclusive lock named name and returns its release function.
func (c Cache) Lock(name string) (func(), error) {
	p, err := c.Path("locks", name+".lock")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// Put moves the file at tmp into the blob store under its sha256 and returns
// the digest and the stored path.
func (c Cache) Put(tmp string) (digest, path string, err error) {
	digest, err = FileSHA256(tmp)
	if err != nil {
		return "", "", err
	}
	path, err = c.Path("blobs", digest)
	if err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", "", fmt.Errorf("cache: %w", err)
	}
	return digest, path, nil
}

// TempFile creates a temporary file inside the cache, on the same filesystem as the blobs.
func (c Cache) TempFile() (*os.File, error) {
	p, err := c.Path("tmp", "x")
	if err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(p), "dl-*")
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteJSON writes v as indented JSON, ending in a newline, to path,
// atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// WriteFileAtomic writes b to a temporary file beside path, syncs it and
// renames it over path, so readers see the old file or the new one whole.
func WriteFileAtomic(path string, b []byte, mode os.FileMode) error {
	return WriteAtomic(path, mode, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for contents produced by write: every
// writer gets its own temporary file, so concurrent writers never race and
// a crash never leaves half a file.
func WriteAtomic(path string, mode os.FileMode, write func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
