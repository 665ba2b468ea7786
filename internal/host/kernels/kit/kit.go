// Package kit is what every kernel provider is made of: the reference and
// kernel types, the Provider interface, and the services all providers
// share through an Env (the cache, index TTL, --offline, mirrors, keys,
// the HTTP client, unpacking with damage repair, and the errors every
// provider answers alike). A distribution is one folder that implements
// Provider with these; package kernels lists the providers.
package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
)

// Kind says where a kernel reference points.
type Kind string

// KindFile is a kernel image's path, the one kind no provider answers.
const KindFile Kind = "file"

// Ref is a parsed kernel reference: what every kind has, and the fields a
// provider fills from its own syntax.
type Ref struct {
	Raw  string
	Kind Kind
	// Arch is the arch the image must be: set by every provider (x86_64
	// unless named), for a file or URL only when the reference names one
	// (PATH/ARCH, URL#sha256=HEX&arch=ARCH).
	Arch string
	// Series is a release or kernel series ("6.1", "bookworm"'s 12, "3.18"),
	// Version a kernel version ("6.1.0-50", "2.6.32-504.el6"), Codename a
	// release's name ("bookworm") and Suite a pinned suite.
	Series, Version, Codename, Suite string
	// Tag is an upstream tag ("v3.6").
	Tag string
	// From and To bound a range ("mainline:v3.0..v4.0", "centos:6.4..6.7"),
	// which names every release between them, both included; Path keeps
	// the modifiers ("/virt/arm64") each expanded reference keeps.
	From, To string
	// URL and SHA256 are a URL reference's download and digest.
	URL, SHA256 string
	// Path is a file reference's image, or a range's modifiers.
	Path string
	// Flavour is a kernel flavour ("generic", "virt"), and HWE asks for a
	// release's hardware-enablement kernel.
	Flavour string
	HWE     bool
	// Distro names the distribution of a provider that serves several
	// (centos, rocky, alma, fedora).
	Distro string
	// Line names the line of builds a reference belongs to when the
	// reference alone says it (an OCI repository).
	Line string
	// Detail is what else a provider parsed from the reference.
	Detail any
}

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

// Provider is one source of kernels: the prefixes of its references, how
// they parse, and how one resolves to a verified, unpacked kernel.
type Provider interface {
	// Kind is the kind of the references it parses.
	Kind() Kind
	// Schemes are the prefixes its references start with ("alpine:").
	Schemes() []string
	// Parse reads reference s, which starts with scheme (without its ":").
	Parse(s, scheme string) (Ref, error)
	// Resolve finds, fetches, verifies and unpacks (once) the kernel ref
	// names, with env's cache, network and keys.
	Resolve(ctx context.Context, env *Env, ref Ref) (*Kernel, error)
	// Mirrors are the default URLs of the mirrors it reads, by the names
	// --mirror NAME=URL overrides.
	Mirrors() map[string]string
	// Examples are references of each of its forms (the conformance tests
	// hold every provider to the same answers through them).
	Examples() []string
}

// Ranger is a Provider whose references may name a range of releases
// (alpine:3.16..3.18).
type Ranger interface {
	Provider
	// Between lists the releases of distro from one to another, both
	// included, oldest first.
	Between(distro, from, to string) ([]string, error)
}

// Expander is a Provider whose ranges are read from its archive
// (mainline:v3.0..v4.0 names the tags the archive has between them).
type Expander interface {
	Provider
	// Expand lists the references range ref stands for, oldest first.
	Expand(ctx context.Context, env *Env, ref Ref) ([]string, error)
}

// InputError is a kernel reference or image that is wrong as given (a
// file that is not a kernel, a checksum that does not match, a series no
// archive has): the user must change the input, trying again will not help.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Inputf is an InputError of a formatted message.
func Inputf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// OfflineMiss is every provider's answer to --offline when what the
// reference needs is not cached (missing says what: "" is the kernel
// itself): bad input, since the one command it names fills the cache.
func OfflineMiss(raw, missing string) error {
	if missing == "" {
		missing = "not in the cache"
	}
	return &InputError{Err: &NotCachedError{Ref: raw, Missing: missing}}
}

// ErrOffline is what a step that needs the network returns under
// --offline, for its provider to turn into OfflineMiss.
var ErrOffline = errors.New("offline")

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
	return fmt.Sprintf("%s cannot be reached (%v); point --mirror %s=URL (or RUNMATRIX_MIRRORS) at a mirror that carries it", e.URL, FirstLine(e.Err.Error()), e.Mirror)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// FirstLine is the first line of s.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ParseArch reads the /ARCH of reference s.
func ParseArch(s, arch string) (string, error) {
	a, err := cpu.Parse(arch)
	if err != nil {
		return "", fmt.Errorf("kernel %q: %w", s, err)
	}
	return a, nil
}

// UnwrapPath is a *os.PathError as "PATH: ERR", other errors as they are.
func UnwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
