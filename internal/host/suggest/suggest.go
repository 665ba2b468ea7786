// Package suggest finds the known name closest to a mistyped one, for
// "did you mean" hints. It has no dependencies on purpose: the public
// testcases package uses it, so whatever it imports would land in the
// go.sum of every module that writes cases.
package suggest

import "strings"

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
		if d := distance(strings.ToLower(word), strings.ToLower(c)); d < bestD {
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

// distance is the Levenshtein edit distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
