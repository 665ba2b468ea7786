// Package debarchive reads Debian-layout package archives over HTTP without
// apt or dpkg: a suite's signed InRelease (or Release with Release.gpg), its
// Packages index checked against it, and .deb files checked against the index.
package debarchive

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"

	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
)

// Archive is one archive root: the folder that holds dists/ and pool/.
type Archive struct {
	// URL is the root, e.g. http://deb.debian.org/debian.
	URL string
	// Keyring holds the keys a Release must be signed with.
	Keyring openpgp.EntityList
	// Client fetches files; nil means http.DefaultClient.
	Client *http.Client
	// Tries is how often a failed or inconsistent download is attempted (default 3).
	Tries int
	// Retired accepts Release files past their Valid-Until and keys that
	// expired since they signed (the archive of retired releases, snapshots).
	Retired bool
	// Now is the clock Valid-Until is checked against (nil: time.Now).
	Now func() time.Time
}

// File is one file a Release vouches for.
type File struct {
	Path   string
	Size   int64
	SHA256 string
}

// Release is a suite's verified Release file.
type Release struct {
	Suite, Codename, Version string
	Date, ValidUntil         time.Time
	Components               []string
	Architectures            []string
	// Files are the index files by path below dists/SUITE/.
	Files map[string]File
	// Dist is the suite folder the Release was read from.
	Dist string
	// SHA256 is the digest of the verified Release text.
	SHA256 string
	// Stale is set when the Release is past its Valid-Until: the mirror
	// has stopped syncing that suite. Callers decide whether to warn.
	Stale bool
}

