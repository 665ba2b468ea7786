package kernels

import (
	"fmt"
	"strconv"
	"strings"
)

// distroRange reads DISTRO:A..B[/MOD…] into a range reference whose
// releases Expand lists; ok is false when s is no range.
func distroRange(s, scheme string, kind Kind) (Ref, bool, error) {
	what, mods, _ := strings.Cut(strings.TrimPrefix(s, scheme+":"), "/")
	from, to, ok := strings.Cut(what, "..")
	if !ok {
		return Ref{}, false, nil
	}
	r := Ref{Raw: s, Kind: kind, Distro: scheme, From: from, To: to}
	if mods != "" {
		r.Path = "/" + mods // the modifiers each expanded reference keeps
	}
	if _, err := releasesBetween(scheme, from, to); err != nil {
		return r, true, fmt.Errorf("kernel %q: %w", s, err)
	}
	return r, true, nil
}

// releasesBetween lists a distribution's releases from one to another,
// both included, oldest first.
func releasesBetween(distro, from, to string) ([]string, error) {
	var all []string
	switch distro {
	case "centos":
		seen := map[string]bool{}
		for _, r := range centosReleases {
			p := strings.Split(r, ".")
			if short := p[0] + "." + p[1]; !seen[short] {
				seen[short] = true
				all = append(all, short)
			}
		}
	case "ubuntu":
		for _, r := range ubuntuReleases {
			all = append(all, r[0])
		}
		from, to = ubuntuNumber(from), ubuntuNumber(to)
	case "fedora":
		a, errA := strconv.Atoi(from)
		b, errB := strconv.Atoi(to)
		if errA != nil || errB != nil || a > b {
			return nil, fmt.Errorf("want fedora:A..B with A not after B (fedora:37..39)")
		}
		for n := a; n <= b; n++ {
			all = append(all, strconv.Itoa(n))
		}
		return all, nil
	default: // rocky, alma, alpine: minor releases of one major
		fm, fn, okF := strings.Cut(from, ".")
		tm, tn, okT := strings.Cut(to, ".")
		a, errA := strconv.Atoi(fn)
		b, errB := strconv.Atoi(tn)
		if !okF || !okT || fm != tm || errA != nil || errB != nil || a > b {
			return nil, fmt.Errorf("want %s:M.A..M.B, minor releases of one major version, A not after B (%s:%s)", distro, distro,
				map[string]string{"rocky": "8.4..8.8", "alma": "9.0..9.3", "alpine": "3.16..3.18"}[distro])
		}
		for n := a; n <= b; n++ {
			all = append(all, fm+"."+strconv.Itoa(n))
		}
		return all, nil
	}
	i, j := indexOf(all, from), indexOf(all, to)
	if i < 0 || j < 0 || i > j {
		return nil, fmt.Errorf("want %s:A..B with A and B releases runmatrix knows, A not after B (%s)", distro, map[string]string{"centos": "centos:6.4..6.7", "ubuntu": "ubuntu:16.04..22.04"}[distro])
	}
	return all[i : j+1], nil
}

func ubuntuNumber(s string) string {
	if n, _, ok := ubuntuCodename(s); ok {
		return n
	}
	return s
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}
