// This file fetches Debian kernel packages into the cache and extracts them.

package debian

import (
	"context"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
)

// Resolve fetches and extracts (once) the newest kernel package the
// reference names; env's offline, index TTL and client govern the Config.
func (p Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	d := p.Config
	if d.Offline && !r.Offline { // the Config's own --offline holds for what it fetches too
		e := *r
		e.Offline = true
		r = &e
	}
	d.Offline = r.Offline
	if r.IndexTTL != 0 {
		d.IndexTTL = r.IndexTTL
	}
	if d.Client == nil {
		d.Client = r.Client
	}
	ks, err := d.Kernels(ctx, r.Cache, ref, func(s string) { r.Logf("%s", s) })
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		flav, debArch := cpu.Debian(ref.Arch)
		if d.Offline {
			return nil, kit.OfflineMiss(ref.Raw, "")
		}
		archives := strings.Join(nonEmpty(d.Mirror, d.SecurityMirror, d.RetiredMirror, d.Snapshot), ", ")
		return nil, kit.Inputf("kernel %s: no Debian archive (%s) has a linux-image-…-%s package of it for %s; see `runmatrix kernels list debian:`",
			ref.Raw, archives, flav, debArch)
	}
	if ks[0].Stale {
		r.Logf("warning: %s/dists/%s, where %s comes from, is past its Valid-Until: that mirror has stopped syncing it", ks[0].Mirror, ks[0].Suite, ks[0].Name)
	}
	return d.FetchKernel(ctx, r, ref, ks[0])
}

// FetchKernel downloads and extracts (once) the packages of dk, a kernel
// one of d's archives (or a mainline folder) lists.
func (d Config) FetchKernel(ctx context.Context, r *kit.Env, ref kit.Ref, dk Kernel) (*kit.Kernel, error) {
	dir, err := r.Cache.Path("debian", dk.SHA256)
	if err != nil {
		return nil, err
	}
	k, m, err := r.Unpacked(ref, dir, "debian-"+dk.SHA256, dk.Name+" "+dk.Version, dk.Keys, func(tmp string) (kit.Manifest, []string, error) {
		r.Logf("downloading %s %s from %s (%s)", dk.Name, dk.Version, dk.Mirror, dk.Suite)
		return d.fetchDeb(ctx, r, dk, tmp)
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
func (d Config) fetchDeb(ctx context.Context, r *kit.Env, dk Kernel, dir string) (kit.Manifest, []string, error) {
	m := kit.Manifest{Package: dk.Name, Version: dk.Version, Suite: dk.Suite, Mirror: dk.Mirror, DebSHA256: dk.SHA256}
	a, err := d.withDefaults().archive(dk.Mirror, false)
	if err != nil {
		return m, nil, err
	}
	names, err := a.Unpack(ctx, append([]debarchive.Package{dk.Package}, dk.Parts...), dir, r.Cache.TempFile, kit.KernelFile)
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
