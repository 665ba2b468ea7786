package kernels

import (
	"context"
	"maps"
	"os"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/alpine"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/debian"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/download"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/mainline"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ocikernel"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/rpmdistro"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/ubuntu"
)

// providersOf lists every source of kernels, in the order Schemes lists
// them, with Debian's and mainline's settings from r (nil: their
// defaults). ParseRef, Resolve, Expand and Schemes read this list: a
// distribution is one folder under providers/ that implements
// kit.Provider, and one line here.
func providersOf(r *Resolver) []kit.Provider {
	var d Debian
	var m Mainline
	if r != nil {
		d, m = r.Debian, r.Mainline
	}
	return []kit.Provider{
		debian.Provider{Config: d},
		ubuntu.Provider{},
		mainline.Provider{Config: m, Debian: d},
		ocikernel.Provider{},
		rpmdistro.Provider{},
		alpine.Provider{},
		download.Provider{},
	}
}

// providerOf is the provider of kind, with r's settings.
func (r *Resolver) providerOf(kind Kind) (kit.Provider, bool) {
	for _, p := range providersOf(r) {
		if p.Kind() == kind {
			return p, true
		}
	}
	return nil, false
}

// DefaultMirrors are where each provider's mirrors are, by the names
// --mirror NAME=URL overrides.
func DefaultMirrors() map[string]string {
	out := map[string]string{}
	for _, p := range providersOf(nil) {
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

// MainlineTags lists the tags of the mainline archive, newest first.
func (r *Resolver) MainlineTags(ctx context.Context) ([]string, error) {
	p, _ := r.providerOf(KindMainline)
	return p.(mainline.Provider).Tags(ctx, r.env())
}
