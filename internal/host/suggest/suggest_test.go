package suggest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"tfo", "tof", 2}, {"débian", "debian", 1}} {
		require.Equal(t, tc.d, distance(tc.a, tc.b), "%s %s", tc.a, tc.b)
		require.Equal(t, tc.d, distance(tc.b, tc.a), "%s %s", tc.b, tc.a)
	}
}

func TestClosest(t *testing.T) {
	ids := []string{"tfo.sendto.blocking", "tfo.sendto.nonblocking", "linger0.reset", "tfo.*", "reconnect.*"}
	for _, tc := range []struct {
		word, want string
		ok         bool
	}{
		{"tfo.sendot.blocking", "tfo.sendto.blocking", true},
		{"linger.reset", "linger0.reset", true},
		{"tof.*", "tfo.*", true},
		{"reconect.*", "reconnect.*", true},
		{"something.else.entirely", "", false},
		{"x", "", false},
	} {
		got, ok := Closest(tc.word, ids)
		require.Equal(t, tc.ok, ok, tc.word)
		require.Equal(t, tc.want, got, tc.word)
	}
	require.Equal(t, " (did you mean debian:?)", Hint("debain:", []string{"debian:", "mainline:"}))
	require.Empty(t, Hint("zzzzzz:", []string{"debian:", "mainline:"}))
}
