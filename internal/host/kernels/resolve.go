// Package kernels turns kernel references into verified, cached boot images.
package kernels

import (
	"context"
	"crypto/rsa"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Resolver resolves references against a cache.
type Resolver struct {
	Cache store.Cache
	// Log, if set, receives progress lines (downloads).
	Log func(string)
	// Client fetches URLs; nil means http.DefaultClient.
	Client *http.Client
	// Offline resolves every kind of reference from the cache only.
	Offline bool
	// IndexTTL is how long every provider reuses a fetched index (0:
	// DefaultIndexTTL).
	IndexTTL time.Duration
	// Debian says where debian: references come from.
	Debian Debian
	// Mainline says where mainline: references come from (zero: MainlineFromEnv).
	Mainline Mainline
	// Mirrors override DefaultMirrors by name ("centos", "ubuntu", …).
	Mirrors map[string]string
	// Keys stand in for embedded distribution keys by file name
	// ("centos-6"): for tests against repositories signed by test keys.
	Keys map[string]openpgp.EntityList
	// AlpineKeys are RSA keys accepted beside Alpine's embedded ones, by
	// the name signatures give them (NAME.rsa.pub).
	AlpineKeys map[string]*rsa.PublicKey
}

// Resolve returns the kernel a reference names, downloading and verifying it once.
func (r *Resolver) Resolve(ctx context.Context, raw string) (*Kernel, error) {
	ref, err := ParseRef(raw)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if ref.From != "" {
		return nil, inputErr("kernel %s: a range names many kernels; give it to run, probe or bisect, which expand it, or see them with `runmatrix kernels list %s`", raw, raw)
	}
	k, err := r.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if a := k.Ref.Arch; a != "" && k.Image.Arch != a {
		return nil, inputErr("kernel %s: the image is %s, not %s as the reference says; %s", raw, k.Image.Arch, a, archHint(k.Ref, k.Image.Arch))
	}
	return k, nil
}

func (r *Resolver) resolve(ctx context.Context, ref Ref) (*Kernel, error) {
	raw := ref.Raw
	if p, ok := r.providerOf(ref.Kind); ok {
		return p.Resolve(ctx, r.env(), ref)
	}
	// A file (PATH, or PATH/ARCH), or a reference of no provider.
	if _, err := os.Stat(ref.Path); err != nil && !fileWithArch(&ref) {
		switch scheme := schemeRE.FindString(raw); scheme {
		case "rhel:", "redhat:":
			return nil, inputErr("kernel %s: RHEL's repositories need a subscription, so runmatrix does not read them; its rebuilds carry the same kernels: centos: (to 8), rocky:, alma:", raw)
		case "":
		default:
			return nil, inputErr("kernel %s: unknown kind of kernel reference %q (use %s, or a kernel image's path)", raw, scheme, strings.Join(Schemes(), " "))
		}
		return nil, inputErr("kernel %s: %w (give debian:SERIES, a kernel image's path or an https URL with #sha256=)", raw, kit.UnwrapPath(err))
	}
	k, err := r.env().NewKernel(ref, ref.Path)
	if err != nil {
		return nil, err
	}
	k.Origin.File = ref.Path
	return k, nil
}

// Expand returns the references a reference stands for: the release tags
// of a mainline range (mainline:v3.0..v4.0 → mainline:v3.0, mainline:v3.1,
// …, oldest first, release candidates and -ckt builds left out), or the
// reference itself.
func (r *Resolver) Expand(ctx context.Context, raw string) ([]string, error) {
	ref, err := ParseRef(raw)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if ref.From == "" {
		return []string{raw}, nil
	}
	p, _ := r.providerOf(ref.Kind)
	if e, ok := p.(kit.Expander); ok {
		return e.Expand(ctx, r.env(), ref)
	}
	rg, ok := p.(kit.Ranger)
	if !ok {
		return nil, inputErr("kernel %s: %s references name no ranges", raw, ref.Kind)
	}
	rels, err := rg.Between(ref.Distro, ref.From, ref.To)
	if err != nil {
		return nil, inputErr("kernel %s: %v", raw, err)
	}
	var out []string
	for _, rel := range rels {
		out = append(out, ref.Distro+":"+rel+ref.Path)
	}
	return out, nil
}

// schemeRE matches what looks like a reference's scheme ("rhel:").
var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9]*:`)

// archHint says what to change when an image is not of the arch its
// reference names.
func archHint(ref Ref, arch string) string {
	switch ref.Kind {
	case KindFile, KindURL:
		return "give the image of that arch, or name its own (" + cpu.Name(arch) + ") or none"
	}
	return "the archive serves a package of another arch under this name; report it to its maintainers, or give the image's file"
}

// fileWithArch reads a file reference PATH/ARCH ("./Image/arm64": the
// image at PATH, which must be of ARCH) into ref, when PATH is a file
// and ARCH an arch name.
func fileWithArch(ref *Ref) bool {
	dir, base := filepath.Split(ref.Path)
	dir = strings.TrimSuffix(dir, "/")
	arch, err := cpu.Parse(base)
	if dir == "" || base == "" || err != nil {
		return false
	}
	if fi, err := os.Stat(dir); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	ref.Path, ref.Arch = dir, arch
	return true
}
