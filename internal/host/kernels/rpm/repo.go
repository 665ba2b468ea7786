package rpm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
)

// Repo is a yum/dnf repository: repodata/repomd.xml (and, where the
// distribution signs it, repomd.xml.asc) lists primary.xml, which lists
// the packages with their checksums (createrepo's layout, described at
// http://yum.baseurl.org/wiki/repomd.html).
type Repo struct {
	URL    string // ends in "/"
	Client *http.Client
	// Keys verify repomd.xml.asc where it exists.
	Keys openpgp.EntityList
	// Signed says the distribution signs its repository metadata, so a
	// repomd.xml without repomd.xml.asc is refused, not read unsigned.
	Signed bool
}

// Info is one package as primary.xml lists it.
type Info struct {
	Name, Arch, Epoch, Version, Release string
	// Sum is the package file's checksum: algorithm and hex value.
	SumType, Sum string
	Location     string
	Size         int64
	// Repo is the repository's URL.
	Repo string
}

// VR is version-release, as kernels are named (2.6.32-431.el6).
func (i Info) VR() string { return i.Version + "-" + i.Release }

// NotFoundError is a repository or file the mirror does not have.
type NotFoundError = fetch.NotFoundError

// maxIndex bounds repomd.xml and primary.xml (compressed and not).
const maxIndex = 512 << 20

// get reads a metadata file, bounded by maxIndex, tried again as
// fetch.Client retries.
func (r *Repo) get(ctx context.Context, name string) ([]byte, error) {
	return (&fetch.Client{HTTP: r.Client}).Bytes(ctx, r.URL+name, maxIndex)
}

func newHash(typ string) (hash.Hash, error) {
	switch typ {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	case "sha", "sha1": // createrepo before 0.9.7 (CentOS 5)
		return sha1.New(), nil
	}
	return nil, fmt.Errorf("checksum type %q is not one runmatrix checks", typ)
}

type repomd struct {
	Data []struct {
		Type     string `xml:"type,attr"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

// Packages reads the repository's package list and returns the packages
// keep wants. signed says whether repomd.xml carried a signature (which
// was then verified); a repository that publishes none is read on the
// strength of its packages' own signatures.
func (r *Repo) Packages(ctx context.Context, keep func(name, arch string) bool) (pkgs []Info, signed bool, err error) {
	md, err := r.get(ctx, "repodata/repomd.xml")
	if err != nil {
		return nil, false, err
	}
	asc, err := r.get(ctx, "repodata/repomd.xml.asc")
	var nf *NotFoundError
	switch {
	case err == nil:
		if _, err := openpgp.CheckArmoredDetachedSignature(r.Keys, bytes.NewReader(md), bytes.NewReader(asc), nil); err != nil {
			return nil, false, fmt.Errorf("%srepodata/repomd.xml: signature does not verify with the distribution's keys: %w", r.URL, err)
		}
		signed = true
	case errors.As(err, &nf) && r.Signed:
		return nil, false, fmt.Errorf("%srepodata/repomd.xml: the mirror publishes no signature for it (repomd.xml.asc), which this distribution signs; it is not read unsigned", r.URL)
	case errors.As(err, &nf):
	default:
		return nil, false, err
	}
	m, err := parseRepomd(md)
	if err != nil {
		return nil, signed, fmt.Errorf("%srepodata/repomd.xml: %w", r.URL, err)
	}
	for _, d := range m.Data {
		if d.Type != "primary" {
			continue
		}
		b, err := r.get(ctx, d.Location.Href)
		if err != nil {
			return nil, signed, err
		}
		h, err := newHash(d.Checksum.Type)
		if err != nil {
			return nil, signed, fmt.Errorf("%s%s: %w", r.URL, d.Location.Href, err)
		}
		h.Write(b)
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.TrimSpace(d.Checksum.Value) {
			return nil, signed, fmt.Errorf("%s%s: checksum %s, repomd.xml says %s", r.URL, d.Location.Href, got, strings.TrimSpace(d.Checksum.Value))
		}
		rd, err := decompressIndex(d.Location.Href, b)
		if err != nil {
			return nil, signed, fmt.Errorf("%s%s: %w", r.URL, d.Location.Href, err)
		}
		pkgs, err := parsePrimary(rd, keep)
		if err != nil {
			return nil, signed, fmt.Errorf("%s%s: %w", r.URL, d.Location.Href, err)
		}
		for i := range pkgs {
			pkgs[i].Repo = r.URL
		}
		return pkgs, signed, nil
	}
	return nil, signed, fmt.Errorf("%srepodata/repomd.xml lists no primary metadata", r.URL)
}

// parseRepomd reads repomd.xml.
func parseRepomd(b []byte) (*repomd, error) {
	var m repomd
	if err := xml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func decompressIndex(name string, b []byte) (io.Reader, error) {
	var r io.Reader
	var err error
	switch {
	case strings.HasSuffix(name, ".gz"):
		r, err = gzip.NewReader(bytes.NewReader(b))
	case strings.HasSuffix(name, ".xz"):
		r, err = xz.NewReader(bytes.NewReader(b))
	case strings.HasSuffix(name, ".zst"):
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(b))
		r = d
	case strings.HasSuffix(name, ".xml"):
		r = bytes.NewReader(b)
	default:
		return nil, errors.New("unknown compression")
	}
	if err != nil {
		return nil, err
	}
	return io.LimitReader(r, 4*maxIndex), nil
}

type primaryPackage struct {
	Name    string `xml:"name"`
	Arch    string `xml:"arch"`
	Version struct {
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
	} `xml:"version"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Size struct {
		Package int64 `xml:"package,attr"`
	} `xml:"size"`
}

// parsePrimary streams primary.xml, decoding only the packages keep wants.
func parsePrimary(r io.Reader, keep func(name, arch string) bool) ([]Info, error) {
	dec := xml.NewDecoder(r)
	var out []Info
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var p primaryPackage
		if err := dec.DecodeElement(&p, &se); err != nil {
			return out, err
		}
		if !keep(p.Name, p.Arch) {
			continue
		}
		if err := checkListed(p); err != nil {
			return out, err
		}
		out = append(out, Info{Name: p.Name, Arch: p.Arch, Epoch: p.Version.Epoch, Version: p.Version.Ver, Release: p.Version.Rel,
			SumType: p.Checksum.Type, Sum: strings.TrimSpace(p.Checksum.Value), Location: p.Location.Href, Size: p.Size.Package})
	}
}

