// This file fetches Debian kernel packages into the cache and extracts them.

package kernels

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/runmatrix/runmatrix/kernels/debarchive"
)

// extractPackage downloads one .deb (checked against its signed index)
// and extracts the image, its config and the modules tree into root.
func (r *Resolver) extractPackage(ctx context.Context, a *debarchive.Archive, p debarchive.Package, root string) ([]string, error) {
	f, err := r.Cache.TempFile()
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := a.Download(ctx, p, f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	names, err := debarchive.ExtractDeb(f, root, func(name string) bool {
		return strings.HasPrefix(name, "boot/vmlinuz-") || strings.HasPrefix(name, "boot/vmlinux-") || strings.HasPrefix(name, "boot/config-") ||
			strings.HasPrefix(name, "lib/modules/") || strings.HasPrefix(name, "usr/lib/modules/")
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Filename, err)
	}
	return names, nil
}

// debianManifest records what a cached Debian kernel was extracted from.
type debianManifest struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	Suite     string `json:"suite"`
	Mirror    string `json:"mirror"`
	DebSHA256 string `json:"deb_sha256"`
	Image     string `json:"image"`
	// ImageSHA256 is the image's digest when it was extracted; a cached
	// image is checked against it on every use.
	ImageSHA256 string `json:"image_sha256,omitempty"`
	Modules     string `json:"modules"`
	Config      string `json:"config"`
}

// resolveDebian fetches and extracts (once) the newest kernel package the reference names.
func (r *Resolver) resolveDebian(ctx context.Context, ref Ref) (*Kernel, error) {
	if r.Debian.Client == nil {
		r.Debian.Client = r.Client
	}
	ks, err := r.Debian.Kernels(ctx, r.Cache, ref, r.logLine)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		flav, debArch := flavour(ref.Arch)
		if r.Debian.Offline {
			return nil, fmt.Errorf("kernel %s: not in the cache, and --offline forbids the network; run `runmatrix kernels fetch %s` first", ref.Raw, ref.Raw)
		}
		archives := strings.Join(nonEmpty(r.Debian.Mirror, r.Debian.SecurityMirror, r.Debian.RetiredMirror, r.Debian.Snapshot), ", ")
		return nil, inputErr("kernel %s: no Debian archive (%s) has a linux-image-…-%s package of it for %s; see `runmatrix kernels list debian:`",
			ref.Raw, archives, flav, debArch)
	}
	if ks[0].Stale {
		r.logf("warning: %s/dists/%s, where %s comes from, is past its Valid-Until: that mirror has stopped syncing it", ks[0].Mirror, ks[0].Suite, ks[0].Name)
	}
	return r.fetchDebianKernel(ctx, ref, ks[0])
}

func (r *Resolver) fetchDebianKernel(ctx context.Context, ref Ref, dk DebianKernel) (*Kernel, error) {
	dir, err := r.Cache.Path("debian", dk.SHA256)
	if err != nil {
		return nil, err
	}
	unlock, err := r.Cache.Lock("debian-" + dk.SHA256)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := readManifest(dir)
	var k *Kernel
	if err == nil {
		// The cache is not trusted blindly: the image must still be what
		// was extracted, or it is extracted again.
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
			return nil, fmt.Errorf("kernel %s: %s %s is not in the cache (or is damaged there), and --offline forbids the network; run `runmatrix kernels fetch %s` first", ref.Raw, dk.Name, dk.Version, ref.Raw)
		}
		r.logf("downloading %s %s from %s (%s)", dk.Name, dk.Version, dk.Mirror, dk.Suite)
		if m, err = r.fetchDeb(ctx, dk, dir); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
		}
		if k, err = r.newKernel(ref, filepath.Join(dir, m.Image)); err != nil {
			return nil, err
		}
	}
	if m.Modules != "" {
		k.ModulesDir = filepath.Join(dir, m.Modules)
	}
	if m.Config != "" {
		k.Config = filepath.Join(dir, m.Config)
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.DebSHA256 = m.Package, m.Version, m.DebSHA256
	k.Origin.Suite, k.Origin.URL = m.Suite, strings.TrimRight(m.Mirror, "/")+"/"+dk.Filename
	return k, nil
}

func readManifest(dir string) (debianManifest, error) {
	var m debianManifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Image == "" {
		return m, fmt.Errorf("bad manifest in %s", dir)
	}
	return m, nil
}

// fetchDeb downloads the package (checked against its signed index) and
// extracts the image, its config and the modules tree into dir.
func (r *Resolver) fetchDeb(ctx context.Context, dk DebianKernel, dir string) (debianManifest, error) {
	m := debianManifest{Package: dk.Name, Version: dk.Version, Suite: dk.Suite, Mirror: dk.Mirror, DebSHA256: dk.SHA256}
	a, err := r.Debian.withDefaults().archive(dk.Mirror, false)
	if err != nil {
		return m, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-*")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	var names []string
	for _, p := range append([]debarchive.Package{dk.Package}, dk.Parts...) {
		got, err := r.extractPackage(ctx, a, p, tmp)
		if err != nil {
			return m, err
		}
		names = append(names, got...)
	}
	lay := layoutOf(names)
	m.Image, m.Modules, m.Config = lay.Image, lay.Modules, lay.Config
	if m.Image == "" {
		return m, fmt.Errorf("%s has no boot/vmlinuz", dk.Name)
	}
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

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
