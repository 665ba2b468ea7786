package kernels

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// unpacked returns the kernel extracted into the cache folder dir (one
// folder per package or image digest, named kind-ID for its lock). The
// cache is not trusted blindly: the image must still be what was
// extracted, or it is extracted again. extract fills a fresh folder (it
// downloads and verifies whatever it extracts) and returns what the
// manifest records and the names extracted; what names the thing for the
// offline message ("linux-image-… 6.1.99-1").
func (r *Resolver) unpacked(ref Ref, dir, lock, what string, extract func(tmp string) (manifest, []string, error)) (*Kernel, manifest, error) {
	unlock, err := r.Cache.Lock(lock)
	if err != nil {
		return nil, manifest{}, err
	}
	defer unlock()
	m, err := readManifest(dir)
	var k *Kernel
	if err == nil {
		if k, err = r.newKernel(ref, filepath.Join(dir, m.Image)); err == nil && m.ImageSHA256 != "" && k.Origin.SHA256 != m.ImageSHA256 {
			err = fmt.Errorf("sha256 %s, extracted as %s", k.Origin.SHA256, m.ImageSHA256)
		}
		if err != nil {
			r.logf("cached %s is damaged (%v); fetching it again", filepath.Join(dir, m.Image), firstLine(err.Error()))
		} else if m.ImageSHA256 == "" { // extracted before digests were kept
			m.ImageSHA256 = k.Origin.SHA256
			if b, merr := json.MarshalIndent(m, "", "  "); merr == nil {
				WriteFileAtomic(filepath.Join(dir, "manifest.json"), b, 0o644)
			}
		}
	}
	if err != nil {
		if r.Debian.Offline {
			return nil, m, fmt.Errorf("kernel %s: %s is not in the cache (or is damaged there), and --offline forbids the network; run `runmatrix kernels fetch %s` first", ref.Raw, what, ref.Raw)
		}
		if m, err = r.extractInto(dir, extract); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, m, inputErr("kernel %s: %v", ref.Raw, err)
			}
			return nil, m, fmt.Errorf("kernel %s: %w", ref.Raw, err)
		}
		if k, err = r.newKernel(ref, filepath.Join(dir, m.Image)); err != nil {
			return nil, m, err
		}
	}
	if m.Modules != "" {
		k.ModulesDir = filepath.Join(dir, m.Modules)
	}
	if m.Config != "" {
		k.Config = filepath.Join(dir, m.Config)
	}
	return k, m, nil
}

// extractInto runs extract in a fresh folder beside dir, finds the
// kernel's files among those extracted, writes the manifest and puts the
// folder in dir's place.
func (r *Resolver) extractInto(dir string, extract func(tmp string) (manifest, []string, error)) (manifest, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-*")
	if err != nil {
		return manifest{}, err
	}
	defer os.RemoveAll(tmp)
	m, names, err := extract(tmp)
	if err != nil {
		return m, err
	}
	lay := layoutOf(names)
	if lay.Image == "" {
		return m, inputErr("%s %s holds no kernel image (boot/vmlinuz…, lib/modules/…/vmlinuz, boot/Image…)", m.Package, m.Version)
	}
	m.Image, m.Modules, m.Config = lay.Image, lay.Modules, lay.Config
	if m.ImageSHA256, err = FileSHA256(filepath.Join(tmp, m.Image)); err != nil {
		return m, err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), b, 0o644); err != nil {
		return m, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return m, fmt.Errorf("cache: %w", err)
	}
	return m, nil
}

// freshIndex reads the cached index at p into v and reports whether it
// may be used: offline, or fetched (a field of v) within the index TTL.
func (r *Resolver) freshIndex(p string, v any, fetched *time.Time) bool {
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, v) != nil {
		return false
	}
	ttl := r.Debian.IndexTTL
	if ttl == 0 {
		ttl = DefaultIndexTTL
	}
	return r.Debian.Offline || time.Since(*fetched) < ttl
}
