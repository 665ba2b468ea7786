// Package alpine resolves alpine: references: Alpine's linux-lts (or
// -virt) package of a release, from the signed APKINDEX of its main
// repository.
package alpine

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
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Kind is a kernel of an Alpine release.
const Kind kit.Kind = "alpine"

// DefaultMirror is where Alpine's releases are (--mirror alpine=URL).
const DefaultMirror = "https://dl-cdn.alpinelinux.org/alpine"

// maxAPK bounds one kernel package.
const maxAPK = 1 << 30

// Provider resolves alpine: references.
type Provider struct{}

// Kind is alpine.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes is alpine:.
func (Provider) Schemes() []string { return []string{"alpine:"} }

// Mirrors is Alpine's CDN.
func (Provider) Mirrors() map[string]string { return map[string]string{"alpine": DefaultMirror} }

// Examples are alpine: references.
func (Provider) Examples() []string { return []string{"alpine:3.18", "alpine:3.18/virt"} }

// Between lists the minor releases M.A to M.B.
func (Provider) Between(distro, from, to string) ([]string, error) {
	return kit.Minors(distro, from, to, "alpine:3.16..3.18")
}

var alpineReleaseRE = regexp.MustCompile(`^([0-9]+\.[0-9]+|edge)$`)

// Parse reads alpine:RELEASE[/lts|/virt|/vanilla][/ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind, Flavour: "lts", Arch: cpu.X86_64}
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
			a, err := kit.ParseArch(s, m)
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
func keysOf(r *kit.Env) (map[string]*rsa.PublicKey, error) {
	keys, err := distkeys.Alpine()
	if err != nil {
		return nil, err
	}
	for n, k := range r.RSAKeys {
		keys[n] = k
	}
	return keys, nil
}

// get reads u whole (at most max bytes); a mirror out of reach is
// said so, naming --mirror alpine.
func get(ctx context.Context, r *kit.Env, u string, max int64) ([]byte, error) {
	b, err := r.Fetch().Bytes(ctx, u, max)
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, r.Unreachable(mirror(r), "alpine", err)
	}
	return b, err
}

// mirror is where Alpine's releases are.
func mirror(r *kit.Env) string { return r.Mirror("alpine", DefaultMirror) }

// Resolve finds the release's kernel package in its signed index,
// verifies the package and extracts it once.
func (Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	rel := ref.Series
	if rel != "edge" {
		rel = "v" + rel
	}
	repo := mirror(r) + "/" + rel + "/main/" + cpu.Alpine(ref.Arch) + "/"
	keys, err := keysOf(r)
	if err != nil {
		return nil, err
	}
	p, err := r.Cache.Path("alpine-index", kit.CacheKey(repo)+"_"+kit.RSAKeysID(keys)+".json")
	if err != nil {
		return nil, err
	}
	var idx alpineIndex
	if !r.FreshIndex(p, &idx, &idx.Fetched) {
		if r.Offline {
			return nil, kit.OfflineMiss(ref.Raw, "")
		}
		b, err := get(ctx, r, repo+"APKINDEX.tar.gz", 64<<20)
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
		if err := store.WriteJSON(p, idx); err != nil {
			return nil, err
		}
	}
	if idx.Missing {
		return nil, kit.Inputf("kernel %s: Alpine has no %s main repository for %s (no %sAPKINDEX.tar.gz); point --mirror alpine=URL elsewhere if it should", ref.Raw, rel, cpu.Alpine(ref.Arch), repo)
	}
	var e *apk.Entry
	for i := range idx.Entries {
		if idx.Entries[i].Name == "linux-"+ref.Flavour {
			e = &idx.Entries[i]
		}
	}
	if e == nil {
		return nil, kit.Inputf("kernel %s: Alpine %s lists no linux-%s for %s", ref.Raw, rel, ref.Flavour, cpu.Alpine(ref.Arch))
	}
	return fetchKernel(ctx, r, ref, repo, *e, keys)
}

func fetchKernel(ctx context.Context, r *kit.Env, ref kit.Ref, repo string, e apk.Entry, keys map[string]*rsa.PublicKey) (*kit.Kernel, error) {
	sum := sha256.Sum256([]byte(e.Checksum))
	id := hex.EncodeToString(sum[:])
	dir, err := r.Cache.Path("alpine", id)
	if err != nil {
		return nil, err
	}
	k, m, err := r.Unpacked(ref, dir, "alpine-"+id, e.Name+" "+e.Version, kit.RSAKeysID(keys), func(tmp string) (kit.Manifest, []string, error) {
		m := kit.Manifest{Package: e.Name, Version: e.Version, Mirror: repo}
		r.Logf("downloading %s %s from %s", e.Name, e.Version, repo)
		b, err := get(ctx, r, repo+e.Filename(), maxAPK)
		if err != nil {
			return m, nil, err
		}
		data, err := apk.Verify(b, e, keys)
		if err != nil {
			return m, nil, fmt.Errorf("%s: %w", e.Filename(), err)
		}
		s := sha256.Sum256(b)
		m.PackageSHA256 = hex.EncodeToString(s[:])
		names, err := apk.Extract(data, tmp, unpack.Options{Keep: kit.KernelFile})
		return m, names, err
	})
	if err != nil {
		return nil, err
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.PackageSHA256 = e.Name, e.Version, m.PackageSHA256
	k.Origin.Suite, k.Origin.URL = "Alpine "+ref.Series, repo+e.Filename()
	return k, nil
}
