// Package mainline resolves mainline: references to the Ubuntu mainline
// kernel builds: one folder per upstream tag (v2.6.x onwards), a CHECKSUMS
// file signed in CHECKSUMS.gpg, and the image (plus, from about 4.18, a
// modules package) as .debs.
package mainline

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/debian"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

const (
	// DefaultURL is where the Ubuntu mainline builds live.
	DefaultURL = "https://kernel.ubuntu.com/mainline"
	// KeyFingerprint is the Kernel PPA key that signs every CHECKSUMS there.
	KeyFingerprint = "60AA7B6F30434AE68E569963E50C6A0917C622B0"
	// DefaultKeyServer is where a key with a pinned fingerprint is fetched from.
	DefaultKeyServer = "https://keyserver.ubuntu.com"
)

// Config says where the mainline builds are; it finds and fetches them Ubuntu mainline kernel builds; every .deb is
// checked against a CHECKSUMS file signed by the Kernel PPA key.
type Config struct {
	URL string
	// Keyring verifies CHECKSUMS.gpg. Unset, the keys come from
	// KeyringFile, or else the key with the pinned KeyFingerprint (default
	// KeyFingerprint) is fetched from KeyServer once and cached.
	Keyring        openpgp.EntityList
	KeyringFile    string
	KeyFingerprint string
	KeyServer      string
	Client         *http.Client
	// IndexTTL is how long the list of tags is reused (0: kit.DefaultIndexTTL).
	IndexTTL time.Duration
}

// FromEnv returns the default mainline archive, with the URL,
// keyring file and key server the environment names.
func FromEnv() Config {
	m := Config{URL: DefaultURL, KeyringFile: os.Getenv("RUNMATRIX_MAINLINE_KEYRING"), KeyServer: DefaultKeyServer}
	if u := os.Getenv("RUNMATRIX_MAINLINE_URL"); u != "" {
		m.URL = u
	}
	if u := os.Getenv("RUNMATRIX_KEYSERVER"); u != "" {
		m.KeyServer = u
	}
	return m
}

// Kernel is one tag's build for one architecture.
type Kernel struct {
	Tag     string `json:"tag"`
	ABI     string `json:"abi"` // "3.6.0-030600"
	Version string `json:"version"`
	// Dir is the URL of the folder the packages' file names are relative to.
	Dir      string               `json:"dir"`
	Image    debarchive.Package   `json:"image"`
	Modules  []debarchive.Package `json:"modules,omitempty"`
	DebArch  string               `json:"deb_arch"`
	Fetched  time.Time            `json:"fetched"`
	Checksum string               `json:"checksums"` // URL of the signed CHECKSUMS
	// Keys are the keys that verified the CHECKSUMS (keysID).
	Keys string `json:"keys,omitempty"`
}

// tagRE matches a mainline folder name (v3.6, v2.6.32.27, v5.0-rc3,
// v3.13.11-ckt39); groups: the numbers, and a release-candidate or
// extended-stable (ckt) suffix.
var tagRE = regexp.MustCompile(`^v([0-9]+\.[0-9]+(?:\.[0-9]+){0,2})(?:-((?:rc|ckt)[0-9]+))?$`)

// tagLink matches a tag folder's link in the archive's HTML index.
var tagLink = regexp.MustCompile(`href="(v[0-9][^"/]*)/"`)

// mainlineImage matches the image .deb; groups: ABI, version, arch.
var mainlineImage = regexp.MustCompile(`^linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+[a-z0-9]*)-generic_([^_]+)_(` + cpu.DebianPorts() + `)\.deb$`)

