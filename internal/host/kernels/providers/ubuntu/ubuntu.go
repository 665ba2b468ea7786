// Package ubuntu resolves ubuntu: references from Ubuntu's archive,
// whose layout is Debian's (dists/SUITE/InRelease, Packages, pool/),
// signed by Ubuntu's archive keys; releases past their end of life are
// on old-releases.ubuntu.com, architectures other than amd64 and i386 on
// ports.ubuntu.com.
package ubuntu

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Kind is a kernel of an Ubuntu release.
const Kind kit.Kind = "ubuntu"

// Provider resolves ubuntu: references.
type Provider struct{}

// Kind is ubuntu.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes is ubuntu:.
func (Provider) Schemes() []string { return []string{"ubuntu:"} }

// Mirrors are Ubuntu's archive, its ports and its old releases.
func (Provider) Mirrors() map[string]string { return maps.Clone(defaultMirrors) }

// Examples are ubuntu: references.
func (Provider) Examples() []string {
	return []string{"ubuntu:22.04", "ubuntu:22.04/hwe", "ubuntu:5.15.0-91"}
}

// Between lists the releases from one to another (numbers or codenames).
func (Provider) Between(_, from, to string) ([]string, error) {
	var all []string
	for _, r := range ubuntuReleases {
		all = append(all, r[0])
	}
	return kit.Span("ubuntu", all, number(from), number(to), "ubuntu:16.04..22.04")
}

// number is the release number of a release number or codename.
func number(s string) string {
	if n, _, ok := ubuntuCodename(s); ok {
		return n
	}
	return s
}

// ubuntuReleases maps release numbers to codenames, oldest first.
var ubuntuReleases = [][2]string{
	{"10.04", "lucid"}, {"10.10", "maverick"}, {"11.04", "natty"}, {"11.10", "oneiric"},
	{"12.04", "precise"}, {"12.10", "quantal"}, {"13.04", "raring"}, {"13.10", "saucy"},
	{"14.04", "trusty"}, {"14.10", "utopic"}, {"15.04", "vivid"}, {"15.10", "wily"},
	{"16.04", "xenial"}, {"16.10", "yakkety"}, {"17.04", "zesty"}, {"17.10", "artful"},
	{"18.04", "bionic"}, {"18.10", "cosmic"}, {"19.04", "disco"}, {"19.10", "eoan"},
	{"20.04", "focal"}, {"20.10", "groovy"}, {"21.04", "hirsute"}, {"21.10", "impish"},
	{"22.04", "jammy"}, {"22.10", "kinetic"}, {"23.04", "lunar"}, {"23.10", "mantic"},
	{"24.04", "noble"}, {"24.10", "oracular"}, {"25.04", "plucky"}, {"25.10", "questing"},
}

