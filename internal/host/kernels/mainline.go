// This file finds the Ubuntu mainline kernel builds: one folder per
// upstream tag (v2.6.x onwards), a CHECKSUMS file signed in CHECKSUMS.gpg,
// and the image (plus, from about 4.18, a modules package) as .debs.

package kernels

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
	"github.com/runmatrix/runmatrix/internal/host/store"
)

const (
	// DefaultMainlineURL is where the Ubuntu mainline builds live.
	DefaultMainlineURL = "https://kernel.ubuntu.com/mainline"
	// MainlineKeyFingerprint is the Kernel PPA key that signs every CHECKSUMS there.
	MainlineKeyFingerprint = "60AA7B6F30434AE68E569963E50C6A0917C622B0"
	// DefaultKeyServer is where a key with a pinned fingerprint is fetched from.
	DefaultKeyServer = "https://keyserver.ubuntu.com"
)

// Mainline finds and fetches Ubuntu mainline kernel builds; every .deb is
// checked against a CHECKSUMS file signed by the Kernel PPA key.
type Mainline struct {
	URL string
	// Keyring verifies CHECKSUMS.gpg. Unset, the keys come from
	// KeyringFile, or else the key with the pinned KeyFingerprint (default
	// MainlineKeyFingerprint) is fetched from KeyServer once and cached.
	Keyring        openpgp.EntityList
	KeyringFile    string
	KeyFingerprint string
	KeyServer      string
	Client         *http.Client
	// IndexTTL is how long the list of tags is reused (0: DefaultIndexTTL).
	IndexTTL time.Duration
}

// MainlineFromEnv returns the default mainline archive, with the URL,
// keyring file and key server the environment names.
func MainlineFromEnv() Mainline {
	m := Mainline{URL: DefaultMainlineURL, KeyringFile: os.Getenv("RUNMATRIX_MAINLINE_KEYRING"), KeyServer: DefaultKeyServer}
	if u := os.Getenv("RUNMATRIX_MAINLINE_URL"); u != "" {
		m.URL = u
	}
	if u := os.Getenv("RUNMATRIX_KEYSERVER"); u != "" {
		m.KeyServer = u
	}
	return m
}

// MainlineKernel is one tag's build for one architecture.
type MainlineKernel struct {
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
func (m *Mainline) keyring(ctx context.Context, c store.Cache, offline bool) (openpgp.EntityList, error) {
	if m.Keyring != nil {
		return m.Keyring, nil
	}
	if m.KeyringFile != "" {
		b, err := os.ReadFile(m.KeyringFile)
		if err != nil {
			return nil, inputErr("--mainline-keyring: %w", unwrapPath(err))
		}
		kr, err := debarchive.ReadKeyring(b)
		if err != nil || len(kr) == 0 {
			return nil, inputErr("--mainline-keyring %s: not an OpenPGP keyring (%v); export the Kernel PPA key with gpg --export %s", m.KeyringFile, err, m.fingerprint())
		}
		m.Keyring = kr
		return kr, nil
	}
	kr, err := m.pinnedKey(ctx, c, offline)
	if errors.Is(err, errOffline) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("the Kernel PPA key %s that signs mainline builds: %s; or get it yourself "+
			"(gpg --keyserver keyserver.ubuntu.com --recv-keys %s && gpg --export %s > kernel-ppa.gpg) and pass --mainline-keyring kernel-ppa.gpg",
			m.fingerprint(), firstLine(err.Error()), m.fingerprint(), m.fingerprint())
	}
	m.Keyring = kr
	return kr, nil
}

func (m *Mainline) fingerprint() string {
	if m.KeyFingerprint != "" {
		return strings.ToUpper(m.KeyFingerprint)
	}
	return MainlineKeyFingerprint
}