// sumLengths are the hex lengths of the checksums primary.xml may give.
var sumLengths = map[string]int{"sha256": 64, "sha512": 128, "sha": 40, "sha1": 40}

// checkListed refuses a package entry whose checksum is not hex of its
// algorithm's length (it names cache entries) or whose location is not a
// plain path inside the repository.
func checkListed(p primaryPackage) error {
	sum := strings.TrimSpace(p.Checksum.Value)
	n, ok := sumLengths[p.Checksum.Type]
	if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != n || strings.ToLower(sum) != sum {
		return fmt.Errorf("package %s: checksum %.80q of type %.20q is not a lower-case hex digest", p.Name, sum, p.Checksum.Type)
	}
	loc := p.Location.Href
	if !path.IsAbs("/"+loc) || path.Clean(loc) != loc || strings.HasPrefix(loc, "../") || loc == ".." || strings.ContainsAny(loc, "?#:\\\x00") || strings.HasPrefix(loc, "/") {
		return fmt.Errorf("package %s: location %.200q is not a path inside the repository", p.Name, loc)
	}
	return nil
}

// Download copies the package to w, checking its size and checksum; a
// failed or wrong download is tried again.
func (r *Repo) Download(ctx context.Context, p Info, w io.WriteSeeker, max int64) error {
	if p.Size > max {
		return fmt.Errorf("%s: %d bytes is larger than runmatrix takes", p.Location, p.Size)
	}
	h, err := newHash(p.SumType)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Location, err)
	}
	u := r.URL + p.Location
	_, err = (&fetch.Client{HTTP: r.Client}).Copy(ctx, u, w, max, h, func(n int64) error {
		if p.Size > 0 && n != p.Size {
			return fmt.Errorf("%s: %w: %d bytes, primary.xml says %d", u, io.ErrUnexpectedEOF, n, p.Size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != p.Sum {
			return fmt.Errorf("%s: checksum %s, primary.xml says %s", u, got, p.Sum)
		}
		return nil
	})
	return err
}
