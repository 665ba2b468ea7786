package results

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/runmatrix/runmatrix/testcases"
)

// Identity is which kernel a reference resolved to, as a diff names it:
// its release, and the package version or image digest that can change
// under one release (a rebuild).
func (k Kernel) Identity() string {
	id := k.Release
	if id == "" {
		id = k.ImageRelease
	}
	switch {
	case k.Origin.PackageVersion != "":
		id += " (" + k.Origin.Package + " " + k.Origin.PackageVersion + ")"
	case len(k.Origin.SHA256) >= 12:
		id += " (image sha256 " + k.Origin.SHA256[:12] + ")"
	}
	return id
}

// Change is a cell whose outcome differs between two runs.
type Change struct {
	Key
	Base string `json:"base"`
	New  string `json:"new"`
}

// Moved is a kernel reference that resolved to another kernel in the new
// run than in the base (debian:6.12 from 6.12.118-1 to 6.12.119-1).
type Moved struct {
	Kernel string `json:"kernel"`
	Base   string `json:"base"`
	New    string `json:"new"`
}

// Diff is what changed between a base and a new run. Cells are matched by
// what the user asked for (case, profile, kernel reference); a reference
// that resolved to another kernel is in Moved, and its cells are compared
// as any others.
type Diff struct {
	Moved   []Moved  `json:"moved"`
	Changed []Change `json:"changed"`
	// Added and Missing are cells only the new or only the base run has.
	Added   []Key `json:"added"`
	Missing []Key `json:"missing"`
}

// Empty reports whether the runs agree on every cell they share and have
// the same cells.
func (d *Diff) Empty() bool { return len(d.Changed)+len(d.Added)+len(d.Missing) == 0 }

// Compare diffs two result sets cell by cell.
func Compare(base, next *Results) *Diff {
	d := &Diff{Moved: []Moved{}, Changed: []Change{}, Added: []Key{}, Missing: []Key{}}
	b := map[Key]*Result{}
	for i := range base.Cells {
		b[base.Cells[i].Key] = &base.Cells[i]
	}
	seen := map[Key]bool{}
	moved := map[string]bool{}
	for i := range next.Cells {
		n := &next.Cells[i]
		k := n.Key
		seen[k] = true
		old, ok := b[k]
		if !ok {
			d.Added = append(d.Added, k)
			continue
		}
		if o, nw := old.KernelInfo.Identity(), n.KernelInfo.Identity(); o != nw && o != "" && nw != "" && !moved[k.Kernel] {
			moved[k.Kernel] = true
			d.Moved = append(d.Moved, Moved{Kernel: k.Kernel, Base: o, New: nw})
		}
		if old.Text() != n.Text() {
			d.Changed = append(d.Changed, Change{Key: k, Base: old.Text(), New: n.Text()})
		}
	}
	for k := range b {
		if !seen[k] {
			d.Missing = append(d.Missing, k)
		}
	}
	sort.Slice(d.Moved, func(i, j int) bool { return d.Moved[i].Kernel < d.Moved[j].Kernel })
	sort.Slice(d.Changed, func(i, j int) bool { return less(d.Changed[i].Key, d.Changed[j].Key) })
	sort.Slice(d.Added, func(i, j int) bool { return less(d.Added[i], d.Added[j]) })
	sort.Slice(d.Missing, func(i, j int) bool { return less(d.Missing[i], d.Missing[j]) })
	return d
}

func less(a, b Key) bool {
	if a.Case != b.Case {
		return a.Case < b.Case
	}
	if a.Profile != b.Profile {
		return a.Profile < b.Profile
	}
	return a.Kernel < b.Kernel
}

// MergeError is a merge refused because its inputs do not belong together.
type MergeError struct{ Msg string }

func (e *MergeError) Error() string { return e.Msg }

// Merge joins result sets from shards of one plan into one. Inputs of
// another format or another plan (spec) are refused unless force is set; a
// cell present in two inputs is kept once when they agree and refused
// (reported) when they do not.
func Merge(names []string, sets []*Results, force bool) (*Results, error) {
	out := &Results{Format: Format, Cells: []Result{}}
	from := map[Key]int{}
	for i, s := range sets {
		if !force && s.Format != sets[0].Format {
			return nil, &MergeError{fmt.Sprintf("%s is results format %d, %s format %d: merge results of one runmatrix version, or pass --force", names[i], s.Format, names[0], sets[0].Format)}
		}
		if !force && !sameSpec(s, sets[0]) {
			return nil, &MergeError{fmt.Sprintf("%s and %s come from different matrices (their specs differ): merge the shards of one plan, or pass --force", names[0], names[i])}
		}
		if out.Spec == nil {
			out.Spec = s.Spec
		}
		for _, c := range s.Cells {
			if j, ok := from[c.Key]; ok {
				prev := out.Cells[j]
				if prev.Text() != c.Text() {
					return nil, &MergeError{fmt.Sprintf("cell %s is in %s and %s with different outcomes (%q, %q): merge takes disjoint shards", c.Key, names[i], namesOf(names, sets, c.Key, i), prev.Text(), c.Text())}
				}
				continue
			}
			from[c.Key] = len(out.Cells)
			out.Cells = append(out.Cells, c)
		}
	}
	for _, s := range sets {
		out.Cases = append(out.Cases, s.Cases...)
	}
	out.Cases = uniqueCases(out.Cases)
	out.Transitions = out.FindTransitions()
	return out, nil
}

func namesOf(names []string, sets []*Results, k Key, before int) string {
	for i := 0; i < before; i++ {
		for _, c := range sets[i].Cells {
			if c.Key == k {
				return names[i]
			}
		}
	}
	return "?"
}

func sameSpec(a, b *Results) bool {
	if a.Spec == nil || b.Spec == nil {
		return true
	}
	x, y := *a.Spec, *b.Spec
	x.Source, y.Source = "", ""
	return reflect.DeepEqual(x, y)
}

// uniqueCases keeps the first definition of each case, in ID order.
func uniqueCases(cs []testcases.Case) []testcases.Case {
	seen := map[string]bool{}
	var out []testcases.Case
	for _, c := range cs {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
