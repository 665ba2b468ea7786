package kernels

import (
	"fmt"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
)

// distroRange reads DISTRO:A..B[/MOD…] into a range reference whose
// releases Expand lists; ok is false when s is no range.
func distroRange(p kit.Ranger, s, scheme string) (Ref, bool, error) {
	what, mods, _ := strings.Cut(strings.TrimPrefix(s, scheme+":"), "/")
	from, to, ok := strings.Cut(what, "..")
	if !ok {
		return Ref{}, false, nil
	}
	r := Ref{Raw: s, Kind: p.Kind(), Distro: scheme, From: from, To: to}
	if mods != "" {
		r.Path = "/" + mods // the modifiers each expanded reference keeps
	}
	if _, err := p.Between(scheme, from, to); err != nil {
		return r, true, fmt.Errorf("kernel %q: %w", s, err)
	}
	return r, true, nil
}
