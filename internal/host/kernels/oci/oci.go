// Package oci pulls images from OCI distribution registries (the Docker
// registry HTTP API v2): a manifest by tag or digest, an index resolved to
// one platform, and layer blobs, each checked against its digest. Specs:
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md
// and https://github.com/opencontainers/image-spec (manifest, index,
// descriptor); anonymous bearer tokens as in
// https://distribution.github.io/distribution/spec/auth/token/.
package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
)

// Media types of manifests and indexes this package reads.
const (
	MediaIndex          = "application/vnd.oci.image.index.v1+json"
	MediaManifest       = "application/vnd.oci.image.manifest.v1+json"
	MediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// Reference names an image: registry host, repository, and a tag or digest.
type Reference struct {
	Registry, Repository string
	Tag                  string // "" when Digest is set
	Digest               string // "sha256:HEX", or ""
}

func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Digest != "" {
		return s + "@" + r.Digest
	}
	return s + ":" + r.Tag
}

var (
	repoRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ParseReference reads REGISTRY/REPOSITORY[:TAG|@sha256:HEX]; a first
// component without a dot, a colon or "localhost" is a Docker Hub name
// (docker.io/library/NAME for a single one), and the tag defaults to latest.
func ParseReference(s string) (Reference, error) {
	var r Reference
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		r.Digest, rest = rest[i+1:], rest[:i]
		if !digestRE.MatchString(r.Digest) {
			return r, fmt.Errorf("%q: a digest is sha256: and 64 lower-case hex digits", s)
		}
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag, rest = rest[i+1:], rest[:i]
		if !tagRE.MatchString(r.Tag) {
			return r, fmt.Errorf("%q: tag %q is not a valid tag", s, r.Tag)
		}
	}
	first, path, ok := strings.Cut(rest, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = first, path
	} else {
		r.Registry, r.Repository = "docker.io", rest
		if !strings.Contains(rest, "/") {
			r.Repository = "library/" + rest
		}
	}
	if !repoRE.MatchString(r.Repository) {
		return r, fmt.Errorf("%q: want REGISTRY/REPOSITORY:TAG (ghcr.io/cilium/ci-kernels:6.6) or …@sha256:HEX", s)
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	if r.Digest != "" {
		r.Tag = ""
	}
	return r, nil
}

// Descriptor points at a blob or manifest (image-spec descriptor.md).
type Descriptor struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *Platform `json:"platform,omitempty"`
}

// Platform is an index entry's platform (image-spec image-index.md).
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is an image manifest or an index (only the fields used here).
type Manifest struct {
	MediaType string       `json:"mediaType"`
	Manifests []Descriptor `json:"manifests"` // index
	Config    Descriptor   `json:"config"`
	Layers    []Descriptor `json:"layers"`
}

// Image is one platform's manifest, as resolved from a reference.
type Image struct {
	Ref Reference
	// Digest is the manifest's digest (of the platform's manifest when the
	// reference named an index); Index is the index's, or "".
	Digest, Index string
	Layers        []Descriptor
}

// NotFoundError is a tag, digest or repository the registry does not have.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + ": not found in the registry" }

// DigestError is content that does not match the digest it was asked by.
type DigestError struct{ What, Want, Got string }

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: digest %s, expected %s", e.What, e.Got, e.Want)
}

// Client talks to registries.
type Client struct {
	// HTTP does the requests; nil is http.DefaultClient.
	HTTP *http.Client
	// MaxManifest bounds a manifest's size (0: 4 MiB).
	MaxManifest int64
}

// fetcher is the HTTP client with c's transport.
func (c *Client) fetcher() *fetch.Client { return &fetch.Client{HTTP: c.HTTP} }

// base is the registry's API root: HTTPS, except for a registry on the
// loopback interface, which is spoken to over plain HTTP as docker does.
func base(r Reference) string {
	host := r.Registry
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
		return "http://" + host + "/v2/" + r.Repository
	}
	return "https://" + host + "/v2/" + r.Repository
}

// session is a client bound to one repository, with its token once known.
type session struct {
	c     *Client
	ref   Reference
	token string
}

