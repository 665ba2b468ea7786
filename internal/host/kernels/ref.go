package kernels

import (
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
)

// ParseRef parses debian:WHAT[/ARCH] (WHAT a series, ABI version or
// codename), mainline:TAG[/ARCH], oci:REGISTRY/REPO:TAG[/ARCH],
// https://…#sha256=HEX[&arch=ARCH], any other provider's reference or a
// file path (PATH/ARCH, where PATH is a file, is read by Resolve).
func ParseRef(s string) (Ref, error) {
	for _, p := range providersOf(nil) {
		for _, scheme := range p.Schemes() {
			if !strings.HasPrefix(s, scheme) {
				continue
			}
			scheme = strings.TrimSuffix(scheme, ":")
			if rg, ok := p.(kit.Ranger); ok {
				if rr, ok, err := distroRange(rg, s, scheme); ok {
					return rr, err
				}
			}
			return p.Parse(s, scheme)
		}
	}
	return Ref{Raw: s, Kind: KindFile, Path: s}, nil
}

// Schemes are the prefixes of references that are not file paths.
func Schemes() []string {
	var out []string
	for _, p := range providersOf(nil) {
		for _, s := range p.Schemes() {
			out = append(out, strings.TrimSuffix(s, "//"))
		}
	}
	return out
}
