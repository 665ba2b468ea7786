// Package kernels turns kernel references into verified, cached boot images.
package kernels

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/fetch"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Origin records how a kernel image was obtained.
type Origin struct {
	Package        string `json:"package,omitempty"`
	PackageVersion string `json:"package_version,omitempty"`
	DebSHA256      string `json:"deb_sha256,omitempty"`
	// PackageSHA256 is an RPM's or APK's digest.
	PackageSHA256 string `json:"package_sha256,omitempty"`
	Suite         string `json:"suite,omitempty"`
	URL           string `json:"url,omitempty"`
	File          string `json:"file,omitempty"`
	SHA256        string `json:"sha256"`
}

// Kernel is a resolved, verified kernel image ready to boot.
type Kernel struct {
	Ref        Ref
	Path       string // the bzImage
	ModulesDir string // lib/modules/RELEASE, or "" when only the image is known
	Config     string // the kernel's .config, or ""
	Image      bootimage.Image
	Origin     Origin
}

// InputError is a kernel reference or image that is wrong as given (a
// file that is not a kernel, a checksum that does not match, a series no
// archive has): the user must change the input, trying again will not help.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// offlineMiss is every provider's answer to --offline when what the
// reference needs is not cached (missing says what: "" is the kernel
// itself): bad input, since the one command it names fills the cache.
func offlineMiss(raw, missing string) error {
	if missing == "" {
		missing = "not in the cache"
	}
	return &InputError{&NotCachedError{Ref: raw, Missing: missing}}
}

// NotCachedError is --offline meeting a reference whose kernel, or what
// finding it needs, the cache lacks.
type NotCachedError struct {
	Ref, Missing string
}

func (e *NotCachedError) Error() string {
	return fmt.Sprintf("kernel %s: %s, and --offline forbids the network; run `runmatrix kernels fetch %s` first", e.Ref, e.Missing, e.Ref)
}

// UnreachableError is a mirror that could not be read: a failure of the
// world, not of the user's input (exit 1), though its message says how to
// point elsewhere.
type UnreachableError struct {
	// URL is what could not be read; Mirror names it for --mirror.
	URL, Mirror string
	Err         error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s cannot be reached (%v); point --mirror %s=URL (or RUNMATRIX_MIRRORS) at a mirror that carries it", e.URL, firstLine(e.Err.Error()), e.Mirror)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Resolver resolves references against a cache.
type Resolver struct {
	Cache store.Cache
	// Log, if set, receives progress lines (downloads).
	Log func(string)
	// Client fetches URLs; nil means http.DefaultClient.
	Client *http.Client
	// Debian says where debian: references come from; its Offline
	// applies to every kind.
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

// logLine passes one line to Log.
func (r *Resolver) logLine(s string) { r.logf("%s", s) }

func (r *Resolver) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, args...))
	}
}

// Resolve returns the kernel a reference names, downloading and verifying it once.
func (r *Resolver) Resolve(ctx context.Context, raw string) (*Kernel, error) {
	ref, err := ParseRef(raw)
	if err != nil {
		return nil, &InputError{err}
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
	if p, ok := providerOf(ref.Kind); ok {
		return p.resolve(r, ctx, ref)
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
		return nil, inputErr("kernel %s: %w (give debian:SERIES, a kernel image's path or an https URL with #sha256=)", raw, unwrapPath(err))
	}
	k, err := r.newKernel(ref, ref.Path)
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
		return nil, &InputError{err}
	}
	if ref.From == "" {
		return []string{raw}, nil
	}
	if ref.Kind != KindMainline {
		rels, err := releasesBetween(ref.Distro, ref.From, ref.To)
		if err != nil {
			return nil, inputErr("kernel %s: %v", raw, err)
		}
		var out []string
		for _, rel := range rels {
			out = append(out, ref.Distro+":"+rel+ref.Path)
		}
		return out, nil
	}
	m := r.mainline()
	tags, err := r.MainlineTags(ctx)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", raw, err)
	}
	suffix := cpu.Suffix(ref.Arch)
	var out []string
	for i := len(tags) - 1; i >= 0; i-- {
		t := tags[i]
		// Releases only: release candidates and extended-stable (-ckt)
		// builds are taken when they are an end of the range.
		if strings.Contains(t, "-") && t != ref.From && t != ref.To {
			continue
		}
		if CompareTags(t, ref.From) >= 0 && CompareTags(t, ref.To) <= 0 {
			out = append(out, "mainline:"+t+suffix)
		}
	}
	if len(out) == 0 {
		return nil, inputErr("kernel %s: %s has no tag from %s to %s; see `runmatrix kernels list mainline:`", raw, m.root(), ref.From, ref.To)
	}
	return out, nil
}

