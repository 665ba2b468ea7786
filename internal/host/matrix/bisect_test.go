package matrix

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBisect(t *testing.T) {
	for _, tc := range []struct {
		name       string
		outcomes   string // one letter per kernel in version order; '-' could not run
		all        bool
		boundaries [][2]int
		returns    bool
		maxBoots   int
	}{
		{name: "one change", outcomes: "AAAAAAAAABBBBBB", boundaries: [][2]int{{8, 9}}, maxBoots: 6},
		{name: "no change", outcomes: "AAAAAAAA", boundaries: nil, maxBoots: 3},
		{name: "change at the start", outcomes: "ABBBBBBB", boundaries: [][2]int{{0, 1}}, maxBoots: 5},
		{name: "first of two changes", outcomes: "AAABBBCCC", boundaries: [][2]int{{2, 3}}, maxBoots: 6},
		{name: "every change", outcomes: "AAABBBCCC", all: true, boundaries: [][2]int{{2, 3}, {5, 6}}, maxBoots: 9},
		{name: "a change that comes back", outcomes: "AABBBBAAA", all: true, boundaries: [][2]int{{1, 2}, {5, 6}}, returns: true, maxBoots: 9},
		{name: "every change, long range", outcomes: "AAAAAAAAAABBBBBBBBBBBBBBBBBBBBBB", all: true, boundaries: [][2]int{{9, 10}}, maxBoots: 14},
		{name: "one change, long range", outcomes: "AAAAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", boundaries: [][2]int{{9, 10}}, maxBoots: 9},
		{name: "kernels that cannot run are passed over", outcomes: "AA-A--BB", all: true, boundaries: [][2]int{{3, 6}}, maxBoots: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boots := 0
			b, err := Bisect(context.Background(), len(tc.outcomes), tc.all, func(_ context.Context, i int) (Measured, error) {
				boots++
				c := tc.outcomes[i]
				return Measured{Text: string(c), Ran: c != '-'}, nil
			})
			require.NoError(t, err)
			var got [][2]int
			for _, bd := range b.Boundaries {
				got = append(got, [2]int{bd.Before, bd.After})
				require.Equal(t, string(tc.outcomes[bd.Before]), bd.BeforeText, "both sides measured")
				require.Equal(t, string(tc.outcomes[bd.After]), bd.AfterText)
			}
			require.Equal(t, tc.boundaries, got)
			require.Equal(t, tc.returns, b.Returns)
			require.LessOrEqual(t, boots, tc.maxBoots)
			require.Equal(t, boots, len(b.Measured), "no kernel is booted twice")
		})
	}
}

func TestBisectStopsOnAFlakyKernel(t *testing.T) {
	_, err := Bisect(context.Background(), 8, false, func(_ context.Context, i int) (Measured, error) {
		if i == 3 {
			return Measured{}, &FlakyError{Kernel: "k3", Text: "x=1 (2/3, flaky)"}
		}
		return Measured{Text: map[bool]string{true: "A", false: "B"}[i < 5], Ran: true}, nil
	})
	var fe *FlakyError
	require.ErrorAs(t, err, &fe)
}
