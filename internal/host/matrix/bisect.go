package matrix

import (
	"context"
	"fmt"
)

// Measured is one kernel's outcome for the bisected cell.
type Measured struct {
	// Text is the outcome as the table shows it.
	Text string
	// Ran is false when the kernel could not run the cell (boot failure,
	// missing profile): it is passed over, never a boundary.
	Ran bool
}

// FlakyError stops a bisection: a kernel's repetitions disagreed, so no
// boundary next to it can be trusted.
type FlakyError struct {
	Kernel string
	Text   string
}

func (e *FlakyError) Error() string {
	return fmt.Sprintf("%s is flaky for this cell (%s): a bisection needs a stable outcome; look at it with run --repeat, or leave it out", e.Kernel, e.Text)
}

// Boundary is a pair of neighbouring kernels (in version order, among
// those that ran) whose outcomes differ; both were measured.
type Boundary struct {
	Before, After         int
	BeforeText, AfterText string
}

// Gap is a stretch between two measured kernels with the same outcome whose
// inside was not measured: assumed unchanged.
type Gap struct {
	From, To int
	Inside   int
}

// Bisection is what a bisection found over kernels 0..n-1 in version order.
type Bisection struct {
	Boundaries []Boundary
	// Returns is set when an outcome comes back after a change (A → B → A):
	// the behaviour does not change once along the range.
	Returns bool
	// Gaps are the stretches assumed unchanged.
	Gaps []Gap
	// Skipped are kernels that could not run the cell.
	Skipped []int
	// Measured maps each kernel measured to its outcome.
	Measured map[int]Measured
}

// Bisect finds where the outcome changes among n kernels in version order,
// measuring about log2(n) of them. measure boots kernel i (or reads it
// from an earlier run). With all set it finds every boundary it can see;
// otherwise it stops at the first. A stretch whose two ends agree is
// probed once at its middle, so a change that comes back (A → B → A) is
// found when the middle falls in it, and otherwise reported as a gap.
func Bisect(ctx context.Context, n int, all bool, measure func(ctx context.Context, i int) (Measured, error)) (*Bisection, error) {
	b := &Bisection{Measured: map[int]Measured{}}
	get := func(i int) (Measured, error) {
		if m, ok := b.Measured[i]; ok {
			return m, nil
		}
		m, err := measure(ctx, i)
		if err != nil {
			return m, err
		}
		b.Measured[i] = m
		if !m.Ran {
			b.Skipped = append(b.Skipped, i)
		}
		return m, nil
	}
	// ran returns the nearest kernel at or after (dir=1) or before (dir=-1)
	// i that ran, within [lo,hi], or -1.
	ran := func(i, lo, hi, dir int) (int, error) {
		for ; i >= lo && i <= hi; i += dir {
			m, err := get(i)
			if err != nil {
				return -1, err
			}
			if m.Ran {
				return i, nil
			}
		}
		return -1, nil
	}
	first, err := ran(0, 0, n-1, 1)
	if err != nil || first < 0 {
		return b, err
	}
	last, err := ran(n-1, first, n-1, -1)
	if err != nil {
		return b, err
	}
	done := false
	// mayProbe says whether a stretch whose ends agree gets one boot at its
	// middle: the whole range does (else nothing could be found), and with
	// all so do the halves of a stretch whose ends differ; the halves of an
	// already probed stretch do not.
	var search func(lo, hi int, mayProbe bool) error
	search = func(lo, hi int, mayProbe bool) error {
		if done || hi-lo < 1 {
			return nil
		}
		a, z := b.Measured[lo], b.Measured[hi]
		if hi-lo == 1 {
			if a.Text != z.Text {
				b.Boundaries = append(b.Boundaries, Boundary{Before: lo, After: hi, BeforeText: a.Text, AfterText: z.Text})
				done = !all
			}
			return nil
		}
		if a.Text == z.Text && !mayProbe {
			b.Gaps = append(b.Gaps, Gap{From: lo, To: hi, Inside: hi - lo - 1})
			return nil
		}
		mid := (lo + hi) / 2
		m, err := ran(mid, lo+1, hi-1, 1)
		if err != nil {
			return err
		}
		if m < 0 {
			if m, err = ran(mid-1, lo+1, hi-1, -1); err != nil {
				return err
			}
		}
		if m < 0 { // nothing inside ran: lo and hi are neighbours
			if a.Text != z.Text {
				b.Boundaries = append(b.Boundaries, Boundary{Before: lo, After: hi, BeforeText: a.Text, AfterText: z.Text})
				done = !all
			}
			return nil
		}
		probeHalves := all && a.Text != z.Text
		if err := search(lo, m, probeHalves); err != nil {
			return err
		}
		return search(m, hi, probeHalves)
	}
	if err := search(first, last, true); err != nil {
		return b, err
	}
	seen := map[string]bool{}
	for i, bd := range b.Boundaries {
		if i == 0 {
			seen[bd.BeforeText] = true
		}
		if seen[bd.AfterText] {
			b.Returns = true
		}
		seen[bd.AfterText] = true
	}
	return b, nil
}
