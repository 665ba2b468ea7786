package testcases

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a kernel version as numbers: 2.6.32 is {2, 6, 32}.
type Version []int

// ParseVersion reads the leading dotted numbers of a kernel release such as
// "6.1.0-56-amd64" or "2.6.32-42-server".
func ParseVersion(release string) (Version, error) {
	var v Version
	for _, part := range strings.SplitN(release, ".", 4) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			return nil, fmt.Errorf("kernel version %q: %w", release, err)
		}
		v = append(v, n)
		if end < len(part) {
			break
		}
	}
	if len(v) < 2 {
		return nil, fmt.Errorf("kernel version %q: want MAJOR.MINOR", release)
	}
	return v, nil
}

// Compare returns -1, 0 or 1; missing trailing parts count as 0.
func (v Version) Compare(w Version) int {
	for i := 0; i < len(v) || i < len(w); i++ {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(w) {
			b = w[i]
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	}
	return 0
}

// lineageTag matches the distribution tag in a release: .el6 (RHEL and
// CentOS 6), .el7, .fc39 and the like.
var lineageTag = regexp.MustCompile(`\.(el\d+|fc\d+)(?:[._]|$)`)

// Lineage is the distribution a kernel release names ("el6" for
// 2.6.32-504.el6.x86_64), or "".
func Lineage(release string) string {
	if m := lineageTag.FindStringSubmatch(release); m != nil {
		return m[1]
	}
	return ""
}

// BuildVersion is a release's upstream version followed by the
// distribution's build numbers: 2.6.32-504.23.4.el6.x86_64 is
// {2, 6, 32, 504, 23, 4}; a release without them is its upstream version.
func BuildVersion(release string) Version {
	v, err := ParseVersion(release)
	if err != nil {
		return nil
	}
	_, build, ok := strings.Cut(release, "-")
	if !ok {
		return v
	}
	for _, part := range strings.Split(build, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			break
		}
		v = append(v, n)
	}
	return v
}

// InRange reports whether release satisfies every constraint of rng, a
// space-separated list such as ">=3.7 <4.11"; an empty range matches all.
func InRange(release, rng string) (bool, error) {
	if strings.TrimSpace(rng) == "" {
		return true, nil
	}
	v, err := ParseVersion(release)
	if err != nil {
		return false, err
	}
	return inRange(v, rng, false)
}

// inRange is InRange for a parsed version; with build, the bounds in rng
// are read as BuildVersion reads a release (2.6.32-504 is {2, 6, 32, 504}).
func inRange(v Version, rng string, build bool) (bool, error) {
	if strings.TrimSpace(rng) == "" {
		return true, nil
	}
	if v == nil {
		return false, fmt.Errorf("no kernel version to compare with %q", rng)
	}
	for _, c := range strings.Fields(rng) {
		op := c[:len(c)-len(strings.TrimLeft(c, "<>=!"))]
		w, err := ParseVersion(c[len(op):])
		if err == nil && build {
			w = BuildVersion(c[len(op):])
		}
		if err != nil {
			return false, fmt.Errorf("version range %q: %w", rng, err)
		}
		cmp := v.Compare(w)
		var ok bool
		switch op {
		case "<":
			ok = cmp < 0
		case "<=":
			ok = cmp <= 0
		case ">":
			ok = cmp > 0
		case ">=":
			ok = cmp >= 0
		case "=", "==":
			ok = cmp == 0
		case "!=":
			ok = cmp != 0
		default:
			return false, fmt.Errorf("version range %q: unknown operator %q (use <, <=, >, >=, =, !=)", rng, op)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
