// This file fetches Debian kernel packages into the cache and extracts them.

package kernels

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
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
	names, err := debarchive.ExtractDeb(f, root, kernelFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Filename, err)
	}
	return names, nil
}

// manifest records what a cached kernel was extracted from (a package or
// an image) and where in its folder the image, modules and config are.
type manifest struct {
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
		flav, debArch := cpu.Debian(ref.Arch)
		if r.Debian.Offline {
			return nil, offlineMiss(ref.Raw, "")
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
	k, m, err := r.unpacked(ref, dir, "debian-"+dk.SHA256, dk.Name+" "+dk.Version, dk.Keys, func(tmp string) (manifest, []string, error) {
		r.logf("downloading %s %s from %s (%s)", dk.Name, dk.Version, dk.Mirror, dk.Suite)
		return r.fetchDeb(ctx, dk, tmp)
	})
	if err != nil {
		return nil, err
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.DebSHA256 = m.Package, m.Version, m.DebSHA256
	k.Origin.Suite, k.Origin.URL = m.Suite, strings.TrimRight(m.Mirror, "/")+"/"+dk.Filename
	return k, nil
}

func readManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Image == "" {
		return m, fmt.Errorf("bad manifest in %s", dir)
	}
	return m, nil
}

// fetchDeb downloads the package and its parts (checked against their
// signed index) and extracts the image, its config and the modules tree
// into dir.
func (r *Resolver) fetchDeb(ctx context.Context, dk DebianKernel, dir string) (manifest, []string, error) {
	m := manifest{Package: dk.Name, Version: dk.Version, Suite: dk.Suite, Mirror: dk.Mirror, DebSHA256: dk.SHA256}
	a, err := r.Debian.withDefaults().archive(dk.Mirror, false)
	if err != nil {
		return m, nil, err
	}
	names, err := r.extractDebs(ctx, a, append([]debarchive.Package{dk.Package}, dk.Parts...), dir)
	return m, names, err
}

// extractDebs downloads .debs of one archive and extracts the kernel's
// files into dir.
func (r *Resolver) extractDebs(ctx context.Context, a *debarchive.Archive, pkgs []debarchive.Package, dir string) ([]string, error) {
	var names []string
	for _, p := range pkgs {
		got, err := r.extractPackage(ctx, a, p, dir)
		if err != nil {
			return nil, err
		}
		names = append(names, got...)
	}
	return names, nil
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
