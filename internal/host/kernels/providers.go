package kernels

import (
	"context"
	"maps"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/alpine"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/download"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ocikernel"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/rpmdistro"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ubuntu"
)

// providers are every source of kernels, in the order Schemes lists them.
// ParseRef, Resolve, Expand and Schemes read this list: a distribution
// is one folder under providers/ that implements kit.Provider, and one
// line here.
var providers = []kit.Provider{
	own{KindDebian, []string{"debian:"}, parseDebian, (*Resolver).resolveDebian, nil,
		[]string{"debian:6.1", "debian:bookworm", "debian:6.1.0-50", "debian:6.1/arm64"}},
	ubuntu.Provider{},
	own{KindMainline, []string{"mainline:"}, parseMainline, (*Resolver).resolveMainline, nil,
		[]string{"mainline:v6.1", "mainline:v6.6/arm64"}},
	ocikernel.Provider{},
	rpmdistro.Provider{},
	alpine.Provider{},
	download.Provider{},
}

// own is a provider of this package, which resolves with the whole
// Resolver (Debian's and mainline's settings beside the Env).
type own struct {
	kind     Kind
	schemes  []string
	parse    func(s, scheme string) (Ref, error)
	resolve  func(r *Resolver, ctx context.Context, ref Ref) (*Kernel, error)
	mirrors  map[string]string
	examples []string
}

func (p own) Kind() Kind                          { return p.kind }
func (p own) Schemes() []string                   { return p.schemes }
func (p own) Parse(s, scheme string) (Ref, error) { return p.parse(s, scheme) }
func (p own) Mirrors() map[string]string          { return p.mirrors }
func (p own) Examples() []string                  { return p.examples }

// Resolve resolves with env and the default Debian and mainline settings.
func (p own) Resolve(ctx context.Context, env *kit.Env, ref Ref) (*Kernel, error) {
	r := &Resolver{Cache: env.Cache, Log: env.Log, Client: env.Client, Debian: DebianFromEnv(),
		Mirrors: env.Mirrors, Keys: env.Keys, AlpineKeys: env.RSAKeys}
	r.Debian.Offline, r.Debian.IndexTTL = env.Offline, env.IndexTTL
	return p.resolve(r, ctx, ref)
}

// resolveWith resolves with the whole Resolver.
func (p own) resolveWith(ctx context.Context, r *Resolver, ref Ref) (*Kernel, error) {
	return p.resolve(r, ctx, ref)
}

// providerOf is the provider of kind.
func providerOf(kind Kind) (kit.Provider, bool) {
	for _, p := range providers {
		if p.Kind() == kind {
			return p, true
		}
	}
	return nil, false
}

// resolveWith resolves ref with p and r's settings.
func (r *Resolver) resolveWith(ctx context.Context, p kit.Provider, ref Ref) (*Kernel, error) {
	if o, ok := p.(interface {
		resolveWith(context.Context, *Resolver, Ref) (*Kernel, error)
	}); ok {
		return o.resolveWith(ctx, r, ref)
	}
	return p.Resolve(ctx, r.env(), ref)
}

// DefaultMirrors are where each provider's mirrors are, by the names
// --mirror NAME=URL overrides.
func DefaultMirrors() map[string]string {
	out := map[string]string{}
	for _, p := range providers {
		maps.Copy(out, p.Mirrors())
	}
	return out
}

// MirrorsFromEnv reads RUNMATRIX_MIRRORS ("centos=URL,rocky=URL").
func MirrorsFromEnv() map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(os.Getenv("RUNMATRIX_MIRRORS"), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			out[k] = v
		}
	}
	return out
}
