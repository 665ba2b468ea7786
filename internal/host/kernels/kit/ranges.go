package kit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Span lists the releases of all (oldest first) from one to another,
// both included; example shows a good range of distro.
func Span(distro string, all []string, from, to, example string) ([]string, error) {
	i, j := slices.Index(all, from), slices.Index(all, to)
	if i < 0 || j < 0 || i > j {
		return nil, fmt.Errorf("want %s:A..B with A and B releases runmatrix knows, A not after B (%s)", distro, example)
	}
	return all[i : j+1], nil
}

// Minors lists the minor releases M.A to M.B of one major release;
// example shows a good range of distro.
func Minors(distro, from, to, example string) ([]string, error) {
	fm, fn, okF := strings.Cut(from, ".")
	tm, tn, okT := strings.Cut(to, ".")
	a, errA := strconv.Atoi(fn)
	b, errB := strconv.Atoi(tn)
	if !okF || !okT || fm != tm || errA != nil || errB != nil || a > b {
		return nil, fmt.Errorf("want %s:M.A..M.B, minor releases of one major version, A not after B (%s)", distro, example)
	}
	var all []string
	for n := a; n <= b; n++ {
		all = append(all, fm+"."+strconv.Itoa(n))
	}
	return all, nil
}
