// This file finds Debian kernels on the Debian snapshot archive, which
// keeps every package Debian ever published: its machine-readable API
// says when a package first appeared, and the archive as it was at that
// moment is read with the same signed-index code as any mirror.

package debian

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// DefaultSnapshot is the Debian snapshot archive.
const DefaultSnapshot = "https://snapshot.debian.org"

// snapshotPoint is where (which archive, at which moment) the snapshot
// archive holds a package.
type snapshotPoint struct {
	Package string `json:"package"`
	Version string `json:"version"`
	// Archive is the URL of the archive at that moment, a Debian mirror layout.
	Archive string `json:"archive"`
}

type mrBinaries struct {
	Result []struct {
		Name          string `json:"name"`
		BinaryVersion string `json:"binary_version"`
		Source        string `json:"source"`
	} `json:"result"`
}

type mrBinfiles struct {
	Result []struct {
		Architecture string `json:"architecture"`
		Hash         string `json:"hash"`
	} `json:"result"`
	Fileinfo map[string][]struct {
		ArchiveName string `json:"archive_name"`
		FirstSeen   string `json:"first_seen"`
		Name        string `json:"name"`
	} `json:"fileinfo"`
}

// snapshotKernels finds an exact ABI version (debian:2.6.32-5) on the
// snapshot archive: the newest build of its image package, and the
// archive as it was when that build first appeared, whose signed indexes
// then list it like any mirror's.
func (d *Config) snapshotKernels(ctx context.Context, c store.Cache, r kit.Ref, log func(string)) ([]Kernel, error) {
	flav, debArch := cpu.Debian(r.Arch)
	p, err := c.Path("debian-index", kit.CacheKey(d.Snapshot)+"_snapshot_"+r.Version+"_"+debArch+".json")
	if err != nil {
		return nil, err
	}
	var pt snapshotPoint
	if b, err := os.ReadFile(p); err != nil || json.Unmarshal(b, &pt) != nil || pt.Archive == "" {
		if d.Offline {
			return nil, nil
		}
		if pt, err = d.snapshotPoint(ctx, "linux-image-"+r.Version+"-"+flav, debArch); err != nil {
			return nil, fmt.Errorf("kernel %s: snapshot archive: %w", r.Raw, err)
		}
		if pt.Archive == "" {
			return nil, nil
		}
		if err := store.WriteJSON(p, pt); err != nil {
			return nil, err
		}
	}
	log(fmt.Sprintf("%s: %s %s is on the snapshot archive, in %s", r.Raw, pt.Package, pt.Version, pt.Archive))
	at := *d
	at.Mirror, at.SecurityMirror, at.RetiredMirror, at.Snapshot = pt.Archive, pt.Archive, "", ""
	at.snapshot = true
	ks, err := at.kernels(ctx, c, r, log)
	if err != nil {
		return nil, err
	}
	var out []Kernel
	for _, k := range ks {
		if k.Version == pt.Version {
			out = append(out, k)
		}
	}
	if len(out) == 0 && len(ks) > 0 {
		out = ks
	}
	return out, nil
}

// snapshotPoint asks the snapshot archive's API for the newest version of
// a binary package and the archive and moment it first appeared in.
func (d *Config) snapshotPoint(ctx context.Context, pkg, debArch string) (snapshotPoint, error) {
	api := &debarchive.Archive{URL: strings.TrimRight(d.Snapshot, "/"), Client: d.Client}
	b, err := api.Get(ctx, "mr/binary/"+url.PathEscape(pkg)+"/")
	var nf *debarchive.NotFoundError
	if errors.As(err, &nf) {
		return snapshotPoint{}, nil
	}
	if err != nil {
		return snapshotPoint{}, err
	}
	var bins mrBinaries
	if err := json.Unmarshal(b, &bins); err != nil {
		return snapshotPoint{}, fmt.Errorf("mr/binary/%s: %w", pkg, err)
	}
	sort.Slice(bins.Result, func(i, j int) bool {
		return debarchive.CompareVersions(bins.Result[i].BinaryVersion, bins.Result[j].BinaryVersion) > 0
	})
	for _, bin := range bins.Result {
		b, err := api.Get(ctx, "mr/binary/"+url.PathEscape(bin.Name)+"/"+url.PathEscape(bin.BinaryVersion)+"/binfiles?fileinfo=1")
		if err != nil {
			return snapshotPoint{}, err
		}
		var files mrBinfiles
		if err := json.Unmarshal(b, &files); err != nil {
			return snapshotPoint{}, fmt.Errorf("binfiles of %s %s: %w", bin.Name, bin.BinaryVersion, err)
		}
		for _, f := range files.Result {
			if f.Architecture != debArch {
				continue
			}
			// The main archive's copy is preferred: its suites are named
			// as the rest of this code expects.
			infos := files.Fileinfo[f.Hash]
			sort.SliceStable(infos, func(i, j int) bool { return infos[i].ArchiveName == "debian" && infos[j].ArchiveName != "debian" })
			for _, in := range infos {
				if in.ArchiveName != "debian" && in.ArchiveName != "debian-security" || in.FirstSeen == "" {
					continue
				}
				return snapshotPoint{Package: bin.Name, Version: bin.BinaryVersion,
					Archive: strings.TrimRight(d.Snapshot, "/") + "/archive/" + in.ArchiveName + "/" + in.FirstSeen}, nil
			}
		}
	}
	return snapshotPoint{}, nil
}
