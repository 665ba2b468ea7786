package rpm

import (
	"cmp"
	"strings"
)

// CompareVersions orders two version or release strings as rpm's
// rpmvercmp does: runs of digits compare as numbers and beat runs of
// letters, separators only separate, and '~' sorts before everything.
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		a = strings.TrimLeftFunc(a, sep)
		b = strings.TrimLeftFunc(b, sep)
		if strings.HasPrefix(a, "~") || strings.HasPrefix(b, "~") {
			switch {
			case !strings.HasPrefix(a, "~"):
				return 1
			case !strings.HasPrefix(b, "~"):
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if a == "" || b == "" {
			break
		}
		digits := isDigit(a[0])
		ra, restA := run(a, digits)
		rb, restB := run(b, digits)
		if rb == "" { // a segment of another kind: numbers are newer
			if digits {
				return 1
			}
			return -1
		}
		if digits {
			ra, rb = strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(ra) != len(rb) {
				return cmp.Compare(len(ra), len(rb))
			}
		}
		if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
		a, b = restA, restB
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func sep(r rune) bool {
	return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '~')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func run(s string, digits bool) (string, string) {
	i := 0
	for i < len(s) && !sep(rune(s[i])) && s[i] != '~' && isDigit(s[i]) == digits {
		i++
	}
	return s[:i], s[i:]
}
