package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runmatrix/runmatrix/matrix/results"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Table is the comparison: rows are case × profile, columns are kernels.
type Table struct {
	Columns []results.Kernel
	Rows    []Row
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
	if r.Spec != nil {
		pos := map[string]int{}
		for i, k := range r.Spec.Kernels {
			if _, ok := pos[k]; !ok {
				pos[k] = i
			}
		}
		sort.SliceStable(t.Columns, func(i, j int) bool {
			pi, iok := pos[t.Columns[i].Ref]
			pj, jok := pos[t.Columns[j].Ref]
			return iok && (!jok || pi < pj)
		})
		for i, c := range t.Columns {
			col[c.Ref] = i
		}
	}
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
	for _, k := range keys {
		row := rows[k]
		seen := map[string]bool{}
		for _, c := range row.Cells {
			if c == nil {
				continue
			}
			// Only cells that ran are kernel behaviour: one that could not
			// run never makes a row differ.
			if c.Ran() && c.Outcome.Status != outcome.ProfileUnavailable {
				seen[c.Text()] = true
			}
			row.Mismatch = row.Mismatch || c.Failed()
		}
		row.Differs = len(seen) > 1
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

// ColumnTitle names a kernel column: its reference and the release it ran.
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
	return b.String()
}
