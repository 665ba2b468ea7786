package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Table is the comparison: rows are case × profile, columns are kernels.
type Table struct {
	Columns []results.Kernel
	Rows    []Row
	titles  []string
}

// Row is one case under one profile across the kernels.
type Row struct {
	Case    string
	Profile string
	// Cells has one entry per column; nil where the cell was not run.
	Cells []*results.Result
	// Differs marks rows whose kernels disagree.
	Differs bool
	// Mismatch marks rows with a failed expectation or a cell that could not run.
	Mismatch bool
	// Transition says where the outcome changes in version order, e.g.
	// "EPIPE ≤ 3.4.9 │ sendto=5 ≥ 3.6.2"; "" when it does not.
	Transition string
	// Returns marks an outcome that changes and comes back (A → B → A).
	Returns bool
	// Runs are the row's runs of equal outcomes in version order (empty
	// when the row does not differ).
	Runs []results.Run
	// Sysctls are the sysctls the case depends on whose values differ
	// across the row: each cell shows its values beside the outcome.
	Sysctls []string
	// Notes say where a boundary coincides with a changed sysctl.
	Notes []string
	// shade maps each comparable cell of a differing row to its outcome's
	// colour (0, 1, ... in version order of first appearance); -1 elsewhere.
	shade []int
	// boundary marks the cells whose outcome differs from the previous
	// comparable cell's.
	boundary []bool
}

// CellText is what cell i shows: its outcome, with the row's sysctls.
func (r Row) CellText(i int) string { return r.Cells[i].TextWith(r.Sysctls) }

// Shade is the colour index of cell i's outcome in a differing row (cells
// with the same outcome share one), or -1.
func (r Row) Shade(i int) int { return r.shade[i] }

// Boundary reports whether cell i is the first of a new outcome along the
// row, so renderers can draw the boundary.
func (r Row) Boundary(i int) bool { return r.boundary[i] }

// shadeRow assigns outcome colours and boundaries to a differing row.
func shadeRow(r *Row) {
	r.shade = make([]int, len(r.Cells))
	r.boundary = make([]bool, len(r.Cells))
	seen := map[string]int{}
	prev := ""
	for i, c := range r.Cells {
		r.shade[i] = -1
		if c == nil || !c.Comparable() || !r.Differs {
			continue
		}
		text := c.Behaviour()
		n, ok := seen[text]
		if !ok {
			n = len(seen)
			seen[text] = n
		}
		r.shade[i] = n
		r.boundary[i] = prev != "" && prev != text
		prev = text
	}
}

// NewTable builds the table; rows that differ across kernels come first,
// then the others, each group in case and profile order.
func NewTable(r *results.Results) *Table {
	t := &Table{}
	col := map[string]int{}
	for _, c := range r.Cells {
		if _, ok := col[c.Kernel]; !ok {
			col[c.Kernel] = len(t.Columns)
			t.Columns = append(t.Columns, c.KernelInfo)
		} else if t.Columns[col[c.Kernel]].Release == "" {
			t.Columns[col[c.Kernel]] = c.KernelInfo
		}
	}
	// Kernels in version order (then arch, then origin), not as given.
	results.SortKernels(t.Columns)
	for i, c := range t.Columns {
		col[c.Ref] = i
	}
	t.titles = titles(t.Columns)
	rows := map[string]*Row{}
	var keys []string
	for i := range r.Cells {
		c := &r.Cells[i]
		k := c.Case + "\x00" + c.Profile
		row, ok := rows[k]
		if !ok {
			row = &Row{Case: c.Case, Profile: c.Profile, Cells: make([]*results.Result, len(t.Columns))}
			rows[k] = row
			keys = append(keys, k)
		}
		row.Cells[col[c.Kernel]] = c
	}
	trans := map[[2]string]results.Transition{}
	for _, tr := range r.FindTransitions() {
		trans[[2]string{tr.Case, tr.Profile}] = tr
	}
	for _, k := range keys {
		row := rows[k]
		for _, c := range row.Cells {
			if c != nil {
				row.Mismatch = row.Mismatch || c.Failed()
			}
		}
		// Only cells that ran are kernel behaviour: one that could not run
		// never makes a row differ, nor a boundary.
		if tr, ok := trans[[2]string{row.Case, row.Profile}]; ok {
			row.Differs = true
			row.Transition = tr.Text()
			row.Returns = tr.Returns
			row.Runs, row.Sysctls, row.Notes = tr.Runs, tr.Sysctls, tr.Notes
		}
		shadeRow(row)
		t.Rows = append(t.Rows, *row)
	}
	sort.SliceStable(t.Rows, func(i, j int) bool {
		a, b := t.Rows[i], t.Rows[j]
		if a.Differs != b.Differs {
			return a.Differs
		}
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		return a.Profile < b.Profile
	})
	return t
}

// Title is column i's short title: the kernel's label, with its
// reference added where two columns would share one.
func (t *Table) Title(i int) string { return t.titles[i] }

func titles(cols []results.Kernel) []string {
	n := map[string]int{}
	for _, c := range cols {
		n[c.Label()]++
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Label()
		if n[out[i]] > 1 {
			out[i] += " " + c.Ref
		}
	}
	return out
}

// ColumnTitle names a kernel for JUnit suites: its reference and release.
func ColumnTitle(k results.Kernel) string {
	if k.Release == "" || k.Release == k.Ref {
		return k.Ref
	}
	return k.Ref + " (" + k.Release + ")"
}

// Trace renders a cell's steps one per line, as shown on hover or click.
func Trace(o outcome.Outcome) string {
	var b strings.Builder
	for _, s := range o.Steps {
		if s.Call == "go test" {
			fmt.Fprintf(&b, "%8.1fms go test %s: %s (%.2fs)\n", s.StartMS, s.Label, s.Detail, s.DurMS/1000)
			continue
		}
		var a []string
		for _, arg := range s.Args {
			a = append(a, arg.Name+"="+arg.Value)
		}
		ret := fmt.Sprint(s.Ret)
		if s.Errno != "" {
			ret += " " + s.Errno
		}
		for _, sig := range s.Signals {
			ret += " +" + sig
		}
		if s.Detail != "" {
			ret += "  [" + s.Detail + "]"
		}
		fd := s.Fd
		if len(a) > 0 {
			fd += ", " + strings.Join(a, ", ")
		}
		fmt.Fprintf(&b, "%8.1fms %-8s %s(%s) = %s\n", s.StartMS, s.Side, s.Call, fd, ret)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if o.Error != "" {
		fmt.Fprintf(&b, "%s: %s\n", o.Status, o.Error)
	}
	if o.Output != "" {
		b.WriteString("output:\n")
		for _, line := range strings.Split(strings.TrimRight(o.Output, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}