// keyring returns the keys that verify CHECKSUMS.gpg: Keyring, the file
// KeyringFile names, or the key with the pinned fingerprint, fetched once
// from the key server and cached.
func (m *Config) keyring(ctx context.Context, c store.Cache, offline bool) (openpgp.EntityList, error) {
	if m.Keyring != nil {
		return m.Keyring, nil
	}
	if m.KeyringFile != "" {
		b, err := os.ReadFile(m.KeyringFile)
		if err != nil {
			return nil, kit.Inputf("--mainline-keyring: %w", kit.UnwrapPath(err))
		}
		kr, err := debarchive.ReadKeyring(b)
		if err != nil || len(kr) == 0 {
			return nil, kit.Inputf("--mainline-keyring %s: not an OpenPGP keyring (%v); export the Kernel PPA key with gpg --export %s", m.KeyringFile, err, m.fingerprint())
		}
		m.Keyring = kr
		return kr, nil
	}
	kr, err := m.pinnedKey(ctx, c, offline)
	if errors.Is(err, kit.ErrOffline) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("the Kernel PPA key %s that signs mainline builds: %s; or get it yourself "+
			"(gpg --keyserver keyserver.ubuntu.com --recv-keys %s && gpg --export %s > kernel-ppa.gpg) and pass --mainline-keyring kernel-ppa.gpg",
			m.fingerprint(), kit.FirstLine(err.Error()), m.fingerprint(), m.fingerprint())
	}
	m.Keyring = kr
	return kr, nil
}

func (m *Config) fingerprint() string {
	if m.KeyFingerprint != "" {
		return strings.ToUpper(m.KeyFingerprint)
	}
	return KeyFingerprint
}

// pinnedKey returns the key whose fingerprint is pinned, from the cache or
// from the key server. The server is not trusted: whatever it sends, only
// the key with exactly that fingerprint is kept (the fingerprint is a hash
// of the key), and only its own signatures, so nothing else can sign.
func (m *Config) pinnedKey(ctx context.Context, c store.Cache, offline bool) (openpgp.EntityList, error) {
	fpr := m.fingerprint()
	p, err := c.Path("keys", fpr+".gpg")
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(p); err == nil {
		if kr, err := pinned(b, fpr); err == nil {
			return kr, nil
		}
	}
	if offline {
		return nil, kit.ErrOffline
	}
	server := m.KeyServer
	if server == "" {
		server = DefaultKeyServer
	}
	ks := &debarchive.Archive{URL: strings.TrimRight(server, "/"), Client: m.Client}
	b, err := ks.Get(ctx, "pks/lookup?op=get&options=mr&search=0x"+fpr)
	if err != nil {
		return nil, fmt.Errorf("key server: %w", err)
	}
	kr, err := pinned(b, fpr)
	if err != nil {
		return nil, fmt.Errorf("key server %s: %w", server, err)
	}
	var out bytes.Buffer
	if err := kr[0].Serialize(&out); err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(p, out.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return kr, nil
}

// pinned returns the one key of b whose primary key has fingerprint fpr.
func pinned(b []byte, fpr string) (openpgp.EntityList, error) {
	kr, err := debarchive.ReadKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("not an OpenPGP key: %w", err)
	}
	for _, e := range kr {
		if strings.EqualFold(hex.EncodeToString(e.PrimaryKey.Fingerprint), fpr) {
			return openpgp.EntityList{e}, nil
		}
	}
	return nil, fmt.Errorf("sent no key with fingerprint %s", fpr)
}

func (m *Config) archive(url string) *debarchive.Archive {
	return &debarchive.Archive{URL: url, Client: m.Client, Keyring: m.Keyring}
}

func (m *Config) root() string { return strings.TrimRight(m.URL, "/") }

// Tags lists the tags the archive has, newest first: from the cache while
// it is younger than IndexTTL (or always, offline).
func (m *Config) Tags(ctx context.Context, c store.Cache, offline bool) ([]string, error) {
	p, err := c.Path("mainline-index", kit.CacheKey(m.root())+"_tags.json")
	if err != nil {
		return nil, err
	}
	var cached struct {
		Fetched time.Time `json:"fetched"`
		Tags    []string  `json:"tags"`
	}
	ttl := m.IndexTTL
	if ttl == 0 {
		ttl = kit.DefaultIndexTTL
	}
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &cached) == nil && (offline || time.Since(cached.Fetched) < ttl) {
		return cached.Tags, nil
	}
	if offline {
		return nil, fmt.Errorf("the list of mainline tags is not in the cache, and --offline forbids the network; run `runmatrix kernels list mainline:` once online")
	}
	b, err := m.archive(m.root()).Get(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("mainline index %s/: %w", m.root(), err)
	}
	tags := parseTags(b)
	if len(tags) == 0 {
		return nil, fmt.Errorf("mainline index %s/ lists no vX.Y folder; is --mainline-url right?", m.root())
	}
	cached.Fetched, cached.Tags = time.Now().UTC(), tags
	if err := store.WriteJSON(p, cached); err != nil {
		return nil, err
	}
	return tags, nil
}

