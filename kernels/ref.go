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
	Raw    string
	Kind   Kind
	Series string // debian: "6.1"
	Arch   string // debian: ArchX86_64 or ArchI386
	URL    string // url: without the fragment
	SHA256 string // url: the expected digest
	Path   string // file
}

var seriesRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// ParseRef parses debian:SERIES[/i686], https://…#sha256=HEX or a file path.
func ParseRef(s string) (Ref, error) {
	r := Ref{Raw: s}
	switch {
	case strings.HasPrefix(s, "debian:"):
		r.Kind = KindDebian
		series, arch, _ := strings.Cut(strings.TrimPrefix(s, "debian:"), "/")
		if !seriesRE.MatchString(series) {
			return r, fmt.Errorf("kernel %q: want debian:SERIES such as debian:6.1", s)
		}
		r.Series = series
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