// Package is one binary package of a Packages index.
type Package struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Arch     string `json:"arch"`
	Source   string `json:"source,omitempty"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Depends  string `json:"depends,omitempty"`
	// Suite is the suite whose index listed the package.
	Suite string `json:"suite"`
}

// NotFoundError is a file the archive does not have (HTTP 404 or 410).
type NotFoundError = fetch.NotFoundError

// IntegrityError is a file that does not match what its signed parent says.
type IntegrityError struct {
	URL  string
	What string
}

func (e *IntegrityError) Error() string { return e.URL + ": " + e.What }

// fetcher is the HTTP client with the archive's transport and tries.
func (a *Archive) fetcher() *fetch.Client { return &fetch.Client{HTTP: a.Client, Tries: a.Tries} }

func (a *Archive) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Archive) url(p string) string { return strings.TrimRight(a.URL, "/") + "/" + p }

// Bounds on what one GET reads whole: a Release file or signature (real
// ones are well under 1 MiB), and any other file Get fetches (listings,
// checksums). An index is bounded by the size its signed Release gives.
const (
	MaxRelease = 16 << 20
	MaxGet     = 64 << 20
	// MaxPackage bounds a package download whose index gave no size.
	MaxPackage = 1 << 30
)

// get fetches one file whole, once, refusing one of more than max bytes
// or short of its announced length (an *IntegrityError); a 404 or 410 is
// a *NotFoundError.
func (a *Archive) get(ctx context.Context, p string, max int64) ([]byte, error) {
	b, err := (&fetch.Client{HTTP: a.Client, Tries: 1}).Bytes(ctx, a.url(p), max)
	var se *fetch.SizeError
	if errors.As(err, &se) {
		return nil, &IntegrityError{URL: se.URL, What: se.What}
	}
	return b, err
}

// Get fetches one file of at most MaxGet bytes whole, tried again as
// Download is; a missing file is a *NotFoundError.
func (a *Archive) Get(ctx context.Context, p string) ([]byte, error) {
	var b []byte
	err := a.retry(ctx, func() (err error) {
		b, err = a.get(ctx, p, MaxGet)
		return err
	})
	return b, err
}

// VerifyDetached checks a detached OpenPGP signature over signed with the
// archive's keyring; u names the file in the error.
func (a *Archive) VerifyDetached(u string, signed, sig []byte) error {
	r := io.Reader(bytes.NewReader(sig))
	if bytes.HasPrefix(sig, []byte("-----BEGIN")) {
		block, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return &IntegrityError{URL: u, What: "bad OpenPGP signature: " + err.Error()}
		}
		r = block.Body
	}
	return a.verify(u, signed, r, nil)
}

// retry runs fn as the archive's client retries a GET.
func (a *Archive) retry(ctx context.Context, fn func() error) error {
	return a.fetcher().Retry(ctx, fn)
}

// Release fetches and verifies dists/SUITE/InRelease, or Release with
// Release.gpg where the archive has no InRelease (releases before 2012).
func (a *Archive) Release(ctx context.Context, suite string) (*Release, error) {
	dist := "dists/" + suite
	var rel *Release
	err := a.retry(ctx, func() error {
		var err error
		rel, err = a.release(ctx, dist)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rel, nil
}

func (a *Archive) release(ctx context.Context, dist string) (*Release, error) {
	var text []byte
	in, err := a.get(ctx, dist+"/InRelease", MaxRelease)
	var nf *NotFoundError
	switch {
	case err == nil:
		b, _ := clearsign.Decode(in)
		if b == nil {
			return nil, &IntegrityError{URL: a.url(dist + "/InRelease"), What: "not a clearsigned file"}
		}
		text = b.Plaintext
		if err := a.verify(a.url(dist+"/InRelease"), b.Bytes, b.ArmoredSignature.Body, text); err != nil {
			return nil, err
		}
	case errors.As(err, &nf):
		plain, err := a.get(ctx, dist+"/Release", MaxRelease)
		if err != nil {
			return nil, err
		}
		sig, err := a.get(ctx, dist+"/Release.gpg", MaxRelease)
		if err != nil {
			return nil, err
		}
		body := io.Reader(bytes.NewReader(sig))
		if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN")) {
			blk, err := armorDecode(sig)
			if err != nil {
				return nil, &IntegrityError{URL: a.url(dist + "/Release.gpg"), What: err.Error()}
			}
			body = blk
		}
		if err := a.verify(a.url(dist+"/Release"), plain, body, plain); err != nil {
			return nil, err
		}
		text = plain
	default:
		return nil, err
	}
	rel, err := parseRelease(text)
	if err != nil {
		return nil, &IntegrityError{URL: a.url(dist + "/Release"), What: err.Error()}
	}
	// The signature vouches for the text, not for which suite it is: a
	// mirror could serve another suite's (an older release's) signed
	// Release under this name.
	asked := strings.TrimPrefix(dist, "dists/")
	if asked != rel.Suite && asked != rel.Codename && strings.TrimSuffix(asked, "/updates") != rel.Codename {
		return nil, &IntegrityError{URL: a.url(dist + "/Release"), What: fmt.Sprintf("it is the Release of suite %q (codename %q), not of %q; the mirror serves another suite under this name", rel.Suite, rel.Codename, asked)}
	}
	rel.Dist = dist
	sum := sha256.Sum256(text)
	rel.SHA256 = hex.EncodeToString(sum[:])
	rel.Stale = !a.Retired && !rel.ValidUntil.IsZero() && a.now().After(rel.ValidUntil)
	return rel, nil
}

// verify checks a detached signature over signed. The Date field of the
// (not yet trusted) text only moves the clock that key expiry is judged
// at, so a retired release signed by a key that has expired since still
// verifies; the signature itself must be good either way.
func (a *Archive) verify(u string, signed []byte, sig io.Reader, text []byte) error {
	cfg := &packet.Config{}
	if a.Retired {
		if d, err := releaseDate(text); err == nil {
			cfg.Time = func() time.Time { return d }
		}
	}
	if _, err := openpgp.CheckDetachedSignature(a.Keyring, bytes.NewReader(signed), sig, cfg); err != nil {
		return &IntegrityError{URL: u, What: "bad OpenPGP signature: " + err.Error() + " (is the keyring right for this archive?)"}
	}
	return nil
}

func releaseDate(text []byte) (time.Time, error) {
	var d time.Time
	var err error = errors.New("no Date")
	readParagraphs(bytes.NewReader(text), func(p Paragraph) bool {
		d, err = parseDate(p["Date"])
		return false
	})
	return d, err
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}

func parseRelease(text []byte) (*Release, error) {
	var p Paragraph
	if err := readParagraphs(bytes.NewReader(text), func(q Paragraph) bool { p = q; return false }); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("empty Release file")
	}
	r := &Release{Suite: p["Suite"], Codename: p["Codename"], Version: p["Version"], Files: map[string]File{},
		Components: strings.Fields(p["Components"]), Architectures: strings.Fields(p["Architectures"])}
	r.Date, _ = parseDate(p["Date"])
	if v := p["Valid-Until"]; v != "" {
		r.ValidUntil, _ = parseDate(v)
	}
	for _, line := range strings.Split(p["SHA256"], "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r.Files[f[2]] = File{Path: f[2], Size: n, SHA256: f[0]}
	}
	if len(r.Files) == 0 {
		return nil, errors.New("Release lists no SHA256 sums")
	}
	return r, nil
}

// Packages reads the Packages index of one component and architecture,
// checked against the Release, and returns the packages keep accepts.
func (a *Archive) Packages(ctx context.Context, rel *Release, component, arch string, keep func(name string) bool) ([]Package, error) {
	r, err := a.index(ctx, rel, component+"/binary-"+arch+"/Packages")
	if err != nil {
		return nil, err
	}
	var out []Package
	err = readParagraphs(r, func(p Paragraph) bool {
		if !keep(p["Package"]) {
			return true
		}
		size, _ := strconv.ParseInt(p["Size"], 10, 64)
		src, _, _ := strings.Cut(p["Source"], " ")
		out = append(out, Package{Name: p["Package"], Version: p["Version"], Arch: p["Architecture"], Source: src,
			Filename: p["Filename"], Size: size, SHA256: p["SHA256"], Depends: p["Depends"], Suite: rel.Suite})
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.url(rel.Dist+"/"+component+"/binary-"+arch), err)
	}
	return out, nil
}

// index fetches an index file (base plus the compression the Release
// lists), checks it against the Release and returns it decompressed.
func (a *Archive) index(ctx context.Context, rel *Release, base string) (io.Reader, error) {
	var f File
	var ok bool
	for _, ext := range []string{".gz", ".xz", ""} {
		if f, ok = rel.Files[base+ext]; ok {
			break
		}
	}
	if !ok {
		return nil, &NotFoundError{URL: a.url(rel.Dist + "/" + base)}
	}
	var data []byte
	err := a.retry(ctx, func() error {
		b, err := a.get(ctx, rel.Dist+"/"+f.Path, f.Size) // the signed Release's size
		if err != nil {
			return err
		}
		if err := check(b, f); err != nil {
			return &IntegrityError{URL: a.url(rel.Dist + "/" + f.Path), What: err.Error() + ": the mirror is probably mid-sync"}
		}
		data = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	r, err := decompress(f.Path, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.url(rel.Dist+"/"+f.Path), err)
	}
	return r, nil
}

// Sources reads the source index of one component, checked against the
// Release, and calls fn for each source package.
func (a *Archive) Sources(ctx context.Context, rel *Release, component string, fn func(Paragraph)) error {
	r, err := a.index(ctx, rel, component+"/source/Sources")
	if err != nil {
		return err
	}
	return readParagraphs(r, func(p Paragraph) bool { fn(p); return true })
}

func check(b []byte, f File) error {
	if int64(len(b)) != f.Size {
		return fmt.Errorf("size %d, the signed Release says %d", len(b), f.Size)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
		return fmt.Errorf("sha256 %s, the signed Release says %s", got, f.SHA256)
	}
	return nil
}

func decompress(name string, r io.Reader) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(r)
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(r)
	}
	return r, nil
}

// Download writes the package's .deb to w, checked against the size (when
// the index gave one, Size > 0) and sha256 its index gave; a failed or
// wrong download is tried again.
func (a *Archive) Download(ctx context.Context, p Package, w io.WriteSeeker) error {
	u := a.url(p.Filename)
	limit := p.Size
	if limit <= 0 {
		limit = MaxPackage
	}
	h := sha256.New()
	_, err := a.fetcher().Copy(ctx, u, w, limit, h, func(n int64) error {
		if p.Size > 0 && n != p.Size {
			return &IntegrityError{URL: u, What: fmt.Sprintf("got %d bytes, the signed index says %d (truncated download?)", n, p.Size)}
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
			return &IntegrityError{URL: u, What: fmt.Sprintf("sha256 %s, the signed index says %s", got, p.SHA256)}
		}
		return nil
	})
	var se *fetch.SizeError
	switch {
	case errors.As(err, &se) && se.Over && p.Size <= 0:
		return &IntegrityError{URL: u, What: fmt.Sprintf("more than %d MiB, larger than any kernel package", MaxPackage>>20)}
	case errors.As(err, &se):
		return &IntegrityError{URL: u, What: se.What}
	}
	return err
}
