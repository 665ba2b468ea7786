// This file fetches Debian kernel packages into the cache and extracts them.

package kernels

import (
	"context"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
)

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
	names, err := a.Unpack(ctx, append([]debarchive.Package{dk.Package}, dk.Parts...), dir, r.Cache.TempFile, kernelFile)
	return m, names, err
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