// MainlineTags lists the tags of the mainline archive, newest first.
func (r *Resolver) MainlineTags(ctx context.Context) ([]string, error) {
	return r.mainline().Tags(ctx, r.Cache, r.Debian.Offline)
}

func (r *Resolver) mainline() *Mainline {
	m := r.Mainline
	if m.URL == "" {
		env := MainlineFromEnv()
		m.URL = env.URL
		if m.KeyringFile == "" {
			m.KeyringFile = env.KeyringFile
		}
		if m.KeyServer == "" {
			m.KeyServer = env.KeyServer
		}
	}
	if m.Client == nil {
		m.Client = r.Client
	}
	return &m
}

// newKernel reads the image at path; a wrapped image (Image.gz, EFI
// zboot) is unwrapped into the cache and that is the one booted.
func (r *Resolver) newKernel(ref Ref, path string) (*Kernel, error) {
	if how := bootimage.WrappingOf(path); how != "" {
		return r.newWrappedKernel(ref, path, how)
	}
	img, err := bootimage.ReadImage(path)
	if err != nil {
		return nil, describe(ref.Raw, err)
	}
	sum, err := store.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	return &Kernel{Ref: ref, Path: path, Image: img, Origin: Origin{SHA256: sum}}, nil
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

// describe turns an image error into the one line a user needs.
func describe(raw string, err error) error {
	switch {
	case errors.Is(err, bootimage.ErrNotKernel):
		return inputErr("kernel %s: not a Linux boot image runmatrix knows (x86 bzImage, arm64 or RISC-V Image or Image.gz, ARM zImage, ppc64el vmlinux, s390x image); point at arch/ARCH/boot/… or /boot/vmlinuz-*", raw)
	case errors.Is(err, bootimage.ErrTruncated):
		return inputErr("kernel %s: truncated image (%v); download or copy it again", raw, errors.Unwrap(err))
	}
	// ReadImage names the file; raw already does.
	return inputErr("kernel %s: %s", raw, strings.TrimPrefix(err.Error(), raw+": "))
}

func (r *Resolver) resolveURL(ctx context.Context, ref Ref) (*Kernel, error) {
	unlock, err := r.Cache.Lock("blob-" + ref.SHA256)
	if err != nil {
		return nil, err
	}
	defer unlock()
	path, err := r.Cache.Path("blobs", ref.SHA256)
	if err != nil {
		return nil, err
	}
	k, err := r.newKernel(ref, path)
	if err == nil && k.Origin.SHA256 != ref.SHA256 {
		err = fmt.Errorf("sha256 %s", k.Origin.SHA256)
	}
	if err != nil {
		if _, serr := os.Stat(path); serr == nil {
			r.logf("cached %s is damaged (%v); downloading it again", path, err)
		}
		if r.Debian.Offline {
			return nil, offlineMiss(ref.Raw, "")
		}
		r.logf("downloading %s", ref.URL)
		if err := r.download(ctx, ref, path); err != nil {
			return nil, err
		}
		if k, err = r.newKernel(ref, path); err != nil {
			return nil, err
		}
	}
	k.Origin.URL = ref.URL
	return k, nil
}

func (r *Resolver) download(ctx context.Context, ref Ref, dst string) error {
	f, err := r.Cache.TempFile()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	_, err = (&fetch.Client{HTTP: r.Client}).Copy(ctx, ref.URL, f, bootimage.MaxVmlinux, h, nil)
	var se *fetch.SizeError
	switch {
	case errors.As(err, &se) && se.Over:
		return inputErr("kernel %s: %s: larger than a kernel image can be (%d MiB)", ref.Raw, se.What, bootimage.MaxVmlinux>>20)
	case errors.As(err, &se):
		return fmt.Errorf("kernel %s: download truncated: %w; run again", ref.Raw, err)
	case errors.As(err, new(*fetch.NotFoundError)):
		return inputErr("kernel %s: %v: check the URL", ref.Raw, err)
	case err != nil:
		return fmt.Errorf("kernel %s: download: %w", ref.Raw, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, ref.SHA256) {
		return inputErr("kernel %s: checksum mismatch: the file has sha256 %s; check the #sha256= in the reference", ref.Raw, sum)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
