// Package rpmdistro resolves the kernels of RPM distributions: centos:,
// rocky:, alma: and fedora: references, from the distributions'
// repositories (createrepo layout: repodata/repomd.xml → primary.xml →
// the kernel RPM), each RPM verified with the distribution's own key.
package rpmdistro

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/rpm"
	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Kind is a kernel of an RPM distribution (Ref.Distro names it).
const Kind kit.Kind = "rpm"

// defaultMirrors are where each distribution's repositories are, by the
// names --mirror NAME=URL overrides.
var defaultMirrors = map[string]string{
	"centos":         "https://vault.centos.org",
	"rocky":          "https://dl.rockylinux.org",
	"alma":           "https://repo.almalinux.org",
	"alma-vault":     "https://vault.almalinux.org",
	"fedora":         "https://dl.fedoraproject.org",
	"fedora-archive": "https://archives.fedoraproject.org",
}

// Provider resolves centos:, rocky:, alma: and fedora: references.
type Provider struct{}

// Kind is rpm.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes are the distributions' prefixes.
func (Provider) Schemes() []string {
	var out []string
	for _, d := range Distros() {
		out = append(out, d+":")
	}
	return out
}

// Mirrors are the distributions' mirrors.
func (Provider) Mirrors() map[string]string { return maps.Clone(defaultMirrors) }

// Examples are references of each distribution.
func (Provider) Examples() []string {
	return []string{"centos:6.5", "centos:2.6.32-504.el6", "rocky:8", "alma:9", "fedora:39"}
}

// Between lists a distribution's releases from one to another.
func (Provider) Between(distro, from, to string) ([]string, error) {
	switch distro {
	case "centos":
		var all []string
		for _, r := range centosReleases {
			p := strings.Split(r, ".")
			if short := p[0] + "." + p[1]; !slices.Contains(all, short) {
				all = append(all, short)
			}
		}
		return kit.Span(distro, all, from, to, "centos:6.4..6.7")
	case "fedora":
		a, errA := strconv.Atoi(from)
		b, errB := strconv.Atoi(to)
		if errA != nil || errB != nil || a > b {
			return nil, fmt.Errorf("want fedora:A..B with A not after B (fedora:37..39)")
		}
		var all []string
		for n := a; n <= b; n++ {
			all = append(all, strconv.Itoa(n))
		}
		return all, nil
	}
	return kit.Minors(distro, from, to, map[string]string{"rocky": "rocky:8.4..8.8", "alma": "alma:9.0..9.3"}[distro])
}

// mirror is the URL of the mirror called name.
func mirror(r *kit.Env, name string) string { return r.Mirror(name, defaultMirrors[name]) }

// maxRPM bounds one kernel package.
const maxRPM = 1 << 30

// rpmDistro is what runmatrix knows of one RPM distribution.
type rpmDistro struct {
	name, pretty string
	// releases are the known point releases, oldest first, where the
	// distribution has stopped making them (CentOS); nil where any is
	// asked of the mirror.
	releases []string
	// arches gives the kernel arches a major release builds.
	arches func(major int) []string
	// repos are the repositories of a release for an arch, and the
	// mirror name each is under.
	repos func(r *kit.Env, release string, major int, arch string) []rpmRepo
	// keys names the embedded key file of a major release.
	keys func(major int) string
	// signsMetadata says the distribution signs repomd.xml, so an
	// unsigned one is refused.
	signsMetadata bool
}

type rpmRepo struct{ url, mirror string }

var centosReleases = []string{"6.0", "6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "6.7", "6.8", "6.9", "6.10",
	"7.0.1406", "7.1.1503", "7.2.1511", "7.3.1611", "7.4.1708", "7.5.1804", "7.6.1810", "7.7.1908", "7.8.2003", "7.9.2009",
	"8.0.1905", "8.1.1911", "8.2.2004", "8.3.2011", "8.4.2105", "8.5.2111"}

func el8On() []string { return []string{cpu.X86_64, cpu.ARM64, cpu.PPC64LE, cpu.S390X} }

