package kernels

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind says where a kernel reference points.
type Kind string

// The kinds of kernel reference.
const (
	KindDebian Kind = "debian"
	KindURL    Kind = "url"
	KindFile   Kind = "file"
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
	Suite  string
	Arch   string // debian: ArchX86_64 or ArchI386
	URL    string // url: without the fragment
	SHA256 string // url: the expected digest
	Path   string // file
}

var (
	seriesRE   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	versionRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+[.-][0-9][0-9a-z.+~-]*$`)
	codenameRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)?$`)
)

// ParseRef parses debian:WHAT[/i686] (WHAT a series, ABI version or
// codename), https://…#sha256=HEX or a file path.
func ParseRef(s string) (Ref, error) {
	r := Ref{Raw: s}
	switch {
	case strings.HasPrefix(s, "debian:"):
		r.Kind = KindDebian
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
		switch arch {
		case "", "amd64", "x86_64":
			r.Arch = ArchX86_64
		case "i686", "686", "i386":
			r.Arch = ArchI386
		default:
			return r, fmt.Errorf("kernel %q: unknown arch %q (use debian:%s or debian:%s/i686)", s, arch, series, series)
		}
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		r.Kind = KindURL
		u, err := url.Parse(s)
		if err != nil {
			return r, fmt.Errorf("kernel %q: %w", s, err)
		}
		digest, ok := strings.CutPrefix(u.Fragment, "sha256=")
		if b, err := hex.DecodeString(digest); !ok || err != nil || len(b) != 32 {
			return r, fmt.Errorf("kernel %q: a URL needs its digest: append #sha256=<64 hex digits>", s)
		}
		r.SHA256 = strings.ToLower(digest)
		u.Fragment = ""
		r.URL = u.String()
	default:
		r.Kind = KindFile
		r.Path = s
	}
	return r, nil
}
