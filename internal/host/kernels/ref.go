package kernels

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/oci"
)

// Kind says where a kernel reference points.
type Kind string

// The kinds of kernel reference.
const (
	KindDebian Kind = "debian"
	KindURL    Kind = "url"
	KindFile   Kind = "file"
	// KindMainline is an Ubuntu mainline build of an upstream tag.
	KindMainline Kind = "mainline"
	// KindOCI is a kernel shipped in an OCI image.
	KindOCI Kind = "oci"
)

// Ref is a parsed kernel reference.
type Ref struct {
	Raw  string
	Kind Kind
	// Debian references name one of: a kernel series ("6.1", the newest
	// kernel of it), an ABI version ("6.1.0-50", "2.6.32-5") or a release
	// codename or alias ("bookworm", "sid", "stable").
	Series   string
	Version  string
	Codename string
	// Suite pins the lookup to one suite ("debian:6.1@bookworm").
	Suite string
	// Arch is the arch the image must be: always set for debian: and
	// mainline: (x86_64 unless named), for a file or URL only when the
	// reference names one (PATH/ARCH, URL#sha256=HEX&arch=ARCH).
	Arch string
	// Tag is the upstream tag of a mainline reference ("v3.6", "v4.19.10").
	Tag string
	// From and To bound a mainline range ("mainline:v3.0..v4.0"), which
	// names every release tag between them, both included.
	From, To string
	URL      string // url: without the fragment
	SHA256   string // url: the expected digest
	Path     string // file
	// Image is an oci: reference's image.
	Image oci.Reference
	// Flavour is an ubuntu: reference's kernel flavour ("generic"), and
	// HWE asks for its release's hardware-enablement kernel.
	Flavour string
	HWE     bool
	// Distro names an RPM distribution (KindRPM: centos, rocky, alma,
	// fedora), whose release is in Series or kernel in Version.
	Distro string
}

var (
	seriesRE   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	versionRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+[.-][0-9][0-9a-z.+~-]*$`)
	codenameRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)?$`)
)

// ParseRef parses debian:WHAT[/ARCH] (WHAT a series, ABI version or
// codename), mainline:TAG[/ARCH], oci:REGISTRY/REPO:TAG[/ARCH],
// https://…#sha256=HEX[&arch=ARCH], any other provider's reference or a
// file path (PATH/ARCH, where PATH is a file, is read by Resolve).
func ParseRef(s string) (Ref, error) {
	for _, p := range providers {
		for _, scheme := range p.schemes() {
			if strings.HasPrefix(s, scheme) {
				return p.parse(s, strings.TrimSuffix(scheme, ":"))
			}
		}
	}
	return Ref{Raw: s, Kind: KindFile, Path: s}, nil
}

// parseDebian reads debian:WHAT[@SUITE][/ARCH].
func parseDebian(s, _ string) (Ref, error) {
	r := Ref{Raw: s, Kind: KindDebian}
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
	r.Arch, err = parseArch(s, arch)
	return r, err
}

// parseMainline reads mainline:TAG[/ARCH] and mainline:vA..vB[/ARCH].
func parseMainline(s, _ string) (Ref, error) {
	r := Ref{Raw: s, Kind: KindMainline}
	what, arch, _ := strings.Cut(strings.TrimPrefix(s, "mainline:"), "/")
	var err error
	if r.Arch, err = parseArch(s, arch); err != nil {
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

// parseURL reads https://…#sha256=HEX[&arch=ARCH].
func parseURL(s, _ string) (Ref, error) {
	r := Ref{Raw: s, Kind: KindURL}
	u, err := url.Parse(s)
	if err != nil {
		return r, fmt.Errorf("kernel %q: %w", s, err)
	}
	// The fragment is sha256=HEX, then optionally &arch=ARCH.
	frag, archName, hasArch := strings.Cut(u.Fragment, "&arch=")
	digest, ok := strings.CutPrefix(frag, "sha256=")
	if b, err := hex.DecodeString(digest); !ok || err != nil || len(b) != 32 {
		return r, fmt.Errorf("kernel %q: a URL needs its digest: append #sha256=<64 hex digits> (and &arch=ARCH to check the image's arch)", s)
	}
	if hasArch {
		if r.Arch, err = parseArch(s, archName); err != nil {
			return r, err
		}
	}
	r.SHA256 = strings.ToLower(digest)
	u.Fragment = ""
	r.URL = u.String()
	return r, nil
}

// Schemes are the prefixes of references that are not file paths.
func Schemes() []string {
	var out []string
	for _, p := range providers {
		for _, s := range p.schemes() {
			out = append(out, strings.TrimSuffix(s, "//"))
		}
	}
	return out
}

// parseArch reads the /ARCH suffix of a debian: or mainline: reference.
func parseArch(s, arch string) (string, error) {
	a, err := cpu.Parse(arch)
	if err != nil {
		return "", fmt.Errorf("kernel %q: %w", s, err)
	}
	return a, nil
}
