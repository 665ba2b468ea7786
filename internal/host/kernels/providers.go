package kernels

import (
	"context"
	"strings"
)

// provider is one kind of kernel reference: the prefixes it answers to,
// how its references parse, how one resolves, and references of each of
// its forms (the conformance tests hold every provider to the same
// answers through them). ParseRef, Resolve and Schemes read this table:
// a new distribution is one row and its own file.
type provider struct {
	kind     Kind
	schemes  func() []string
	parse    func(s, scheme string) (Ref, error)
	resolve  func(r *Resolver, ctx context.Context, ref Ref) (*Kernel, error)
	examples []string
}

// providers in the order Schemes lists them.
var providers = []provider{
	{KindDebian, fixed("debian:"), parseDebian, (*Resolver).resolveDebian,
		[]string{"debian:6.1", "debian:bookworm", "debian:6.1.0-50", "debian:6.1/arm64"}},
	{KindUbuntu, fixed("ubuntu:"), ranged(KindUbuntu, func(s, _ string) (Ref, error) { return parseUbuntu(s) }), (*Resolver).resolveUbuntu,
		[]string{"ubuntu:22.04", "ubuntu:22.04/hwe", "ubuntu:5.15.0-91"}},
	{KindMainline, fixed("mainline:"), parseMainline, (*Resolver).resolveMainline,
		[]string{"mainline:v6.1", "mainline:v6.6/arm64"}},
	{KindOCI, fixed("oci:"), func(s, _ string) (Ref, error) { return parseOCI(s) }, (*Resolver).resolveOCI,
		[]string{"oci:127.0.0.1:1/cilium/ci-kernels:6.6"}},
	{KindRPM, rpmSchemes, ranged(KindRPM, parseRPM), (*Resolver).resolveRPM,
		[]string{"centos:6.5", "centos:2.6.32-504.el6", "rocky:8", "alma:9", "fedora:39"}},
	{KindAlpine, fixed("alpine:"), ranged(KindAlpine, func(s, _ string) (Ref, error) { return parseAlpine(s) }), (*Resolver).resolveAlpine,
		[]string{"alpine:3.18", "alpine:3.18/virt"}},
	{KindURL, fixed("https://", "http://"), parseURL, (*Resolver).resolveURL,
		[]string{"https://127.0.0.1:1/bzImage#sha256=" + strings.Repeat("ab", 32), "http://127.0.0.1:1/bzImage#sha256=" + strings.Repeat("cd", 32) + "&arch=i686"}},
}

func fixed(schemes ...string) func() []string { return func() []string { return schemes } }

// rpmSchemes are the RPM distributions' prefixes ("centos:", "rocky:", …).
func rpmSchemes() []string {
	var out []string
	for _, d := range RPMDistros() {
		out = append(out, d+":")
	}
	return out
}

// ranged parses a release range (ubuntu:16.04..22.04) of a distribution,
// else hands the reference to parse.
func ranged(kind Kind, parse func(s, scheme string) (Ref, error)) func(s, scheme string) (Ref, error) {
	return func(s, scheme string) (Ref, error) {
		if rr, ok, err := distroRange(s, scheme, kind); ok {
			return rr, err
		}
		return parse(s, scheme)
	}
}

// providerOf is the provider of kind.
func providerOf(kind Kind) (provider, bool) {
	for _, p := range providers {
		if p.kind == kind {
			return p, true
		}
	}
	return provider{}, false
}
