package kernels

import (
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/alpine"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/debian"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/download"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/mainline"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ocikernel"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/rpmdistro"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ubuntu"
)

// The types every provider shares, defined in package kit, and the
// settings of the providers the resolver configures.
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
	// Debian says where debian: references come from.
	Debian = debian.Config
	// DebianKernel is one kernel image package a Debian archive offers.
	DebianKernel = debian.Kernel
	// Mainline says where mainline: references come from.
	Mainline = mainline.Config
)

// The kinds of kernel reference.
const (
	KindFile     = kit.KindFile
	KindDebian   = debian.Kind
	KindUbuntu   = ubuntu.Kind
	KindMainline = mainline.Kind
	KindOCI      = ocikernel.Kind
	KindRPM      = rpmdistro.Kind
	KindAlpine   = alpine.Kind
	KindURL      = download.Kind
)

// DefaultIndexTTL is how long a fetched index is reused before it is read again.
const DefaultIndexTTL = kit.DefaultIndexTTL

var (
	// DebianFromEnv returns the default Debian archives, with the
	// mirrors the environment names.
	DebianFromEnv = debian.FromEnv
	// DebianReleases are the release names a debian: reference may give.
	DebianReleases = debian.Releases
	// MainlineFromEnv returns the default mainline archive, with the URL,
	// keyring file and key server the environment names.
	MainlineFromEnv = mainline.FromEnv
	// CompareTags orders two mainline tags.
	CompareTags = mainline.CompareTags
)

var inputErr = kit.Inputf

// env is the resolver's cache, network, mirrors and keys as providers see them.
func (r *Resolver) env() *kit.Env {
	return &kit.Env{Cache: r.Cache, Log: r.Log, Client: r.Client, Offline: r.Offline, IndexTTL: r.IndexTTL,
		Mirrors: r.Mirrors, Keys: r.Keys, RSAKeys: r.AlpineKeys}
}