var rpmDistros = map[string]*rpmDistro{
	"centos": {name: "centos", pretty: "CentOS", releases: centosReleases,
		arches: func(major int) []string {
			switch {
			case major <= 6:
				return []string{cpu.X86_64, cpu.I386}
			case major == 7:
				return []string{cpu.X86_64}
			}
			return []string{cpu.X86_64, cpu.ARM64, cpu.PPC64LE}
		},
		repos: func(r *kit.Env, rel string, major int, arch string) []rpmRepo {
			_, dir := cpu.RPM(arch)
			root := mirror(r, "centos")
			if major >= 8 {
				return []rpmRepo{{root + "/" + rel + "/BaseOS/" + dir + "/os/", "centos"}}
			}
			return []rpmRepo{{root + "/" + rel + "/updates/" + dir + "/", "centos"}, {root + "/" + rel + "/os/" + dir + "/", "centos"}}
		},
		keys: func(major int) string {
			if major >= 8 {
				return "centos-official"
			}
			return "centos-" + strconv.Itoa(major)
		}},
	"rocky": {name: "rocky", pretty: "Rocky Linux", arches: func(int) []string { return el8On() },
		repos: func(r *kit.Env, rel string, major int, arch string) []rpmRepo {
			_, dir := cpu.RPM(arch)
			if strings.Contains(rel, ".") {
				return []rpmRepo{{mirror(r, "rocky") + "/vault/rocky/" + rel + "/BaseOS/" + dir + "/os/", "rocky"}}
			}
			return []rpmRepo{{mirror(r, "rocky") + "/pub/rocky/" + rel + "/BaseOS/" + dir + "/os/", "rocky"}}
		},
		keys: func(major int) string { return "rocky-" + strconv.Itoa(major) }, signsMetadata: true},
	"alma": {name: "alma", pretty: "AlmaLinux", arches: func(int) []string { return el8On() },
		repos: func(r *kit.Env, rel string, major int, arch string) []rpmRepo {
			_, dir := cpu.RPM(arch)
			if strings.Contains(rel, ".") {
				return []rpmRepo{{mirror(r, "alma-vault") + "/" + rel + "/BaseOS/" + dir + "/os/", "alma-vault"}}
			}
			return []rpmRepo{{mirror(r, "alma") + "/almalinux/" + rel + "/BaseOS/" + dir + "/os/", "alma"}}
		},
		keys: func(major int) string { return "alma-" + strconv.Itoa(major) }, signsMetadata: true},
	"fedora": {name: "fedora", pretty: "Fedora", arches: func(int) []string { return el8On() },
		repos: func(r *kit.Env, rel string, major int, arch string) []rpmRepo {
			_, dir := cpu.RPM(arch)
			var out []rpmRepo
			for _, m := range []struct{ name, path string }{{"fedora", "/pub/fedora/linux/"}, {"fedora-archive", "/pub/archive/fedora/linux/"}} {
				root := mirror(r, m.name) + m.path
				out = append(out, rpmRepo{root + "updates/" + rel + "/Everything/" + dir + "/", m.name}, rpmRepo{root + "releases/" + rel + "/Everything/" + dir + "/os/", m.name})
			}
			return out
		},
		keys: func(major int) string { return "fedora-" + strconv.Itoa(major) }},
}

// Distros are the scheme names of the RPM distributions.
func Distros() []string { return []string{"centos", "rocky", "alma", "fedora"} }