// get does a GET, fetching an anonymous bearer token when the registry
// asks for one (a 401 with WWW-Authenticate: Bearer realm=…); a 404 is a
// *fetch.NotFoundError.
func (s *session) get(ctx context.Context, u string, accept []string) (*http.Response, error) {
	for try := 0; ; try++ {
		h := http.Header{}
		if len(accept) > 0 {
			h.Set("Accept", strings.Join(accept, ", "))
		}
		if s.token != "" {
			h.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := s.c.fetcher().Open(ctx, u, h)
		var se *fetch.StatusError
		if try > 0 || !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			return resp, err
		}
		if s.token, err = s.fetchToken(ctx, se.Header.Get("WWW-Authenticate")); err != nil {
			return nil, err
		}
	}
}

// fetchToken answers a Bearer challenge anonymously.
func (s *session) fetchToken(ctx context.Context, challenge string) (string, error) {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%s asks for %q authentication; runmatrix pulls anonymously", s.ref.Registry, scheme)
	}
	p := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(params, -1) {
		p[kv[1]] = kv[2]
	}
	realm, err := url.Parse(p["realm"])
	if err != nil || p["realm"] == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("%s: no usable token realm in %q", s.ref.Registry, challenge)
	}
	q := realm.Query()
	if p["service"] != "" {
		q.Set("service", p["service"])
	}
	scope := p["scope"]
	if scope == "" {
		scope = "repository:" + s.ref.Repository + ":pull"
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	b, err := s.c.fetcher().Bytes(ctx, realm.String(), 1<<20)
	var se *fetch.StatusError
	var nf *fetch.NotFoundError
	switch {
	case errors.As(err, &se):
		return "", fmt.Errorf("token from %s: %s (is the image public?)", realm.Host, se.Status)
	case errors.As(err, &nf):
		return "", fmt.Errorf("token from %s: 404 Not Found (is the image public?)", realm.Host)
	case err != nil:
		return "", fmt.Errorf("token: %w", err)
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("token from %s: %w", realm.Host, err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	if t.Token == "" {
		return "", fmt.Errorf("token from %s: empty", realm.Host)
	}
	return t.Token, nil
}

// manifest fetches the manifest or index named by tag or digest and
// checks it: against the digest asked for, else against the digest the
// registry says it is (Docker-Content-Digest), and returns its digest.
func (s *session) manifest(ctx context.Context, tagOrDigest string) (*Manifest, string, error) {
	what := s.ref.Registry + "/" + s.ref.Repository + sep(tagOrDigest) + tagOrDigest
	var (
		b    []byte
		resp *http.Response
	)
	err := s.c.fetcher().Retry(ctx, func() error {
		var err error
		resp, err = s.get(ctx, base(s.ref)+"/manifests/"+tagOrDigest, []string{MediaIndex, MediaManifest, MediaDockerList, MediaDockerManifest})
		var nf *fetch.NotFoundError
		switch {
		case errors.As(err, &nf):
			return fetch.Permanent(&NotFoundError{What: what})
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		}
		defer resp.Body.Close()
		max := s.c.MaxManifest
		if max <= 0 {
			max = 4 << 20
		}
		if b, err = io.ReadAll(io.LimitReader(resp.Body, max+1)); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if int64(len(b)) > max {
			return fetch.Permanent(fmt.Errorf("%s: manifest larger than %d bytes", what, max))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	got := "sha256:" + hex.EncodeToString(sum[:])
	want := tagOrDigest
	if !strings.HasPrefix(want, "sha256:") {
		want = resp.Header.Get("Docker-Content-Digest")
	}
	if want != "" && want != got {
		return nil, "", &DigestError{What: what, Want: want, Got: got}
	}
	m, err := decodeManifest(b, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, "", fmt.Errorf("%s: manifest: %w", what, err)
	}
	return m, got, nil
}

// decodeManifest reads a manifest or an index (contentType names it where
// the document does not). Every descriptor in it must name its content
// by digest: a child "digest" that is a tag would let an index pinned by
// digest point at something that changes.
func decodeManifest(b []byte, contentType string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.MediaType == "" {
		m.MediaType = contentType
	}
	for _, list := range [][]Descriptor{m.Manifests, m.Layers} {
		for _, d := range list {
			if !digestRE.MatchString(d.Digest) {
				return nil, fmt.Errorf("descriptor digest %.80q is not a sha256 digest", d.Digest)
			}
			if d.Size < 0 {
				return nil, fmt.Errorf("descriptor %s has a negative size", d.Digest)
			}
		}
	}
	return &m, nil
}

func sep(tagOrDigest string) string {
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		return "@"
	}
	return ":"
}

// Resolve finds the image ref names for a platform (GOARCH names such as
// "amd64", "arm64"; variant "v7" for arm): a manifest as it is, an index
// through its entry for linux/arch.
func (c *Client) Resolve(ctx context.Context, ref Reference, arch, variant string) (*Image, error) {
	s := &session{c: c, ref: ref}
	at := ref.Digest
	if at == "" {
		at = ref.Tag
	}
	m, digest, err := s.manifest(ctx, at)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: ref, Digest: digest}
	if m.MediaType == MediaIndex || m.MediaType == MediaDockerList || len(m.Manifests) > 0 {
		var pick *Descriptor
		var have []string
		for i, d := range m.Manifests {
			if d.Platform == nil {
				continue
			}
			have = append(have, d.Platform.OS+"/"+d.Platform.Architecture+strings.TrimPrefix("/"+d.Platform.Variant, "/"))
			if d.Platform.OS == "linux" && d.Platform.Architecture == arch && (variant == "" || d.Platform.Variant == "" || d.Platform.Variant == variant) && pick == nil {
				pick = &m.Manifests[i]
			}
		}
		if pick == nil {
			return nil, &NotFoundError{What: fmt.Sprintf("%s for linux/%s (the index has %s)", ref, arch, strings.Join(have, ", "))}
		}
		img.Index = digest
		if m, img.Digest, err = s.manifest(ctx, pick.Digest); err != nil {
			return nil, err
		}
	}
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("%s: the manifest lists no layers", ref)
	}
	img.Layers = m.Layers
	return img, nil
}

// Blob copies a blob to w, checking its size and digest as it goes; a
// failed, short or altered download is tried again (w is rewound and
// emptied first), and after the last try w must be discarded.
func (c *Client) Blob(ctx context.Context, ref Reference, d Descriptor, max int64, w io.WriteSeeker) error {
	if !digestRE.MatchString(d.Digest) {
		return fmt.Errorf("%s: blob digest %q is not sha256", ref, d.Digest)
	}
	if d.Size < 0 || d.Size > max {
		return fmt.Errorf("%s: blob %s of %d bytes is larger than runmatrix takes (%d)", ref, d.Digest, d.Size, max)
	}
	s := &session{c: c, ref: ref}
	return c.fetcher().Retry(ctx, func() error {
		if _, err := w.Seek(0, io.SeekStart); err != nil {
			return fetch.Permanent(err)
		}
		if t, ok := w.(interface{ Truncate(int64) error }); ok {
			if err := t.Truncate(0); err != nil {
				return fetch.Permanent(err)
			}
		}
		resp, err := s.get(ctx, base(ref)+"/blobs/"+d.Digest, nil)
		var nf *fetch.NotFoundError
		switch {
		case errors.As(err, &nf):
			return fetch.Permanent(&NotFoundError{What: ref.String() + " blob " + d.Digest})
		case err != nil:
			return fmt.Errorf("%s: blob %s: %w", ref, d.Digest, err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, d.Size+1))
		if err != nil {
			return fmt.Errorf("%s: blob %s: %w", ref, d.Digest, err)
		}
		if n != d.Size {
			return fmt.Errorf("%s: blob %s: %w: %d bytes, the manifest says %d", ref, d.Digest, io.ErrUnexpectedEOF, n, d.Size)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d.Digest {
			return &DigestError{What: ref.String() + " blob", Want: d.Digest, Got: got}
		}
		return nil
	})
}

// IsNotFound reports whether err says something does not exist.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
