package kit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Unpacked returns the kernel extracted into the cache folder dir (one
// folder per package or image digest, named kind-ID for its lock). The
// cache is not trusted blindly: the image must still be what was
// extracted, or it is extracted again. extract fills a fresh folder (it
// downloads and verifies whatever it extracts) and returns what the
// Manifest records and the names extracted; what names the thing for the
// offline message ("linux-image-… 6.1.99-1").
func (e *Env) Unpacked(ref Ref, dir, lock, what, keys string, extract func(tmp string) (Manifest, []string, error)) (*Kernel, Manifest, error) {
	unlock, err := e.Cache.Lock(lock)
	if err != nil {
		return nil, Manifest{}, err
	}
	defer unlock()
	m, err := ReadManifest(dir)
	var k *Kernel
	if err == nil && m.Keys != keys {
		err = fmt.Errorf("verified under other keys")
		e.Logf("cached %s was verified under other keys than this run's; fetching and verifying it again", what)
	} else if err == nil {
		if k, err = e.NewKernel(ref, filepath.Join(dir, m.Image)); err == nil && m.ImageSHA256 != "" && k.Origin.SHA256 != m.ImageSHA256 {
			err = fmt.Errorf("sha256 %s, extracted as %s", k.Origin.SHA256, m.ImageSHA256)
		}
		if err == nil {
			err = checkTree(dir, m)
		}
		if err != nil {
			e.Logf("cached %s is damaged (%v); fetching it again", filepath.Join(dir, m.Image), FirstLine(err.Error()))
		} else if m.ImageSHA256 == "" { // extracted before digests were kept
			m.ImageSHA256 = k.Origin.SHA256
			_ = store.WriteJSON(filepath.Join(dir, "manifest.json"), m) // best effort: it is checked again next time
		}
	}
	if err != nil {
		if e.Offline {
			return nil, m, OfflineMiss(ref.Raw, what+" is not in the cache (or is damaged there)")
		}
		if m, err = e.extractInto(dir, keys, extract); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, m, Inputf("kernel %s: %v", ref.Raw, err)
			}
			return nil, m, fmt.Errorf("kernel %s: %w", ref.Raw, err)
		}
		if k, err = e.NewKernel(ref, filepath.Join(dir, m.Image)); err != nil {
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
// kernel's files among those extracted, writes the Manifest and puts the
// folder in dir's place.
func (e *Env) extractInto(dir, keys string, extract func(tmp string) (Manifest, []string, error)) (Manifest, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-*")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(tmp)
	m, names, err := extract(tmp)
	if err != nil {
		return m, err
	}
	lay := layoutOf(names)
	if lay.Image == "" {
		return m, Inputf("%s %s holds no kernel image (boot/vmlinuz…, lib/modules/…/vmlinuz, boot/Image…)", m.Package, m.Version)
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

// bootFiles are the names under boot/ a kernel's image and config have:
// vmlinuz-RELEASE, vmlinuz (OCI images), vmlinux-* (riscv64, ppc64el),
// bzImage, Image, zImage, config-RELEASE, config.
var bootFiles = []string{"boot/vmlinuz", "boot/vmlinux", "boot/bzImage", "boot/Image", "boot/zImage", "boot/config"}

// KernelFile says whether a file of a package or image is one runmatrix
// needs: the boot image, its config, and the modules tree.
func KernelFile(name string) bool {
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

// Manifest records what a cached kernel was extracted from (a package or
// an image) and where in its folder the image, modules and config are.
type Manifest struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	Suite     string `json:"suite"`
	Mirror    string `json:"mirror"`
	DebSHA256 string `json:"deb_sha256"`
	// PackageSHA256 is an RPM's or APK's digest.
	PackageSHA256 string `json:"package_sha256,omitempty"`
	Image         string `json:"image"`
	// ImageSHA256 is the image's digest when it was extracted; a cached
	// image is checked against it on every use.
	ImageSHA256 string `json:"image_sha256,omitempty"`
	Modules     string `json:"modules"`
	Config      string `json:"config"`
	// ConfigSHA256 and Files (every extracted file's size) are checked
	// on every use too, so a damaged modules tree or config is refetched.
	ConfigSHA256 string           `json:"config_sha256,omitempty"`
	Files        map[string]int64 `json:"files,omitempty"`
	// Keys are the keys that vouched for what was extracted (keysID): a
	// run under other keys verifies it again.
	Keys string `json:"keys,omitempty"`
}

// ReadManifest reads the manifest of a cached kernel folder.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Image == "" {
		return m, fmt.Errorf("bad manifest in %s", dir)
	}
	return m, nil
}
