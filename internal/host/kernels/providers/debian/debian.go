// Package debian resolves debian: references straight from Debian's
// archives (current mirrors, the archive of retired releases and the
// snapshot archive): signed InRelease, Packages checked against it, .deb
// checked against Packages, extracted in-process (no apt, dpkg or root).
package debian

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Debian archives runmatrix reads by default. The environment variables
// RUNMATRIX_DEBIAN_MIRROR and RUNMATRIX_DEBIAN_SECURITY_MIRROR override the
// first two (see DebianFromEnv).
const (
	DefaultMirror         = "http://deb.debian.org/debian"
	DefaultSecurityMirror = "http://deb.debian.org/debian-security"
	// DefaultRetiredMirror holds releases that left the mirrors (squeeze to buster).
	DefaultRetiredMirror = "http://archive.debian.org/debian"
)

// currentAliases name the releases a mirror carries; each one's Release
// says its codename.
var currentAliases = []string{"oldoldstable", "oldstable", "stable", "testing", "unstable"}

// retiredCodenames are the releases on the archive of retired releases,
// newest first; retiredNewest is the newest kernel series among them, so a
// newer series is never looked for there.
var (
	retiredCodenames = []string{"buster", "stretch", "jessie", "wheezy", "squeeze", "lenny"}
	retiredNewest    = "4.19"
)

// Releases are the release names a debian: reference may give:
// codenames (newest first) and the suites' aliases.
func Releases() []string {
	out := append([]string{"sid", "forky", "trixie", "bookworm", "bullseye"}, retiredCodenames...)
	return append(out, currentAliases...)
}

// mayBeRetired reports whether a series or ABI version is old enough to be
// on the archive of retired releases.
func mayBeRetired(r kit.Ref) bool {
	if r.Codename != "" || r.Suite != "" {
		return true // suites() named only the suites it may be in
	}
	v := r.Series
	if v == "" {
		v = Kernel{ABI: r.Version}.Series()
	}
	a, errA := parseSeries(v)
	b, _ := parseSeries(retiredNewest)
	return errA == nil && (a[0] < b[0] || a[0] == b[0] && a[1] <= b[1])
}

func parseSeries(s string) ([2]int, error) {
	var v [2]int
	_, err := fmt.Sscanf(s, "%d.%d", &v[0], &v[1])
	return v, err
}

// Config says where Debian kernel packages come from; it finds and fetches them Debian kernel packages straight from Debian
// archives: signed InRelease, Packages checked against it, .deb checked
// against Packages, extracted in-process (no apt, dpkg or root).
type Config struct {
	Mirror, SecurityMirror, RetiredMirror string
	// Keyring verifies every Release; nil means Debian's archive keys.
	Keyring openpgp.EntityList
	Client  *http.Client
	// IndexTTL is how long a suite index is reused (0: kit.DefaultIndexTTL).
	IndexTTL time.Duration
	// Offline resolves from the cache only.
	Offline bool
	// Snapshot is the Debian snapshot archive, asked for an exact ABI
	// version (debian:2.6.32-5) no other archive has; "" never asks it.
	Snapshot string

	// snapshot marks a Debian reading one moment of the snapshot archive.
	snapshot bool
}

// FromEnv returns the default archives, with the mirrors the
// environment names.
func FromEnv() Config {
	d := Config{Mirror: DefaultMirror, SecurityMirror: DefaultSecurityMirror, RetiredMirror: DefaultRetiredMirror}
	// RUNMATRIX_DEBIAN_SNAPSHOT set but empty turns the snapshot archive off.
	if m := os.Getenv("RUNMATRIX_DEBIAN_MIRROR"); m != "" {
		d.Mirror = m
	}
	if m := os.Getenv("RUNMATRIX_DEBIAN_SECURITY_MIRROR"); m != "" {
		d.SecurityMirror = m
	}
	if m := os.Getenv("RUNMATRIX_DEBIAN_RETIRED_MIRROR"); m != "" {
		d.RetiredMirror = m
	}
	d.Snapshot = DefaultSnapshot
	if m, ok := os.LookupEnv("RUNMATRIX_DEBIAN_SNAPSHOT"); ok {
		d.Snapshot = m
	}
	return d
}

// withDefaults fills in the default archives where none is set.
func (d Config) withDefaults() *Config {
	env := FromEnv()
	if d.Mirror == "" {
		d.Mirror = env.Mirror
	}
	if d.SecurityMirror == "" {
		d.SecurityMirror = env.SecurityMirror
	}
	if d.RetiredMirror == "" {
		d.RetiredMirror = env.RetiredMirror
	}
	return &d
}

