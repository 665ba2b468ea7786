package matrix

import (
	"fmt"
	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"strconv"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases"
)

// Cell is one repetition of a case under a profile on a kernel.
type Cell = results.Cell

// Plan is the ordered list of cells a run measures, grouped by kernel so
// that each kernel boots once.
type Plan struct {
	Kernels []string
	Cells   []Cell
}

// NewPlan expands a spec into cells of the catalog's cases: kernels in
// spec order, then cases in the catalog's order, then profiles, then
// repetitions.
func NewPlan(s *spec.Spec, cat *catalog.Catalog) (*Plan, error) {
	cases, err := cat.Select(s.Cases)
	if err != nil {
		return nil, err
	}
	p := &Plan{Kernels: dedupe(append(append([]string{}, s.Kernels...), s.Optional...))}
	families := map[string]string{}
	for _, prof := range s.Profiles {
		pr, err := testcases.ParseProfile(prof)
		if err != nil {
			return nil, err
		}
		families[prof] = pr.Family
	}
	for _, k := range p.Kernels {
		for _, c := range cases {
			for _, prof := range dedupe(s.Profiles) {
				if !c.RunsOver(families[prof]) {
					continue // a case over IPv4 alone has no cell under an +ipv6 profile
				}
				for rep := 1; rep <= s.Repeat; rep++ {
					p.Cells = append(p.Cells, Cell{Key: results.Key{Kernel: k, Case: c.ID, Profile: prof}, Rep: rep})
				}
			}
		}
	}
	if len(p.Cells) == 0 && len(cases) > 0 && len(p.Kernels) > 0 {
		return nil, fmt.Errorf("no cell to run: the cases selected run over IPv4 alone, and every profile given is +ipv6")
	}
	return p, nil
}

// WithoutKernels returns the plan without the cells of the given kernels.
func (p *Plan) WithoutKernels(drop map[string]bool) *Plan {
	out := &Plan{}
	for _, k := range p.Kernels {
		if !drop[k] {
			out.Kernels = append(out.Kernels, k)
		}
	}
	for _, c := range p.Cells {
		if !drop[c.Kernel] {
			out.Cells = append(out.Cells, c)
		}
	}
	return out
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// ParseShard reads "I/N" (1 <= I <= N).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("shard %q: want I/N with 1 <= I <= N, e.g. 2/4", s)
	}
	return i, n, nil
}

// Shard returns the i-th of n deterministic slices of the plan (i from 1).
// Slices are contiguous runs of cells, so each shard boots few kernels,
// and together the n slices hold every cell exactly once.
func (p *Plan) Shard(i, n int) *Plan {
	lo, hi := (i-1)*len(p.Cells)/n, i*len(p.Cells)/n
	out := &Plan{Cells: append([]Cell(nil), p.Cells[lo:hi]...)}
	seen := map[string]bool{}
	for _, c := range out.Cells {
		if !seen[c.Kernel] {
			seen[c.Kernel] = true
			out.Kernels = append(out.Kernels, c.Kernel)
		}
	}
	return out
}

// Without returns the plan minus the cells that are done.
func (p *Plan) Without(done map[Cell]bool) *Plan {
	out := &Plan{}
	seen := map[string]bool{}
	for _, c := range p.Cells {
		if done[c] {
			continue
		}
		out.Cells = append(out.Cells, c)
		if !seen[c.Kernel] {
			seen[c.Kernel] = true
			out.Kernels = append(out.Kernels, c.Kernel)
		}
	}
	return out
}

// For returns the cells of kernel k, in plan order.
func (p *Plan) For(k string) []Cell {
	var out []Cell
	for _, c := range p.Cells {
		if c.Kernel == k {
			out = append(out, c)
		}
	}
	return out
}
