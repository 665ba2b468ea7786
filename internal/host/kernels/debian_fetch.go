// This file fetches Debian kernel packages into the cache and extracts them.

package kernels

import (
	"context"
	"fmt"
	"os"
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