// parseTags reads the folder names out of an HTML index, newest first.
func parseTags(html []byte) []string {
	seen := map[string]bool{}
	var tags []string
	for _, m := range tagLink.FindAllSubmatch(html, -1) {
		t := string(m[1])
		if tagRE.MatchString(t) && !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	sort.Slice(tags, func(i, j int) bool { return CompareTags(tags[i], tags[j]) > 0 })
	return tags
}

// CompareTags orders mainline tags: v3.6-rc7 < v3.6 < v3.6.1 < v3.7-rc1.
func CompareTags(a, b string) int {
	pa, pb := tagRE.FindStringSubmatch(a), tagRE.FindStringSubmatch(b)
	if pa == nil || pb == nil {
		return strings.Compare(a, b)
	}
	if c := compareDotted(pa[1], pb[1]); c != 0 {
		return c
	}
	// rcN < the release < cktN; within a kind, by N.
	rank := func(suffix string) (int, int) {
		var n int
		switch {
		case strings.HasPrefix(suffix, "rc"):
			fmt.Sscanf(suffix, "rc%d", &n)
			return 0, n
		case strings.HasPrefix(suffix, "ckt"):
			fmt.Sscanf(suffix, "ckt%d", &n)
			return 2, n
		}
		return 1, 0
	}
	ka, na := rank(pa[2])
	kb, nb := rank(pb[2])
	if c := cmp.Compare(ka, kb); c != 0 {
		return c
	}
	return cmp.Compare(na, nb)
}

func compareDotted(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			fmt.Sscanf(as[i], "%d", &x)
		}
		if i < len(bs) {
			fmt.Sscanf(bs[i], "%d", &y)
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// Kernel finds one tag's build for the reference's arch: its CHECKSUMS
// (under ARCH/ in the newer layout, at the top in the older), verified with
// the keyring, and the image and modules .debs it lists. A tag never
// changes once built, so the answer is cached for good.
func (m *Config) Kernel(ctx context.Context, c store.Cache, r kit.Ref, offline bool) (*Kernel, error) {
	_, debArch := cpu.Debian(r.Arch)
	kr, err := m.keyring(ctx, c, offline)
	if errors.Is(err, kit.ErrOffline) {
		return nil, kit.OfflineMiss(r.Raw, "the Kernel PPA key that signs it is not in the cache")
	}
	if err != nil {
		return nil, err
	}
	keys := kit.OpenPGPKeysID(kr)
	p, err := c.Path("mainline-index", kit.CacheKey(m.root())+"_"+r.Tag+"_"+debArch+"_"+keys+".json")
	if err != nil {
		return nil, err
	}
	var mk Kernel
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &mk) == nil && mk.Image.SHA256 != "" {
		return &mk, nil
	}
	if offline {
		return nil, kit.OfflineMiss(r.Raw, "")
	}
	tagDir := m.root() + "/" + r.Tag
	a := m.archive(tagDir)
	var sums []byte
	dir := debArch
	for _, d := range []string{debArch, ""} {
		dir = d
		name := strings.TrimPrefix(d+"/CHECKSUMS", "/")
		if sums, err = a.Get(ctx, name); err == nil {
			break
		}
		var nf *debarchive.NotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("kernel %s: %w; try again later, or pass --mainline-url with another mirror", r.Raw, err)
		}
	}
	if err != nil {
		// Tell a tag that does not exist from one whose build has no
		// signed checksums for this arch (a failed build, or one from
		// before the checksums were signed): runmatrix fetches neither.
		if _, terr := a.Get(ctx, ""); terr == nil {
			return nil, kit.Inputf("kernel %s: %s/ has no CHECKSUMS for %s (its build failed, or predates signed checksums), so runmatrix cannot verify it; "+
				"pick another tag, or fetch the image yourself and give its file", r.Raw, tagDir, debArch)
		}
		return nil, kit.Inputf("kernel %s: %s has no such tag (no CHECKSUMS under %s/); see `runmatrix kernels list mainline:`", r.Raw, m.root(), r.Tag)
	}
	sumsName := strings.TrimPrefix(dir+"/CHECKSUMS", "/")
	sig, err := a.Get(ctx, sumsName+".gpg")
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", r.Raw, err)
	}
	if err := a.VerifyDetached(tagDir+"/"+sumsName, sums, sig); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", r.Raw, err)
	}
	mk = Kernel{Tag: r.Tag, Keys: keys, DebArch: debArch, Dir: strings.TrimSuffix(tagDir+"/"+dir, "/"), Fetched: time.Now().UTC(), Checksum: tagDir + "/" + sumsName}
	files := parseChecksums(sums)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var others []string // images of another version than the tag's
	for _, n := range names {
		g := mainlineImage.FindStringSubmatch(n)
		if g == nil || g[3] != debArch {
			continue
		}
		// The signature vouches for the checksums, not for which tag's
		// folder they belong in: a mirror could serve another tag's
		// signed CHECKSUMS here, so each image must be of this tag.
		if !abiOfTag(g[1], r.Tag) {
			others = append(others, g[1])
			continue
		}
		// Prefer the unsigned image where a build has both.
		if mk.Image.Filename == "" || strings.HasPrefix(n, "linux-image-unsigned-") {
			mk.ABI, mk.Version = g[1], g[2]
			mk.Image = debarchive.Package{Name: strings.SplitN(n, "_", 2)[0], Version: g[2], Arch: debArch, Filename: n, SHA256: files[n], Suite: "mainline " + r.Tag}
		}
	}
	if mk.Image.Filename == "" && len(others) > 0 {
		return nil, fmt.Errorf("kernel %s: %s lists images of %s, not of %s: the mirror serves another tag's signed checksums under this tag; pass --mainline-url with another mirror", r.Raw, mk.Checksum, others[0], r.Tag)
	}
	if mk.Image.Filename == "" {
		return nil, kit.Inputf("kernel %s: %s lists no linux-image-…-generic .deb for %s (the build for it may have failed; see the tag's folder)", r.Raw, mk.Checksum, debArch)
	}
	mods := "linux-modules-" + mk.ABI + "-generic_" + mk.Version + "_" + debArch + ".deb"
	if sum, ok := files[mods]; ok {
		mk.Modules = append(mk.Modules, debarchive.Package{Name: strings.SplitN(mods, "_", 2)[0], Version: mk.Version, Arch: debArch, Filename: mods, SHA256: sum, Suite: "mainline " + r.Tag})
	}
	if err := store.WriteJSON(p, mk); err != nil {
		return nil, err
	}
	return &mk, nil
}