// pinnedKey returns the key whose fingerprint is pinned, from the cache or
// from the key server. The server is not trusted: whatever it sends, only
// the key with exactly that fingerprint is kept (the fingerprint is a hash
// of the key), and only its own signatures, so nothing else can sign.
func (m *Mainline) pinnedKey(ctx context.Context, c store.Cache, offline bool) (openpgp.EntityList, error) {
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
		return nil, errOffline
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

func (m *Mainline) archive(url string) *debarchive.Archive {
	return &debarchive.Archive{URL: url, Client: m.Client, Keyring: m.Keyring}
}

func (m *Mainline) root() string { return strings.TrimRight(m.URL, "/") }

// Tags lists the tags the archive has, newest first: from the cache while
// it is younger than IndexTTL (or always, offline).
func (m *Mainline) Tags(ctx context.Context, c store.Cache, offline bool) ([]string, error) {
	p, err := c.Path("mainline-index", cacheKey(m.root())+"_tags.json")
	if err != nil {
		return nil, err
	}
	var cached struct {
		Fetched time.Time `json:"fetched"`
		Tags    []string  `json:"tags"`
	}
	ttl := m.IndexTTL
	if ttl == 0 {
		ttl = DefaultIndexTTL
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
	if err := writeJSONAtomic(p, cached); err != nil {
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
func (m *Mainline) Kernel(ctx context.Context, c store.Cache, r Ref, offline bool) (*MainlineKernel, error) {
	_, debArch := cpu.Debian(r.Arch)
	kr, err := m.keyring(ctx, c, offline)
	if errors.Is(err, errOffline) {
		return nil, offlineMiss(r.Raw, "the Kernel PPA key that signs it is not in the cache")
	}
	if err != nil {
		return nil, err
	}
	keys := openpgpKeysID(kr)
	p, err := c.Path("mainline-index", cacheKey(m.root())+"_"+r.Tag+"_"+debArch+"_"+keys+".json")
	if err != nil {
		return nil, err
	}
	var mk MainlineKernel
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &mk) == nil && mk.Image.SHA256 != "" {
		return &mk, nil
	}
	if offline {
		return nil, offlineMiss(r.Raw, "")
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
			return nil, inputErr("kernel %s: %s/ has no CHECKSUMS for %s (its build failed, or predates signed checksums), so runmatrix cannot verify it; "+
				"pick another tag, or fetch the image yourself and give its file", r.Raw, tagDir, debArch)
		}
		return nil, inputErr("kernel %s: %s has no such tag (no CHECKSUMS under %s/); see `runmatrix kernels list mainline:`", r.Raw, m.root(), r.Tag)
	}
	sumsName := strings.TrimPrefix(dir+"/CHECKSUMS", "/")
	sig, err := a.Get(ctx, sumsName+".gpg")
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", r.Raw, err)
	}
	if err := a.VerifyDetached(tagDir+"/"+sumsName, sums, sig); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", r.Raw, err)
	}
	mk = MainlineKernel{Tag: r.Tag, Keys: keys, DebArch: debArch, Dir: strings.TrimSuffix(tagDir+"/"+dir, "/"), Fetched: time.Now().UTC(), Checksum: tagDir + "/" + sumsName}
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
		return nil, inputErr("kernel %s: %s lists no linux-image-…-generic .deb for %s (the build for it may have failed; see the tag's folder)", r.Raw, mk.Checksum, debArch)
	}
	mods := "linux-modules-" + mk.ABI + "-generic_" + mk.Version + "_" + debArch + ".deb"
	if sum, ok := files[mods]; ok {
		mk.Modules = append(mk.Modules, debarchive.Package{Name: strings.SplitN(mods, "_", 2)[0], Version: mk.Version, Arch: debArch, Filename: mods, SHA256: sum, Suite: "mainline " + r.Tag})
	}
	if err := writeJSONAtomic(p, mk); err != nil {
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
func (r *Resolver) resolveMainline(ctx context.Context, ref Ref) (*Kernel, error) {
	m := r.mainline()
	mk, err := m.Kernel(ctx, r.Cache, ref, r.Debian.Offline)
	if err != nil {
		return nil, err
	}
	dk := DebianKernel{Package: mk.Image, ABI: mk.ABI, KernelArch: ref.Arch, Mirror: mk.Dir, Codename: "mainline", Parts: mk.Modules, Keys: mk.Keys}
	return r.fetchDebianKernel(ctx, ref, dk)
}