// Kernel is one kernel image package an archive offers.
type Kernel struct {
	debarchive.Package
	// ABI is the kernel ABI in the package name ("6.1.0-50", "6.12.57+deb13").
	ABI string `json:"abi"`
	// Arch is cpu.X86_64 or cpu.I386.
	KernelArch string `json:"kernel_arch"`
	// Unsigned marks the -unsigned package (preferred over the signed one).
	Unsigned bool `json:"unsigned,omitempty"`
	// Mirror is the archive root the package is fetched from.
	Mirror string `json:"mirror"`
	// Codename is the release of the suite ("bookworm").
	Codename string `json:"codename"`
	// Parts are the packages that hold the image and modules when the
	// image package itself only depends on them.
	Parts []debarchive.Package `json:"parts,omitempty"`
	// Stale marks a kernel listed by a suite past its Valid-Until.
	Stale bool `json:"stale,omitempty"`
	// Keys are the keys that verified the index listing it (keysID).
	Keys string `json:"keys,omitempty"`
}

// Series is the kernel series of the ABI, "6.1" for "6.1.0-50".
func (k Kernel) Series() string {
	parts := strings.SplitN(k.ABI, ".", 3)
	if len(parts) < 2 {
		return k.ABI
	}
	return parts[0] + "." + strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
}

// imagePackage matches kernel image package names; group 1 is the ABI,
// group 2 the flavour, group 3 "-unsigned" or "".
var imagePackage = regexp.MustCompile(`^linux-image-([0-9]+\.[0-9]+[0-9a-z.+~]*(?:-[0-9][0-9a-z.+~]*)?)-(` + cpu.DebianFlavours() + `)(-unsigned)?$`)

// partPackage matches the packages that hold the image and the modules
// where linux-image-* is only a dependency package (Debian from 2026).
var partPackage = regexp.MustCompile(`^linux-(binary|modules)-[0-9]+\.[0-9]+[0-9a-z.+~-]*-(` + cpu.DebianFlavours() + `)$`)

// suite is one suite of one archive.
type suite struct {
	archive *debarchive.Archive
	name    string
}

func (d *Config) archive(url string, retired bool) (*debarchive.Archive, error) {
	kr := d.Keyring
	if kr == nil {
		var err error
		if kr, err = debarchive.DebianKeyring(); err != nil {
			return nil, err
		}
	}
	return &debarchive.Archive{URL: url, Keyring: kr, Client: d.Client, Retired: retired}, nil
}

// indexFormat versions suiteIndex; a cached index of another format is read again.
const indexFormat = 2

// suiteIndex is the cached kernel part of one suite's Packages index.
type suiteIndex struct {
	Format   int       `json:"format"`
	Fetched  time.Time `json:"fetched"`
	Mirror   string    `json:"mirror"`
	Suite    string    `json:"suite"`
	Codename string    `json:"codename"`
	Stale    bool      `json:"stale,omitempty"`
	Kernels  []Kernel  `json:"kernels"`
	// Skipped explains an index that could not be read but, by its suite's
	// Sources, holds no kernel of the wanted series.
	Skipped string `json:"skipped,omitempty"`
	Missing bool   `json:"missing,omitempty"`
}

// Query selects Debian kernels.
type Query struct {
	Ref kit.Ref
}

func (q Query) match(k Kernel) bool {
	r := q.Ref
	switch {
	case r.Series != "":
		return k.Series() == r.Series
	case r.Version != "":
		return k.ABI == r.Version
	}
	return true
}

