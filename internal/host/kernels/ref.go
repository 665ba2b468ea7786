package kernels

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/download"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ocikernel"
)

// The kinds of kernel reference this package's providers answer.
const (
	KindDebian Kind = "debian"
	KindURL         = download.Kind
	KindFile        = kit.KindFile
	// KindMainline is an Ubuntu mainline build of an upstream tag.
	KindMainline Kind = "mainline"
	// KindOCI is a kernel shipped in an OCI image.
	KindOCI = ocikernel.Kind
)

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
		for _, scheme := range p.Schemes() {
			if !strings.HasPrefix(s, scheme) {
				continue
			}
			scheme = strings.TrimSuffix(scheme, ":")
			if rg, ok := p.(kit.Ranger); ok {
				if rr, ok, err := distroRange(rg, s, scheme); ok {
					return rr, err
				}
			}
			return p.Parse(s, scheme)
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

// Schemes are the prefixes of references that are not file paths.
func Schemes() []string {
	var out []string
	for _, p := range providers {
		for _, s := range p.Schemes() {
			out = append(out, strings.TrimSuffix(s, "//"))
		}
	}
	return out
}
