// Package suggest finds the known name closest to a mistyped one, for
// "did you mean" hints.
package suggest

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest returns the candidate nearest to word by edit distance, if one is
// near enough to be a typo of it (a third of its length in edits, at
// least 2 and at most 3); ties go to the earlier candidate.
func Closest(word string, candidates []string) (string, bool) {
	limit := min(max(2, len([]rune(word))/3), 3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == word {
			continue
		}
		if d := levenshtein.ComputeDistance(strings.ToLower(word), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best, best != ""
}

// Hint is " (did you mean X?)" for the candidate Closest finds, or "".
func Hint(word string, candidates []string) string {
	if c, ok := Closest(word, candidates); ok {
		return " (did you mean " + c + "?)"
	}
	return ""
}