// suites returns the suites a reference may live in.
func (d *Config) suites(ctx context.Context, c store.Cache, r kit.Ref, log func(string)) (current, retired []suite, err error) {
	main, err := d.archive(d.Mirror, d.snapshot)
	if err != nil {
		return nil, nil, err
	}
	sec, err := d.archive(d.SecurityMirror, d.snapshot)
	if err != nil {
		return nil, nil, err
	}
	old, err := d.archive(d.RetiredMirror, true)
	if err != nil {
		return nil, nil, err
	}
	releaseSuites := func(a, s *debarchive.Archive, code string) []suite {
		if code == "sid" || code == "unstable" {
			return []suite{{a, "sid"}}
		}
		return []suite{{a, code}, {a, code + "-updates"}, {s, code + "-security"}, {a, code + "-backports"}}
	}
	oldSec, err := d.archive(strings.TrimSuffix(strings.TrimRight(d.RetiredMirror, "/"), "/debian")+"/debian-security", true)
	if err != nil {
		return nil, nil, err
	}
	retiredSuites := func(code string) []suite {
		return []suite{{old, code}, {oldSec, code + "/updates"}, {old, code + "-lts"}}
	}
	for _, rc := range retiredCodenames {
		if r.Codename == rc {
			return nil, retiredSuites(rc), nil
		}
	}
	if r.Suite != "" {
		code, _, _ := strings.Cut(r.Suite, "-")
		for _, rc := range retiredCodenames {
			if code == rc {
				return nil, []suite{{old, r.Suite}}, nil
			}
		}
		if strings.HasSuffix(r.Suite, "-security") {
			return []suite{{sec, r.Suite}}, nil, nil
		}
		return []suite{{main, r.Suite}}, nil, nil
	}
	if r.Codename != "" {
		code := r.Codename
		for _, alias := range currentAliases {
			if code == alias {
				idx, err := d.index(ctx, c, suite{main, alias}, r, log)
				if err != nil {
					return nil, nil, err
				}
				if idx.Missing {
					return nil, nil, d.missing(r, alias)
				}
				code = idx.Codename
			}
		}
		ss := releaseSuites(main, sec, code)
		if code != "sid" {
			ss = ss[:3] // a release's kernel: not its backports
		}
		return ss, nil, nil
	}
	var codes []string
	for _, alias := range currentAliases {
		idx, err := d.index(ctx, c, suite{main, alias}, r, log)
		if err != nil {
			return nil, nil, err
		}
		if !idx.Missing && idx.Codename != "" {
			codes = append(codes, idx.Codename)
		}
	}
	if len(codes) == 0 {
		return nil, nil, d.missing(r, strings.Join(currentAliases, ", "))
	}
	for _, code := range codes {
		current = append(current, releaseSuites(main, sec, code)...)
	}
	for _, rc := range retiredCodenames {
		retired = append(retired, retiredSuites(rc)...)
	}
	return current, retired, nil
}

// Kernels lists the kernels the reference may name, newest first.
func (d Config) Kernels(ctx context.Context, c store.Cache, r kit.Ref, log func(string)) ([]Kernel, error) {
	return d.withDefaults().kernels(ctx, c, r, log)
}

func (d *Config) kernels(ctx context.Context, c store.Cache, r kit.Ref, log func(string)) ([]Kernel, error) {
	current, retired, err := d.suites(ctx, c, r, log)
	if err != nil {
		return nil, err
	}
	ks, err := d.collect(ctx, c, current, r, log)
	if err != nil {
		return nil, err
	}
	var retiredErr error
	if len(ks) == 0 && len(retired) > 0 && !d.Offline && mayBeRetired(r) && d.RetiredMirror != "" {
		if ks, err = d.collect(ctx, c, retired, r, log); err != nil {
			retiredErr = fmt.Errorf("kernel %s: no current Debian suite has it, and the archive of retired releases could not be read: %s",
				r.Raw, strings.TrimPrefix(err.Error(), "kernel "+r.Raw+": "))
		}
	}
	if len(ks) == 0 && r.Version != "" && d.Snapshot != "" && !d.snapshot {
		if ks, err = d.snapshotKernels(ctx, c, r, log); err != nil {
			if retiredErr != nil {
				return nil, retiredErr // one line: the first failure
			}
			return nil, err
		}
		if len(ks) > 0 && retiredErr != nil {
			log("warning: " + retiredErr.Error())
			retiredErr = nil
		}
	}
	if retiredErr != nil {
		return nil, retiredErr
	}
	out := ks
	sort.SliceStable(out, func(i, j int) bool {
		if c := debarchive.CompareVersions(out[i].Version, out[j].Version); c != 0 {
			return c > 0
		}
		return out[i].Unsigned && !out[j].Unsigned
	})
	return out, nil
}