// abiOfTag reports whether a mainline build's ABI ("6.1.0-060100",
// "5.0.0-050000rc3", "2.6.32-02063227") is that of tag ("v6.1"): the
// tag's version padded to three numbers, then each number in two digits,
// then its -rc or -ckt suffix, as Ubuntu's mainline builds name them.
func abiOfTag(abi, tag string) bool {
	m := tagRE.FindStringSubmatch(tag)
	if m == nil {
		return false
	}
	nums := strings.Split(m[1], ".")
	for len(nums) < 3 {
		nums = append(nums, "0")
	}
	enc := ""
	for _, n := range nums {
		v, err := strconv.Atoi(n)
		if err != nil || v > 99 {
			return false
		}
		enc += fmt.Sprintf("%02d", v)
	}
	base, rest, ok := strings.Cut(abi, "-")
	if !ok || base != strings.Join(nums[:3], ".") || !strings.HasPrefix(rest, enc) {
		return false
	}
	suffix := strings.TrimLeft(rest[len(enc):], "0123456789")
	return suffix == m[2]
}

// parseChecksums reads the sha256 lines of a mainline CHECKSUMS file
// ("# Checksums-Sha1:" and "# Checksums-Sha256:" sections of
// "DIGEST  NAME" lines, as sha256sum writes them).
func parseChecksums(b []byte) map[string]string {
	out := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) != 2 || len(f[0]) != 64 {
			continue
		}
		if _, err := hex.DecodeString(f[0]); err != nil {
			continue // not a digest (the fuzzer found one with UTF-8 in it)
		}
		out[strings.TrimPrefix(f[1], "*")] = strings.ToLower(f[0])
	}
	return out
}

// resolveMainline fetches and extracts (once) the build the reference names.
// Kind is an Ubuntu mainline build of an upstream tag.
const Kind kit.Kind = "mainline"

