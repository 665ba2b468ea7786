package kernels

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// unpacked returns the kernel extracted into the cache folder dir (one
// folder per package or image digest, named kind-ID for its lock). The
// cache is not trusted blindly: the image must still be what was
// extracted, or it is extracted again. extract fills a fresh folder (it
// downloads and verifies whatever it extracts) and returns what the
// manifest records and the names extracted; what names the thing for the
// offline message ("linux-image-… 6.1.99-1").
func (r *Resolver) unpacked(ref Ref, dir, lock, what, keys string, extract func(tmp string) (manifest, []string, error)) (*Kernel, manifest, error) {
	unlock, err := r.Cache.Lock(lock)
	if err != nil {
		return nil, manifest{}, err
	}
	defer unlock()
	m, err := readManifest(dir)
	var k *Kernel
	if err == nil && m.Keys != keys {
		err = fmt.Errorf("verified under other keys")
		r.logf("cached %s was verified under other keys than this run's; fetching and verifying it again", what)
	} else if err == nil {
		if k, err = r.newKernel(ref, filepath.Join(dir, m.Image)); err == nil && m.ImageSHA256 != "" && k.Origin.SHA256 != m.ImageSHA256 {
			err = fmt.Errorf("sha256 %s, extracted as %s", k.Origin.SHA256, m.ImageSHA256)
		}
		if err == nil {
			err = checkTree(dir, m)
		}
		if err != nil {
			r.logf("cached %s is damaged (%v); fetching it again", filepath.Join(dir, m.Image), firstLine(err.Error()))
		} else if m.ImageSHA256 == "" { // extracted before digests were kept
			m.ImageSHA256 = k.Origin.SHA256
			_ = writeJSONAtomic(filepath.Join(dir, "manifest.json"), m) // best effort: it is checked again next time
		}
	}
	if err != nil {
		if r.Debian.Offline {
			return nil, m, offlineMiss(ref.Raw, what+" is not in the cache (or is damaged there)")
		}
		if m, err = r.extractInto(dir, keys, extract); err != nil {
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
func (r *Resolver) extractInto(dir, keys string, extract func(tmp string) (manifest, []string, error)) (manifest, error) {
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
	if m.ImageSHA256, err = store.FileSHA256(filepath.Join(tmp, m.Image)); err != nil {
		return m, err
	}
	if m.Config != "" {
		if m.ConfigSHA256, err = store.FileSHA256(filepath.Join(tmp, m.Config)); err != nil {
			return m, err
		}
	}
	if m.Files, err = treeOf(tmp, names); err != nil {
		return m, err
	}
	m.Keys = keys
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

// bootFiles are the names under boot/ a kernel's image and config have:
// vmlinuz-RELEASE, vmlinuz (OCI images), vmlinux-* (riscv64, ppc64el),
// bzImage, Image, zImage, config-RELEASE, config.
var bootFiles = []string{"boot/vmlinuz", "boot/vmlinux", "boot/bzImage", "boot/Image", "boot/zImage", "boot/config"}

// kernelFile says whether a file of a package or image is one runmatrix
// needs: the boot image, its config, and the modules tree.
func kernelFile(name string) bool {
	if inModulesTree(name) {
		return true
	}
	for _, b := range bootFiles {
		if strings.HasPrefix(name, b) {
			return true
		}
	}
	return false
}

// inModulesTree says whether an extracted name is under lib/modules/ (or
// usr/lib/modules/, where merged-/usr distributions put it).
func inModulesTree(name string) bool {
	return strings.HasPrefix(name, "lib/modules/") || strings.HasPrefix(name, "usr/lib/modules/")
}

// layout is where in an extracted package or image the kernel's files are.
type layout struct{ Image, Modules, Config string }

// layoutOf finds the boot image, modules folder and config among the
// extracted names: boot/vmlinuz-RELEASE (Debian, RPM), boot/vmlinuz
// (OCI images), lib/modules/RELEASE/vmlinuz (Debian from 2026, EL8 and
// later), boot/vmlinux-* (riscv64, ppc64el), boot/bzImage, boot/Image*.
func layoutOf(names []string) layout {
	var l layout
	rank := 0 // a better-named image wins over one found earlier
	for _, name := range names {
		inModules := inModulesTree(name)
		base := path.Base(name)
		r := 0
		switch {
		case strings.HasPrefix(name, "boot/vmlinuz"), inModules && base == "vmlinuz":
			r = 3
		case strings.HasPrefix(name, "boot/bzImage"), strings.HasPrefix(name, "boot/Image"), strings.HasPrefix(name, "boot/zImage"):
			r = 2
		case strings.HasPrefix(name, "boot/vmlinux-"):
			r = 1
		}
		if r > rank && !strings.HasSuffix(name, ".sig") && !strings.HasSuffix(name, ".hmac") {
			l.Image, rank = name, r
		}
		if l.Config == "" && (strings.HasPrefix(name, "boot/config") || inModules && base == "config") {
			l.Config = name
		}
		if inModules && l.Modules == "" {
			rest := strings.TrimPrefix(strings.TrimPrefix(name, "usr/"), "lib/modules/")
			if rel, _, ok := strings.Cut(rest, "/"); ok {
				l.Modules = strings.TrimSuffix(name, rest) + rel
			}
		}
	}
	return l
}