// collect reads the suites' indexes in parallel.
func (d *Config) collect(ctx context.Context, c store.Cache, ss []suite, r kit.Ref, log func(string)) ([]Kernel, error) {
	q := Query{Ref: r}
	idx := make([]*suiteIndex, len(ss))
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			idx[i], errs[i] = d.index(ctx, c, s, r, log)
		}()
	}
	wg.Wait()
	// One line: the first suite that failed speaks for the others.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	present := map[string]bool{}
	for i, x := range idx {
		present[ss[i].name] = !x.Missing
	}
	var out []Kernel
	for i, x := range idx {
		if x.Skipped != "" {
			log(x.Skipped)
		}
		// A release's security or updates pocket that its mirror lacks
		// leaves the answer an older kernel: say so, in one line.
		if base, kind := pocketOf(ss[i].name); kind != "" && x.Missing && present[base] && !d.Offline {
			log(fmt.Sprintf("%s: %s/dists/%s is not on the mirror, so its kernels (%s fixes) are not considered; the answer may be older than the release's newest (point --debian-security-mirror or --debian-mirror at a mirror that has it)",
				r.Raw, strings.TrimRight(ss[i].archive.URL, "/"), ss[i].name, kind))
		}
		for _, k := range x.Kernels {
			if q.match(k) {
				out = append(out, k)
			}
		}
	}
	if len(ss) == 1 && len(out) == 0 && idx[0].Missing {
		return nil, d.missing(r, ss[0].name)
	}
	return out, nil
}