var (
	ubuntuNumberRE = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)
	ubuntuABIRE    = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$`)
	ubuntuWordRE   = regexp.MustCompile(`^[a-z]+$`) // a codename, known or not
	ubuntuFlavours = []string{"generic", "lowlatency", "virtual"}
)

func ubuntuCodename(what string) (number, codename string, ok bool) {
	for _, r := range ubuntuReleases {
		if r[0] == what || r[1] == what {
			return r[0], r[1], true
		}
	}
	return "", "", false
}

// Parse reads ubuntu:RELEASE|CODENAME|ABI[/hwe][/FLAVOUR][/ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind, Flavour: "generic", Arch: cpu.X86_64}
	parts := strings.Split(strings.TrimPrefix(s, "ubuntu:"), "/")
	what := parts[0]
	switch {
	case ubuntuABIRE.MatchString(what):
		r.Version = what
	default:
		num, code, ok := ubuntuCodename(what)
		if !ok {
			if ubuntuNumberRE.MatchString(what) || ubuntuWordRE.MatchString(what) {
				return r, fmt.Errorf("kernel %q: Ubuntu has no release %s that runmatrix knows (%s to %s)", s, what, ubuntuReleases[0][0], ubuntuReleases[len(ubuntuReleases)-1][0])
			}
			return r, fmt.Errorf("kernel %q: want ubuntu:RELEASE (ubuntu:18.04, ubuntu:bionic) or ubuntu:ABI (ubuntu:4.15.0-20), then /hwe, /lowlatency or an arch", s)
		}
		r.Series, r.Codename = num, code
	}
	for _, m := range parts[1:] {
		switch {
		case m == "hwe":
			if r.Version != "" {
				return r, fmt.Errorf("kernel %q: /hwe names a release's hardware-enablement kernel; an ABI names one kernel already", s)
			}
			r.HWE = true
		case m == "generic" || m == "lowlatency" || m == "virtual":
			r.Flavour = m
		default:
			a, err := kit.ParseArch(s, m)
			if err != nil {
				return r, fmt.Errorf("%w, or /hwe or a flavour (%s)", err, strings.Join(ubuntuFlavours, ", "))
			}
			r.Arch = a
		}
	}
	return r, nil
}

// ubuntuIndex is the kernel part of one suite's Packages, cached.
type ubuntuIndex struct {
	Fetched  time.Time            `json:"fetched"`
	Mirror   string               `json:"mirror"`
	Missing  bool                 `json:"missing,omitempty"`
	Arches   []string             `json:"arches,omitempty"`
	Packages []debarchive.Package `json:"packages"`
}

func archive(r *kit.Env, url string, retired bool, keys openpgp.EntityList) *debarchive.Archive {
	return &debarchive.Archive{URL: url, Keyring: keys, Client: r.Client, Retired: retired}
}

// suiteIndex reads (or takes from the cache) the kernel packages of one
// suite: from the current archive (or ports), else old-releases, verified
// with keys (and cached under their ID).
func suiteIndex(ctx context.Context, r *kit.Env, suite, debArch string, keys openpgp.EntityList) (*ubuntuIndex, error) {
	current := "ubuntu"
	if debArch != "amd64" && debArch != "i386" {
		current = "ubuntu-ports"
	}
	p, err := r.Cache.Path("ubuntu-index", kit.CacheKey(mirror(r, current))+"_"+suite+"_"+debArch+"_"+kit.OpenPGPKeysID(keys)+".json")
	if err != nil {
		return nil, err
	}
	var idx ubuntuIndex
	if r.FreshIndex(p, &idx, &idx.Fetched) {
		return &idx, nil
	}
	if r.Offline {
		return nil, kit.ErrOffline
	}
	idx = ubuntuIndex{Missing: true}
	for _, m := range []struct {
		name    string
		retired bool
	}{{current, false}, {"ubuntu-old", true}} {
		a := archive(r, mirror(r, m.name), m.retired, keys)
		rel, err := a.Release(ctx, suite)
		var nf *debarchive.NotFoundError
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return nil, r.Unreachable(mirror(r, m.name), m.name, err)
		}
		idx = ubuntuIndex{Mirror: mirror(r, m.name), Arches: rel.Architectures}
		if !slices.Contains(rel.Architectures, debArch) {
			break
		}
		pkgs, err := a.Packages(ctx, rel, "main", debArch, func(name string) bool {
			return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-modules-")
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", suite, err)
		}
		idx.Packages = pkgs
		break
	}
	idx.Fetched = time.Now().UTC()
	if err := store.WriteJSON(p, idx); err != nil {
		return nil, err
	}
	return &idx, nil
}

// Resolve finds the kernel a reference names: the one its release's
// kernel metapackage (linux-image-generic, linux-image-generic-hwe-22.04)
// depends on, or the ABI given, and fetches it once.
func (Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	_, debArch := cpu.Debian(ref.Arch)
	keys, err := r.OpenPGPKeys("ubuntu-archive") // read once: an ABI search reads every release's suites
	if err != nil {
		return nil, err
	}
	codenames := []string{ref.Codename}
	if ref.Version != "" {
		codenames = nil
		for i := len(ubuntuReleases) - 1; i >= 0; i-- {
			codenames = append(codenames, ubuntuReleases[i][1])
		}
	}
	var unreached error // a release an ABI search could not read
	for _, code := range codenames {
		var all []debarchive.Package
		from, seen, hasArch := "", false, false
		var lacking []string // pockets no mirror has
		for _, suite := range []string{code + "-security", code + "-updates", code} {
			idx, err := suiteIndex(ctx, r, suite, debArch, keys)
			if errors.Is(err, kit.ErrOffline) {
				continue
			}
			var ue *kit.UnreachableError
			if err != nil && ref.Version != "" && errors.As(err, &ue) && ue.Mirror == "ubuntu-old" {
				unreached = err // an end-of-life release on an unreachable old-releases: look on
				break
			}
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
			}
			if idx.Missing {
				if suite != code {
					lacking = append(lacking, suite)
				}
				continue
			}
			seen = true
			if slices.Contains(idx.Arches, debArch) {
				hasArch = true
			}
			for _, p := range idx.Packages {
				p.Suite = suite
				all = append(all, p)
			}
			if suite == code {
				from = idx.Mirror
			}
		}
		if seen && len(lacking) > 0 {
			// The release is there but a pocket is not: its newer kernels
			// are not considered, which must not pass unsaid.
			r.Logf("%s: no Ubuntu mirror has %s, so its kernels are not considered; the answer may be older than %s's newest", ref.Raw, strings.Join(lacking, " or "), code)
		}
		if !seen {
			if r.Offline {
				continue
			}
			if ref.Version != "" {
				continue
			}
			return nil, kit.Inputf("kernel %s: no Ubuntu archive (%s, %s) has %s; point --mirror ubuntu=URL or ubuntu-old=URL at one that does", ref.Raw, mirror(r, "ubuntu"), mirror(r, "ubuntu-old"), code)
		}
		if !hasArch {
			if ref.Version != "" {
				continue
			}
			return nil, kit.Inputf("kernel %s: Ubuntu %s has no %s packages", ref.Raw, code, debArch)
		}
		pkgs, err := pickUbuntu(all, ref, code)
		if err != nil {
			if ref.Version != "" {
				continue
			}
			return nil, err
		}
		if from == "" {
			from = mirror(r, "ubuntu")
		}
		return fetchKernel(ctx, r, ref, code, from, pkgs, keys)
	}
	if r.Offline {
		return nil, kit.OfflineMiss(ref.Raw, "")
	}
	if unreached != nil {
		return nil, kit.Inputf("kernel %s: no Ubuntu release read has linux-image-%s-%s for %s, and some could not be read: %v", ref.Raw, ref.Version, ref.Flavour, debArch, unreached)
	}
	return nil, kit.Inputf("kernel %s: no Ubuntu release has linux-image-%s-%s for %s", ref.Raw, ref.Version, ref.Flavour, debArch)
}

// newest returns the newest package of a name among pkgs.
func newest(pkgs []debarchive.Package, name string) *debarchive.Package {
	var best *debarchive.Package
	for i, p := range pkgs {
		if p.Name == name && (best == nil || debarchive.CompareVersions(p.Version, best.Version) > 0) {
			best = &pkgs[i]
		}
	}
	return best
}

var imageDepRE = regexp.MustCompile(`linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-([a-z0-9-]+)`)

// pickUbuntu returns the image package and its modules package.
func pickUbuntu(all []debarchive.Package, ref kit.Ref, code string) ([]debarchive.Package, error) {
	abi, flav := ref.Version, ref.Flavour
	if flav == "virtual" {
		flav = "generic" // linux-image-virtual has depended on the generic image since 2016
	}
	if abi == "" {
		num, _, _ := ubuntuCodename(code)
		meta := "linux-image-" + ref.Flavour
		if ref.HWE {
			meta += "-hwe-" + num
		}
		m := newest(all, meta)
		if m == nil {
			if ref.HWE {
				return nil, kit.Inputf("kernel %s: Ubuntu %s has no hardware-enablement kernel (%s)", ref.Raw, num, meta)
			}
			return nil, kit.Inputf("kernel %s: Ubuntu %s has no %s", ref.Raw, num, meta)
		}
		g := imageDepRE.FindStringSubmatch(m.Depends)
		if g == nil {
			return nil, fmt.Errorf("kernel %s: %s %s depends on no kernel image (%q)", ref.Raw, meta, m.Version, m.Depends)
		}
		abi, flav = g[1], g[2]
	}
	img := newest(all, "linux-image-"+abi+"-"+flav)
	if img == nil {
		img = newest(all, "linux-image-unsigned-"+abi+"-"+flav)
	}
	if img == nil {
		return nil, kit.Inputf("kernel %s: Ubuntu %s has no linux-image-%s-%s", ref.Raw, code, abi, flav)
	}
	out := []debarchive.Package{*img}
	if m := newest(all, "linux-modules-"+abi+"-"+flav); m != nil {
		out = append(out, *m)
	}
	return out, nil
}

// fetchKernel downloads the packages (checked against their signed
// index) and extracts the kernel, config and modules, once.
func fetchKernel(ctx context.Context, r *kit.Env, ref kit.Ref, code, from string, pkgs []debarchive.Package, keys openpgp.EntityList) (*kit.Kernel, error) {
	dir, err := r.Cache.Path("ubuntu", pkgs[0].SHA256)
	if err != nil {
		return nil, err
	}
	k, _, err := r.Unpacked(ref, dir, "ubuntu-"+pkgs[0].SHA256, pkgs[0].Name+" "+pkgs[0].Version, kit.OpenPGPKeysID(keys), func(tmp string) (kit.Manifest, []string, error) {
		m := kit.Manifest{Package: pkgs[0].Name, Version: pkgs[0].Version, Suite: pkgs[0].Suite, Mirror: from, DebSHA256: pkgs[0].SHA256}
		a := archive(r, from, from == mirror(r, "ubuntu-old"), keys)
		r.Logf("downloading %s %s from %s (%s)", pkgs[0].Name, pkgs[0].Version, from, pkgs[0].Suite)
		names, err := a.Unpack(ctx, pkgs, tmp, r.Cache.TempFile, kit.KernelFile)
		return m, names, err
	})
	if err != nil {
		return nil, err
	}
	num, _, _ := ubuntuCodename(code)
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.DebSHA256 = pkgs[0].Name, pkgs[0].Version, pkgs[0].SHA256
	k.Origin.Suite, k.Origin.URL = "Ubuntu "+num+" "+pkgs[0].Suite, strings.TrimRight(from, "/")+"/"+pkgs[0].Filename
	return k, nil
}

// defaultMirrors are where Ubuntu's archives are, by the names --mirror
// NAME=URL overrides.
var defaultMirrors = map[string]string{
	"ubuntu":       "http://archive.ubuntu.com/ubuntu",
	"ubuntu-ports": "http://ports.ubuntu.com/ubuntu-ports",
	"ubuntu-old":   "http://old-releases.ubuntu.com/ubuntu",
}

// mirror is the URL of the Ubuntu mirror called name.
func mirror(r *kit.Env, name string) string { return r.Mirror(name, defaultMirrors[name]) }
