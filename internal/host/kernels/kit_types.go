package kernels

import (
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/alpine"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/rpmdistro"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ubuntu"
)

// The types every provider shares, defined in package kit.
type (
	// Kind says where a kernel reference points.
	Kind = kit.Kind
	// Ref is a parsed kernel reference.
	Ref = kit.Ref
	// Kernel is a resolved, verified kernel image ready to boot.
	Kernel = kit.Kernel
	// Origin records how a kernel image was obtained.
	Origin = kit.Origin
	// InputError is a reference or image that is wrong as given (exit 2).
	InputError = kit.InputError
	// NotCachedError is --offline meeting a reference the cache lacks.
	NotCachedError = kit.NotCachedError
	// UnreachableError is a mirror that could not be read (exit 1).
	UnreachableError = kit.UnreachableError
)

// DefaultIndexTTL is how long a fetched index is reused before it is read again.
const DefaultIndexTTL = kit.DefaultIndexTTL

var (
	inputErr        = kit.Inputf
	offlineMiss     = kit.OfflineMiss
	errOffline      = kit.ErrOffline
	firstLine       = kit.FirstLine
	writeJSONAtomic = kit.WriteJSON
	cacheKey        = kit.CacheKey
	parseArch       = kit.ParseArch
)

type manifest = kit.Manifest

var readManifest = kit.ReadManifest

// env is the resolver's cache, network, mirrors and keys as providers see them.
func (r *Resolver) env() *kit.Env {
	return &kit.Env{Cache: r.Cache, Log: r.Log, Client: r.Client, Offline: r.Debian.Offline, IndexTTL: r.Debian.IndexTTL,
		Mirrors: r.Mirrors, Keys: r.Keys, RSAKeys: r.AlpineKeys}
}

func (r *Resolver) unpacked(ref Ref, dir, lock, what, keys string, extract func(tmp string) (manifest, []string, error)) (*Kernel, manifest, error) {
	return r.env().Unpacked(ref, dir, lock, what, keys, extract)
}

func (r *Resolver) freshIndex(p string, v any, fetched *time.Time) bool {
	return r.env().FreshIndex(p, v, fetched)
}

func (r *Resolver) newKernel(ref Ref, path string) (*Kernel, error) {
	return r.env().NewKernel(ref, path)
}

func (r *Resolver) unreachable(url, name string, err error) error {
	return r.env().Unreachable(url, name, err)
}

var (
	kernelFile    = kit.KernelFile
	openpgpKeysID = kit.OpenPGPKeysID
	rsaKeysID     = kit.RSAKeysID
)

// The kinds of the providers in their own folders.
const (
	KindRPM    = rpmdistro.Kind
	KindAlpine = alpine.Kind
)

// KindUbuntu is a kernel of an Ubuntu release.
const KindUbuntu = ubuntu.Kind