// Provider resolves mainline: references with its Config (zero: FromEnv's);
// Debian says how the .debs are fetched.
type Provider struct {
	Config Config
	Debian debian.Config
}

// Kind is mainline.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes is mainline:.
func (Provider) Schemes() []string { return []string{"mainline:"} }

// Mirrors is none by name: the archive is the Config's (--mainline-url).
func (Provider) Mirrors() map[string]string { return nil }

// Examples are mainline: references.
func (Provider) Examples() []string { return []string{"mainline:v6.1", "mainline:v6.6/arm64"} }

// config is the Config with the environment's defaults where it has none.
func (p Provider) config(env *kit.Env) *Config {
	m := p.Config
	if m.URL == "" {
		def := FromEnv()
		m.URL = def.URL
		if m.KeyringFile == "" {
			m.KeyringFile = def.KeyringFile
		}
		if m.KeyServer == "" {
			m.KeyServer = def.KeyServer
		}
	}
	if m.Client == nil {
		m.Client = env.Client
	}
	if env.IndexTTL != 0 {
		m.IndexTTL = env.IndexTTL
	}
	return &m
}

// Tags lists the tags of the mainline archive, newest first.
func (p Provider) Tags(ctx context.Context, env *kit.Env) ([]string, error) {
	return p.config(env).Tags(ctx, env.Cache, env.Offline)
}

// Resolve fetches and extracts (once) the build the reference names.
func (p Provider) Resolve(ctx context.Context, env *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	mk, err := p.config(env).Kernel(ctx, env.Cache, ref, env.Offline)
	if err != nil {
		return nil, err
	}
	dk := debian.Kernel{Package: mk.Image, ABI: mk.ABI, KernelArch: ref.Arch, Mirror: mk.Dir, Codename: "mainline", Parts: mk.Modules, Keys: mk.Keys}
	return p.Debian.FetchKernel(ctx, env, ref, dk)
}

// Expand lists the release tags of a range (mainline:v3.0..v4.0 →
// mainline:v3.0, mainline:v3.1, …), oldest first, release candidates and
// -ckt builds left out unless they are an end of it.
func (p Provider) Expand(ctx context.Context, env *kit.Env, ref kit.Ref) ([]string, error) {
	m := p.config(env)
	tags, err := m.Tags(ctx, env.Cache, env.Offline)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
	}
	suffix := cpu.Suffix(ref.Arch)
	var out []string
	for i := len(tags) - 1; i >= 0; i-- {
		t := tags[i]
		if strings.Contains(t, "-") && t != ref.From && t != ref.To {
			continue
		}
		if CompareTags(t, ref.From) >= 0 && CompareTags(t, ref.To) <= 0 {
			out = append(out, "mainline:"+t+suffix)
		}
	}
	if len(out) == 0 {
		return nil, kit.Inputf("kernel %s: %s has no tag from %s to %s; see `runmatrix kernels list mainline:`", ref.Raw, m.root(), ref.From, ref.To)
	}
	return out, nil
}

// Parse reads mainline:TAG[/ARCH] and mainline:vA..vB[/ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind}
	what, arch, _ := strings.Cut(strings.TrimPrefix(s, "mainline:"), "/")
	var err error
	if r.Arch, err = kit.ParseArch(s, arch); err != nil {
		return r, err
	}
	tag := func(t string) (string, bool) {
		if !strings.HasPrefix(t, "v") {
			t = "v" + t
		}
		return t, tagRE.MatchString(t)
	}
	if from, to, ok := strings.Cut(what, ".."); ok {
		var okF, okT bool
		r.From, okF = tag(from)
		r.To, okT = tag(to)
		if !okF || !okT || CompareTags(r.From, r.To) > 0 {
			return r, fmt.Errorf("kernel %q: want mainline:vA..vB with A not after B (mainline:v3.0..v4.0)", s)
		}
		return r, nil
	}
	var ok bool
	if r.Tag, ok = tag(what); !ok {
		return r, fmt.Errorf("kernel %q: want mainline:TAG (mainline:v3.6, mainline:v4.19.10, mainline:v5.0-rc3) or a range (mainline:v3.0..v4.0)", s)
	}
	return r, nil
}
