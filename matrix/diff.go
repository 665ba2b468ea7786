package matrix

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// CellKey names a cell across runs: the same case and profile on the same
// kernel release (references such as debian:6.1 move between releases).
type CellKey struct {
	Case    string `json:"case"`
	Profile string `json:"profile"`
	Release string `json:"release"`
}

func keyOf(c CellResult) CellKey {
	rel := c.Kernel.Release
	if rel == "" {
		rel = c.Kernel.Ref // a kernel that never booted has no release
	}
	return CellKey{Case: c.Case, Profile: c.Profile, Release: rel}
}

// Change is a cell whose outcome differs between two runs.
type Change struct {
	CellKey
	Base string `json:"base"`
	New  string `json:"new"`
}

// Diff is what changed between a base and a new run.
type Diff struct {
	Changed []Change  `json:"changed"`
	Added   []CellKey `json:"added"`
	Missing []CellKey `json:"missing"`
}

// Empty reports whether the runs agree on every cell they share and have
// the same cells.
func (d *Diff) Empty() bool { return len(d.Changed)+len(d.Added)+len(d.Missing) == 0 }

// Compare diffs two result sets cell by cell.
func Compare(base, next *Results) *Diff {
	d := &Diff{Changed: []Change{}, Added: []CellKey{}, Missing: []CellKey{}}
	b := map[CellKey]*CellResult{}
	for i := range base.Cells {
		b[keyOf(base.Cells[i])] = &base.Cells[i]
	}
	seen := map[CellKey]bool{}
	for i := range next.Cells {
		n := &next.Cells[i]
		k := keyOf(*n)
		seen[k] = true
		old, ok := b[k]
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case CellText(old) != CellText(n):
			d.Changed = append(d.Changed, Change{CellKey: k, Base: CellText(old), New: CellText(n)})
		}
	}
	for k := range b {
		if !seen[k] {
			d.Missing = append(d.Missing, k)
		}
	}
	less := func(a, b CellKey) bool {
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Profile != b.Profile {
			return a.Profile < b.Profile
		}
		return a.Release < b.Release
	}
	sort.Slice(d.Changed, func(i, j int) bool { return less(d.Changed[i].CellKey, d.Changed[j].CellKey) })
	sort.Slice(d.Added, func(i, j int) bool { return less(d.Added[i], d.Added[j]) })
	sort.Slice(d.Missing, func(i, j int) bool { return less(d.Missing[i], d.Missing[j]) })
	return d
}

// RenderDiffMarkdown writes the diff for a bug tracker or PR comment.
func RenderDiffMarkdown(w io.Writer, d *Diff) error {
	if d.Empty() {
		_, err := fmt.Fprintln(w, "No cell changed: every case, profile and kernel release gave the same outcome.")
		return err
	}
	if len(d.Changed) > 0 {
		fmt.Fprintf(w, "## Changed (%d)\n\n| case | profile | kernel | base | new |\n|---|---|---|---|---|\n", len(d.Changed))
		for _, c := range d.Changed {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Case, c.Profile, c.Release, mdEscape(c.Base), mdEscape(c.New))
		}
		fmt.Fprintln(w)
	}
	for _, sec := range []struct {
		title string
		keys  []CellKey
	}{{"Added", d.Added}, {"Missing", d.Missing}} {
		if len(sec.keys) == 0 {
			continue
		}
		fmt.Fprintf(w, "## %s (%d)\n\n", sec.title, len(sec.keys))
		for _, k := range sec.keys {
			fmt.Fprintf(w, "- %s %s on %s\n", k.Case, k.Profile, k.Release)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// RenderDiffJSON writes the diff as JSON.
func RenderDiffJSON(w io.Writer, d *Diff) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// Merge joins result sets from shards of one plan into one. A cell present
// in two inputs is an error: shards never overlap.
func Merge(names []string, sets []*Results) (*Results, error) {
	out := &Results{Cells: []CellResult{}}
	from := map[string]string{}
	for i, s := range sets {
		if out.Spec == nil {
			out.Spec = s.Spec
		}
		for _, c := range s.Cells {
			k := c.Kernel.Ref + " " + c.Case + " " + c.Profile
			if prev, ok := from[k]; ok {
				return nil, fmt.Errorf("cell %s %s on %s is in both %s and %s: merge takes disjoint shards", c.Case, c.Profile, c.Kernel.Ref, prev, names[i])
			}
			from[k] = names[i]
			out.Cells = append(out.Cells, c)
		}
	}
	return out, nil
}
