// This file resolves alpine: references: Alpine's linux-lts (or -virt)
// package of a release, from the signed APKINDEX of its main repository.

package kernels

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels/apk"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/distkeys"
	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
)

// KindAlpine is a kernel of an Alpine release.
const KindAlpine Kind = "alpine"

var alpineReleaseRE = regexp.MustCompile(`^([0-9]+\.[0-9]+|edge)$`)

// parseAlpine reads alpine:RELEASE[/lts|/virt|/vanilla][/ARCH].
func parseAlpine(s string) (Ref, error) {
	r := Ref{Raw: s, Kind: KindAlpine, Flavour: "lts", Arch: cpu.X86_64}
	parts := strings.Split(strings.TrimPrefix(s, "alpine:"), "/")
	if !alpineReleaseRE.MatchString(parts[0]) {
		return r, fmt.Errorf("kernel %q: want alpine:RELEASE (alpine:3.18, alpine:edge), then /virt or an arch", s)
	}
	r.Series = parts[0]
	for _, m := range parts[1:] {
		switch m {
		case "lts", "virt", "vanilla":
			r.Flavour = m
		default:
			a, err := parseArch(s, m)
			if err != nil {
				return r, fmt.Errorf("%w, or a flavour (lts, virt)", err)
			}
			r.Arch = a
		}
	}
	return r, nil
}

// alpineIndex is the kernel part of one APKINDEX, cached.
type alpineIndex struct {
	Fetched time.Time   `json:"fetched"`
	Missing bool        `json:"missing,omitempty"`
	Entries []apk.Entry `json:"entries"`
}

// alpineKeys are Alpine's embedded keys and those the resolver was given.
func (r *Resolver) alpineKeys() (map[string]*rsa.PublicKey, error) {
	keys, err := distkeys.Alpine()
	if err != nil {
		return nil, err
	}
	for n, k := range r.AlpineKeys {
		keys[n] = k
	}
	return keys, nil
}

// alpineGet reads u whole (at most max bytes); a mirror out of reach is
// said so, naming --mirror alpine.
func (r *Resolver) alpineGet(ctx context.Context, u string, max int64) ([]byte, error) {
	b, err := (&fetch.Client{HTTP: r.Client}).Bytes(ctx, u, max)
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, r.unreachable(r.mirror("alpine"), "alpine", err)
	}
	return b, err
}

// resolveAlpine finds the release's kernel package in its signed index,
// verifies the package and extracts it once.
func (r *Resolver) resolveAlpine(ctx context.Context, ref Ref) (*Kernel, error) {
	rel := ref.Series
	if rel != "edge" {
		rel = "v" + rel
	}
	repo := r.mirror("alpine") + "/" + rel + "/main/" + cpu.Alpine(ref.Arch) + "/"
	keys, err := r.alpineKeys()
	if err != nil {
		return nil, err
	}
	p, err := r.Cache.Path("alpine-index", cacheKey(repo)+"_"+rsaKeysID(keys)+".json")
	if err != nil {
		return nil, err
	}
	var idx alpineIndex
	if !r.freshIndex(p, &idx, &idx.Fetched) {
		if r.Debian.Offline {
			return nil, offlineMiss(ref.Raw, "")
		}
		b, err := r.alpineGet(ctx, repo+"APKINDEX.tar.gz", 64<<20)
		var nf *fetch.NotFoundError
		switch {
		case errors.As(err, &nf):
			idx = alpineIndex{Missing: true}
		case err != nil:
			return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
		default:
			entries, err := apk.ReadIndex(b, keys)
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %sAPKINDEX.tar.gz: %w", ref.Raw, repo, err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name, "linux-") {
					idx.Entries = append(idx.Entries, e)
				}
			}
		}
		idx.Fetched = time.Now().UTC()
		if err := writeJSONAtomic(p, idx); err != nil {
			return nil, err
		}
	}
	if idx.Missing {
		return nil, inputErr("kernel %s: Alpine has no %s main repository for %s (no %sAPKINDEX.tar.gz); point --mirror alpine=URL elsewhere if it should", ref.Raw, rel, cpu.Alpine(ref.Arch), repo)
	}
	var e *apk.Entry
	for i := range idx.Entries {
		if idx.Entries[i].Name == "linux-"+ref.Flavour {
			e = &idx.Entries[i]
		}
	}
	if e == nil {
		return nil, inputErr("kernel %s: Alpine %s lists no linux-%s for %s", ref.Raw, rel, ref.Flavour, cpu.Alpine(ref.Arch))
	}
	return r.fetchAlpineKernel(ctx, ref, repo, *e, keys)
}

func (r *Resolver) fetchAlpineKernel(ctx context.Context, ref Ref, repo string, e apk.Entry, keys map[string]*rsa.PublicKey) (*Kernel, error) {
	sum := sha256.Sum256([]byte(e.Checksum))
	id := hex.EncodeToString(sum[:])
	dir, err := r.Cache.Path("alpine", id)
	if err != nil {
		return nil, err
	}
	k, m, err := r.unpacked(ref, dir, "alpine-"+id, e.Name+" "+e.Version, rsaKeysID(keys), func(tmp string) (manifest, []string, error) {
		m := manifest{Package: e.Name, Version: e.Version, Mirror: repo}
		r.logf("downloading %s %s from %s", e.Name, e.Version, repo)
		b, err := r.alpineGet(ctx, repo+e.Filename(), maxRPM)
		if err != nil {
			return m, nil, err
		}
		data, err := apk.Verify(b, e, keys)
		if err != nil {
			return m, nil, fmt.Errorf("%s: %w", e.Filename(), err)
		}
		s := sha256.Sum256(b)
		m.PackageSHA256 = hex.EncodeToString(s[:])
		names, err := apk.Extract(data, tmp, unpack.Options{Keep: kernelFile})
		return m, names, err
	})
	if err != nil {
		return nil, err
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.PackageSHA256 = e.Name, e.Version, m.PackageSHA256
	k.Origin.Suite, k.Origin.URL = "Alpine "+ref.Series, repo+e.Filename()
	return k, nil
}