var (
	rpmReleaseRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	// A kernel version-release: 2.6.32-504.el6, 3.10.0-1160.el7, 6.5.6-300.fc39.
	rpmKernelRE = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?-[0-9][0-9a-z._]*\.(el|fc)([0-9]+)[0-9a-z._]*$`)
)

// Parse reads DISTRO:RELEASE[/ARCH] or DISTRO:VERSION-RELEASE[/ARCH].
func (Provider) Parse(s, distro string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind, Distro: distro}
	what, arch, _ := strings.Cut(strings.TrimPrefix(s, distro+":"), "/")
	a, err := kit.ParseArch(s, arch)
	if err != nil {
		return r, err
	}
	r.Arch = a
	switch {
	case rpmKernelRE.MatchString(what):
		r.Version = what
	case rpmReleaseRE.MatchString(what):
		r.Series = what
	default:
		return r, fmt.Errorf("kernel %q: want %s:RELEASE (%s) or %s:VERSION-RELEASE of a kernel (%s)", s, distro,
			map[string]string{"centos": "centos:6.5, centos:7", "rocky": "rocky:8, rocky:8.6", "alma": "alma:9", "fedora": "fedora:39"}[distro],
			distro, map[string]string{"centos": "centos:2.6.32-504.el6", "rocky": "rocky:4.18.0-372.9.1.el8", "alma": "alma:5.14.0-362.8.1.el9", "fedora": "fedora:6.5.6-300.fc39"}[distro])
	}
	return r, nil
}

func major(release string) int {
	m, _ := strconv.Atoi(strings.SplitN(release, ".", 2)[0])
	return m
}

// rpmReleases are the releases a reference asks to search, newest first.
func (d *rpmDistro) rpmReleases(ref kit.Ref) ([]string, error) {
	if ref.Version != "" {
		g := rpmKernelRE.FindStringSubmatch(ref.Version)
		m := g[3]
		if d.releases == nil {
			return []string{m}, nil
		}
		var out []string
		for i := len(d.releases) - 1; i >= 0; i-- {
			if major(d.releases[i]) == major(m) {
				out = append(out, d.releases[i])
			}
		}
		if len(out) == 0 {
			return nil, kit.Inputf("kernel %s: %s has no release %s (releases: %s)", ref.Raw, d.pretty, m, d.releaseSpan())
		}
		return out, nil
	}
	if d.releases == nil {
		return []string{ref.Series}, nil
	}
	for i := len(d.releases) - 1; i >= 0; i-- {
		rel := d.releases[i]
		if rel == ref.Series || strings.HasPrefix(rel, ref.Series+".") {
			return []string{rel}, nil
		}
	}
	return nil, kit.Inputf("kernel %s: %s has no release %s (releases: %s)", ref.Raw, d.pretty, ref.Series, d.releaseSpan())
}

func (d *rpmDistro) releaseSpan() string {
	var spans []string
	for i := 0; i < len(d.releases); {
		j := i
		for j+1 < len(d.releases) && major(d.releases[j+1]) == major(d.releases[i]) {
			j++
		}
		short := func(s string) string { p := strings.Split(s, "."); return p[0] + "." + p[1] }
		spans = append(spans, short(d.releases[i])+"–"+short(d.releases[j]))
		i = j + 1
	}
	return strings.Join(spans, ", ")
}

// rpmIndex is a repository's kernel packages, cached.
type rpmIndex struct {
	Fetched  time.Time  `json:"fetched"`
	Signed   bool       `json:"signed"`
	Packages []rpm.Info `json:"packages"`
	Missing  bool       `json:"missing,omitempty"`
}

var kernelPackages = []string{"kernel", "kernel-core", "kernel-modules-core"}

// fetchIndex reads (or takes from the cache) a repository's kernel packages;
// signed requires a signed repomd.xml, of the cache entry too.
func fetchIndex(ctx context.Context, r *kit.Env, repo rpmRepo, arch string, keys openpgp.EntityList, signed bool) (*rpmIndex, error) {
	p, err := r.Cache.Path("rpm-index", kit.CacheKey(repo.url)+"_"+kit.OpenPGPKeysID(keys)+".json")
	if err != nil {
		return nil, err
	}
	var idx rpmIndex
	if r.FreshIndex(p, &idx, &idx.Fetched) && (idx.Signed || idx.Missing || !signed) {
		return &idx, nil
	}
	if r.Offline {
		return nil, kit.ErrOffline
	}
	pkgArch, _ := cpu.RPM(arch)
	rp := &rpm.Repo{URL: repo.url, Client: r.Client, Keys: keys, Signed: signed}
	pkgs, signed, err := rp.Packages(ctx, func(name, a string) bool { return a == pkgArch && slices.Contains(kernelPackages, name) })
	var nf *rpm.NotFoundError
	switch {
	case errors.As(err, &nf):
		idx = rpmIndex{Missing: true}
	case err != nil:
		return nil, r.Unreachable(repo.url, repo.mirror, err)
	default:
		idx = rpmIndex{Signed: signed, Packages: pkgs}
	}
	idx.Fetched = time.Now().UTC()
	if err := store.WriteJSON(p, idx); err != nil {
		return nil, err
	}
	return &idx, nil
}

// Resolve finds the newest kernel the reference names in its
// distribution's repositories, then fetches, verifies and extracts it.
func (Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	d := rpmDistros[ref.Distro]
	rels, err := d.rpmReleases(ref)
	if err != nil {
		return nil, err
	}
	keys, err := r.OpenPGPKeys(d.keys(major(rels[0])))
	if err != nil {
		return nil, kit.Inputf("kernel %s: runmatrix has no signing key for %s %d", ref.Raw, d.pretty, major(rels[0]))
	}
	if !slices.Contains(d.arches(major(rels[0])), ref.Arch) {
		var have []string
		for _, a := range d.arches(major(rels[0])) {
			have = append(have, cpu.Name(a))
		}
		return nil, kit.Inputf("kernel %s: %s %d has no %s kernels (it builds %s)", ref.Raw, d.pretty, major(rels[0]), cpu.Name(ref.Arch), strings.Join(have, ", "))
	}
	var best []rpm.Info // the image package, then parts
	var bestRel string
	anyRepo := false
	for _, rel := range rels {
		for _, repo := range d.repos(r, rel, major(rel), ref.Arch) {
			idx, err := fetchIndex(ctx, r, repo, ref.Arch, keys, d.signsMetadata)
			if errors.Is(err, kit.ErrOffline) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
			}
			if idx.Missing {
				continue
			}
			anyRepo = true
			if pick := pickKernel(idx.Packages, ref.Version); pick != nil && (best == nil || rpm.CompareVersions(pick[0].VR(), best[0].VR()) > 0) {
				best, bestRel = pick, rel
			}
		}
		if best != nil && ref.Version != "" {
			break // the newest release that has it
		}
	}
	switch {
	case best == nil && r.Offline:
		return nil, kit.OfflineMiss(ref.Raw, "")
	case best == nil && !anyRepo:
		return nil, kit.Inputf("kernel %s: %s has no release %s for %s at %s (no repodata/repomd.xml)", ref.Raw, d.pretty, strings.Join(rels, ", "), cpu.Name(ref.Arch), d.repos(r, rels[0], major(rels[0]), ref.Arch)[0].url)
	case best == nil && ref.Version != "":
		return nil, kit.Inputf("kernel %s: no %s release (%s) has kernel %s", ref.Raw, d.pretty, strings.Join(rels, ", "), ref.Version)
	case best == nil:
		return nil, kit.Inputf("kernel %s: %s %s lists no kernel package for %s", ref.Raw, d.pretty, rels[0], cpu.Name(ref.Arch))
	}
	return fetchKernel(ctx, r, ref, d, bestRel, best, keys)
}

// pickKernel returns the newest kernel (or the one of version) among a
// repository's packages: its image package (kernel-core from EL8, else
// kernel) and the modules package that goes with it.
func pickKernel(pkgs []rpm.Info, version string) []rpm.Info {
	byVR := map[string]map[string]rpm.Info{}
	for _, p := range pkgs {
		if version != "" && p.VR() != version && !strings.HasPrefix(p.VR(), version+".") {
			continue
		}
		if byVR[p.VR()] == nil {
			byVR[p.VR()] = map[string]rpm.Info{}
		}
		byVR[p.VR()][p.Name] = p
	}
	var newest string
	for vr, names := range byVR {
		_, core := names["kernel-core"]
		_, kernel := names["kernel"]
		if (core || kernel) && (newest == "" || rpm.CompareVersions(vr, newest) > 0) {
			newest = vr
		}
	}
	if newest == "" {
		return nil
	}
	names := byVR[newest]
	if core, ok := names["kernel-core"]; ok {
		out := []rpm.Info{core}
		if m, ok := names["kernel-modules-core"]; ok {
			out = append(out, m)
		}
		return out
	}
	return []rpm.Info{names["kernel"]}
}

// fetchKernel downloads the packages (checked against primary.xml),
// verifies each with the distribution's key, and extracts the kernel,
// config and modules, once.
func fetchKernel(ctx context.Context, r *kit.Env, ref kit.Ref, d *rpmDistro, rel string, pkgs []rpm.Info, keys openpgp.EntityList) (*kit.Kernel, error) {
	dir, err := r.Cache.Path("rpm", pkgs[0].Sum)
	if err != nil {
		return nil, err
	}
	k, _, err := r.Unpacked(ref, dir, "rpm-"+pkgs[0].Sum, pkgs[0].Name+" "+pkgs[0].VR(), kit.OpenPGPKeysID(keys), func(tmp string) (kit.Manifest, []string, error) {
		m := kit.Manifest{Package: pkgs[0].Name, Version: pkgs[0].VR(), Mirror: pkgs[0].Repo, PackageSHA256: pkgs[0].Sum}
		r.Logf("downloading %s %s from %s (%s %s)", pkgs[0].Name, pkgs[0].VR(), pkgs[0].Repo, d.pretty, rel)
		var names []string
		for _, p := range pkgs {
			got, err := fetchRPM(ctx, r, p, keys, tmp)
			if err != nil {
				return m, nil, err
			}
			names = append(names, got...)
		}
		return m, names, nil
	})
	if err != nil {
		return nil, err
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.PackageSHA256 = pkgs[0].Name, pkgs[0].VR(), pkgs[0].Sum
	k.Origin.Suite, k.Origin.URL = d.pretty+" "+rel, pkgs[0].Repo+pkgs[0].Location
	return k, nil
}

func fetchRPM(ctx context.Context, r *kit.Env, p rpm.Info, keys openpgp.EntityList, root string) ([]string, error) {
	f, err := r.Cache.TempFile()
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := (&rpm.Repo{URL: p.Repo, Client: r.Client}).Download(ctx, p, f, maxRPM); err != nil {
		return nil, err
	}
	pkg, err := rpm.Open(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Location, err)
	}
	defer pkg.Close()
	if _, err := pkg.Verify(keys); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Location, err)
	}
	// The signature vouches for the package, primary.xml for which package
	// it is: a mirror could serve any package the distribution ever signed
	// (an older kernel) under this entry, so the two must agree.
	if got, want := pkg.Name+"-"+pkg.Version+"-"+pkg.Release+"."+pkg.Arch, p.Name+"-"+p.VR()+"."+p.Arch; got != want {
		return nil, fmt.Errorf("%s: the signed package is %s, but primary.xml lists it as %s; the mirror serves another package under this name", p.Location, got, want)
	}
	names, err := pkg.Extract(root, unpack.Options{Keep: kit.KernelFile})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Location, err)
	}
	return names, nil
}