// index returns one suite's kernels for the reference's arch: from the
// cache while it is younger than the TTL (or always, offline), else from
// the archive.
func (d *Config) index(ctx context.Context, c store.Cache, s suite, r kit.Ref, log func(string)) (*suiteIndex, error) {
	_, debArch := cpu.Debian(r.Arch)
	// The keys that verify the suite are part of the entry's name: an
	// index read under other keys is not this run's to use.
	keys := kit.OpenPGPKeysID(s.archive.Keyring)
	key := strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimPrefix(strings.TrimPrefix(s.archive.URL, "http://"), "https://") + "_" + s.name + "_" + debArch + "_" + keys)
	p, err := c.Path("debian-index", key+".json")
	if err != nil {
		return nil, err
	}
	ttl := d.IndexTTL
	if ttl == 0 {
		ttl = kit.DefaultIndexTTL
	}
	var cached suiteIndex
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &cached) == nil && cached.Format == indexFormat {
		if d.Offline || time.Since(cached.Fetched) < ttl {
			// A skip is tied to the series asked for; anything else is reusable.
			if cached.Skipped == "" || d.Offline {
				return cached.vouched(keys), nil
			}
		}
	}
	if d.Offline {
		return &suiteIndex{Mirror: s.archive.URL, Suite: s.name, Missing: true}, nil
	}
	x, err := d.fetchIndex(ctx, s, r, debArch)
	if err != nil {
		return nil, err
	}
	x.vouched(keys)
	if x.Skipped == "" {
		if err := store.WriteJSON(p, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// vouched marks the index's kernels with the keys that verified it.
func (x *suiteIndex) vouched(keys string) *suiteIndex {
	for i := range x.Kernels {
		x.Kernels[i].Keys = keys
	}
	return x
}

func (d *Config) fetchIndex(ctx context.Context, s suite, r kit.Ref, debArch string) (*suiteIndex, error) {
	x := &suiteIndex{Format: indexFormat, Fetched: time.Now().UTC(), Mirror: s.archive.URL, Suite: s.name, Kernels: []Kernel{}}
	rel, err := s.archive.Release(ctx, s.name)
	var nf *debarchive.NotFoundError
	if errors.As(err, &nf) {
		x.Missing = true
		return x, nil
	}
	if err != nil {
		return nil, d.fail(r, err)
	}
	x.Codename, x.Stale = rel.Codename, rel.Stale
	pkgs, err := s.archive.Packages(ctx, rel, "main", debArch, func(name string) bool {
		return imagePackage.MatchString(name) || partPackage.MatchString(name)
	})
	if errors.As(err, &nf) {
		return x, nil // no such architecture in this suite
	}
	var ie *debarchive.IntegrityError
	if errors.As(err, &ie) && (r.Series != "" || r.Version != "") {
		// The index is inconsistent (a mirror mid-sync). Its suite's
		// Sources, signed by the same Release, lists every binary the
		// suite builds: if none is a kernel of the wanted series, the
		// broken index cannot hold the answer and is safely passed over.
		names, serr := kernelBinaries(ctx, s.archive, rel)
		if serr == nil {
			for _, n := range names {
				m := imagePackage.FindStringSubmatch(n)
				k := Kernel{ABI: m[1]}
				if (r.Series != "" && k.Series() == r.Series) || (r.Version != "" && k.ABI == r.Version) {
					return nil, d.fail(r, err)
				}
			}
			x.Skipped = fmt.Sprintf("%s: skipped, and its Sources show it builds no %s kernel", kit.FirstLine(err.Error()), strings.TrimPrefix(r.Raw, "debian:"))
			return x, nil
		}
	}
	if err != nil {
		return nil, d.fail(r, err)
	}
	flav, _ := cpu.Debian(r.Arch)
	byName := map[string]debarchive.Package{}
	for _, p := range pkgs {
		byName[p.Name+"="+p.Version] = p
	}
	for _, p := range pkgs {
		m := imagePackage.FindStringSubmatch(p.Name)
		if m == nil || m[2] != flav {
			continue
		}
		p.Suite = s.name
		k := Kernel{Package: p, ABI: m[1], KernelArch: r.Arch, Unsigned: m[3] != "", Mirror: s.archive.URL, Codename: rel.Codename, Stale: rel.Stale}
		for _, dep := range strings.Split(p.Depends, ",") {
			name, ver, ok := strings.Cut(strings.TrimSpace(dep), " (= ")
			if part, found := byName[name+"="+strings.TrimSuffix(ver, ")")]; ok && partPackage.MatchString(name) && found {
				part.Suite = s.name
				k.Parts = append(k.Parts, part)
			}
		}
		x.Kernels = append(x.Kernels, k)
	}
	return x, nil
}

// kernelBinaries lists the kernel image packages the suite's Sources say it builds.
func kernelBinaries(ctx context.Context, a *debarchive.Archive, rel *debarchive.Release) ([]string, error) {
	var names []string
	err := a.Sources(ctx, rel, "main", func(p debarchive.Paragraph) {
		for _, b := range strings.Split(p["Binary"], ",") {
			if b = strings.TrimSpace(b); imagePackage.MatchString(b) {
				names = append(names, b)
			}
		}
	})
	return names, err
}

// pocketOf is the release suite whose pocket suite is, and what the
// pocket carries ("bookworm", "security" for "bookworm-security" and for
// the old layout's "squeeze/updates"); kind is "" for any other suite.
func pocketOf(suite string) (base, kind string) {
	for _, p := range []struct{ suffix, kind string }{{"-security", "security"}, {"/updates", "security"}, {"-updates", "stable-update"}} {
		if base, ok := strings.CutSuffix(suite, p.suffix); ok {
			return base, p.kind
		}
	}
	return "", ""
}

func (d *Config) missing(r kit.Ref, what string) error {
	if d.Offline {
		return kit.OfflineMiss(r.Raw, "the index of "+what+" is not in the cache")
	}
	return kit.Inputf("kernel %s: %s has no suite %s; name a release it carries (see `runmatrix kernels list debian:`) or check --debian-mirror", r.Raw, d.Mirror, what)
}

func (d *Config) fail(r kit.Ref, err error) error {
	return fmt.Errorf("kernel %s: %s; try again later, pin a suite that is whole (debian:SERIES@SUITE, see `runmatrix kernels list`), or point the matching --debian-mirror, --debian-security-mirror or --debian-retired-mirror at another mirror", r.Raw, kit.FirstLine(err.Error()))
}

// Kind is a kernel of Debian's archives.
const Kind kit.Kind = "debian"

// Provider resolves debian: references with its Config (zero: FromEnv's).
type Provider struct{ Config Config }

// Kind is debian.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes is debian:.
func (Provider) Schemes() []string { return []string{"debian:"} }

// Mirrors is none by name: Debian's archives are the Config's
// (--debian-mirror and its kin).
func (Provider) Mirrors() map[string]string { return nil }

// Examples are debian: references of each form.
func (Provider) Examples() []string {
	return []string{"debian:6.1", "debian:bookworm", "debian:6.1.0-50", "debian:6.1/arm64"}
}

var (
	seriesRE   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	versionRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+[.-][0-9][0-9a-z.+~-]*$`)
	codenameRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)?$`)
)

// Parse reads debian:WHAT[@SUITE][/ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind}
	series, arch, _ := strings.Cut(strings.TrimPrefix(s, "debian:"), "/")
	series, r.Suite, _ = strings.Cut(series, "@")
	if strings.Contains(s, "@") && !codenameRE.MatchString(r.Suite) {
		return r, fmt.Errorf("kernel %q: want debian:WHAT@SUITE with a suite such as bookworm or bookworm-security", s)
	}
	switch {
	case seriesRE.MatchString(series):
		r.Series = series
	case versionRE.MatchString(series):
		r.Version = series
	case codenameRE.MatchString(series):
		r.Codename = series
	default:
		return r, fmt.Errorf("kernel %q: want debian:SERIES (debian:6.1), debian:ABI (debian:6.1.0-50) or debian:CODENAME (debian:bookworm, debian:sid)", s)
	}
	var err error
	r.Arch, err = kit.ParseArch(s, arch)
	return r, err
}
