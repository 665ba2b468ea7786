// Package download resolves https:// and http:// references: a kernel
// image at a URL, checked against the digest the reference gives.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
)

// Kind is a kernel image at a URL.
const Kind kit.Kind = "url"

// Provider resolves URL references.
type Provider struct{}

// Kind is url.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes are https:// and http://.
func (Provider) Schemes() []string { return []string{"https://", "http://"} }

// Mirrors is none: the reference is the URL.
func (Provider) Mirrors() map[string]string { return nil }

// Examples are URL references, with and without an arch.
func (Provider) Examples() []string {
	return []string{"https://127.0.0.1:1/bzImage#sha256=" + strings.Repeat("ab", 32), "http://127.0.0.1:1/bzImage#sha256=" + strings.Repeat("cd", 32) + "&arch=i686"}
}

// Parse reads https://…#sha256=HEX[&arch=ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind}
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
		if r.Arch, err = kit.ParseArch(s, archName); err != nil {
			return r, err
		}
	}
	r.SHA256 = strings.ToLower(digest)
	u.Fragment = ""
	r.URL = u.String()
	return r, nil
}

// Resolve downloads the image once into the cache, named by its digest.
func (Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	unlock, err := r.Cache.Lock("blob-" + ref.SHA256)
	if err != nil {
		return nil, err
	}
	defer unlock()
	path, err := r.Cache.Path("blobs", ref.SHA256)
	if err != nil {
		return nil, err
	}
	k, err := r.NewKernel(ref, path)
	if err == nil && k.Origin.SHA256 != ref.SHA256 {
		err = fmt.Errorf("sha256 %s", k.Origin.SHA256)
	}
	if err != nil {
		if _, serr := os.Stat(path); serr == nil {
			r.Logf("cached %s is damaged (%v); downloading it again", path, err)
		}
		if r.Offline {
			return nil, kit.OfflineMiss(ref.Raw, "")
		}
		r.Logf("downloading %s", ref.URL)
		if err := download(ctx, r, ref, path); err != nil {
			return nil, err
		}
		if k, err = r.NewKernel(ref, path); err != nil {
			return nil, err
		}
	}
	k.Origin.URL = ref.URL
	return k, nil
}

// download fetches the image to dst if it has the reference's digest.
func download(ctx context.Context, r *kit.Env, ref kit.Ref, dst string) error {
	f, err := r.Cache.TempFile()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	_, err = r.Fetch().Copy(ctx, ref.URL, f, bootimage.MaxVmlinux, h, nil)
	var se *fetch.SizeError
	switch {
	case errors.As(err, &se) && se.Over:
		return kit.Inputf("kernel %s: %s: larger than a kernel image can be (%d MiB)", ref.Raw, se.What, bootimage.MaxVmlinux>>20)
	case errors.As(err, &se):
		return fmt.Errorf("kernel %s: download truncated: %w; run again", ref.Raw, err)
	case errors.As(err, new(*fetch.NotFoundError)):
		return kit.Inputf("kernel %s: %v: check the URL", ref.Raw, err)
	case err != nil:
		return fmt.Errorf("kernel %s: download: %w", ref.Raw, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, ref.SHA256) {
		return kit.Inputf("kernel %s: checksum mismatch: the file has sha256 %s; check the #sha256= in the reference", ref.Raw, sum)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
