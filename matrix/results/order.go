package results

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/runmatrix/runmatrix/kernels"
)

// Version is the kernel's upstream version as numbers, for ordering:
// Debian's package version where there is one (its ABI, 6.1.0-57, hides
// the upstream 6.1.176), else the release the kernel reports.
func (k Kernel) Version() []int {
	s := k.Release
	if s == "" {
		s = k.ImageRelease
	}
	if v := k.Origin.PackageVersion; v != "" {
		if _, rest, ok := strings.Cut(v, ":"); ok {
			v = rest
		}
		s = v
	}
	var out []int
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' }) {
		n := 0
		digits := 0
		for digits < len(part) && part[digits] >= '0' && part[digits] <= '9' {
			n = n*10 + int(part[digits]-'0')
			digits++
		}
		if digits == 0 {
			break
		}
		out = append(out, n)
		if digits < len(part) {
			break // "57-amd64", "57+deb13": the version ends here
		}
	}
	return out
}

// VersionString is Version written out, "6.1.176".
func (k Kernel) VersionString() string {
	var parts []string
	for _, n := range k.Version() {
		parts = append(parts, strconv.Itoa(n))
	}
	if len(parts) == 0 {
		return k.Ref
	}
	return strings.Join(parts, ".")
}

// Origin kinds, for labels and lineages.
func (k Kernel) originKind() string {
	if r, err := kernels.ParseRef(k.Ref); err == nil && r.Kind == kernels.KindMainline {
		return "mainline" // packaged as .debs, but upstream's line, not Debian's
	}
	switch {
	case k.Origin.Package != "":
		return "debian"
	case k.Origin.URL != "":
		return "url"
	case k.Origin.File != "":
		return "file"
	}
	if r, err := kernels.ParseRef(k.Ref); err == nil {
		return string(r.Kind)
	}
	return "file"
}

// Lineage names the line of builds a kernel belongs to: one origin and
// series (Debian's 6.1 builds), or "" when unknown (local files, URLs),
// which are taken in version order as given.
func (k Kernel) Lineage() string {
	switch k.originKind() {
	case "mainline":
		return "mainline" // upstream's tags are one line of history
	case "debian":
	default:
		return ""
	}
	v := k.Version()
	if len(v) < 2 {
		return "debian"
	}
	return fmt.Sprintf("debian %d.%d", v[0], v[1])
}

// Label is a short column title: the version, the arch when it is not
// x86_64, and a short origin ("6.12.57 (debian)", "3.16.4 (file tinycore64)").
func (k Kernel) Label() string {
	l := k.VersionString()
	if k.Arch != "" && k.Arch != kernels.ArchX86_64 {
		l += " " + k.Arch
	}
	origin := k.originKind()
	if origin != "debian" && origin != "mainline" {
		rel := k.Release
		if rel == "" {
			rel = k.ImageRelease
		}
		// What follows the version in the release names the build, less
		// the build numbers ("3.4.9-1-fbcondecor": fbcondecor).
		flavour := strings.TrimLeft(strings.TrimPrefix(rel, k.VersionString()), "-+._")
		for {
			head, rest, ok := strings.Cut(flavour, "-")
			if !ok || strings.Trim(head, "0123456789") != "" {
				break
			}
			flavour = rest
		}
		if flavour == "" && origin == "file" {
			flavour = filepath.Base(k.Ref)
		}
		if flavour != "" {
			origin += " " + flavour
		}
	}
	return l + " (" + origin + ")"
}

// Less orders kernels by version, then arch, then origin, then reference.
func Less(a, b Kernel) bool {
	va, vb := a.Version(), b.Version()
	for i := 0; i < len(va) && i < len(vb); i++ {
		if va[i] != vb[i] {
			return va[i] < vb[i]
		}
	}
	if len(va) != len(vb) {
		return len(va) < len(vb)
	}
	if a.Arch != b.Arch {
		return a.Arch < b.Arch
	}
	if a.originKind() != b.originKind() {
		return a.originKind() < b.originKind()
	}
	return a.Ref < b.Ref
}

// SortKernels puts kernels in version order.
func SortKernels(ks []Kernel) {
	sort.SliceStable(ks, func(i, j int) bool { return Less(ks[i], ks[j]) })
}

// Run is a stretch of kernels, in version order, that gave one outcome.
type Run struct {
	Outcome string   `json:"outcome"`
	Kernels []string `json:"kernels"` // references
	First   string   `json:"first"`   // label of the first kernel
	Last    string   `json:"last"`    // label of the last kernel
}

// Transition is where a row's outcome changes along the version order.
type Transition struct {
	Case    string `json:"case"`
	Profile string `json:"profile"`
	Runs    []Run  `json:"runs"`
	// Returns marks a row whose outcome changes and later comes back to an
	// earlier one (A → B → A): not one boundary, however the kernels are
	// bisected.
	Returns bool `json:"returns,omitempty"`
}

// Text writes the runs as "EPIPE ≤ 3.4.9 │ EOPNOTSUPP 3.6.2 │ sendto=5 ≥ 3.16.4".
func (t Transition) Text() string {
	var parts []string
	for i, r := range t.Runs {
		var where string
		switch {
		case i == 0:
			where = "≤ " + r.Last
		case i == len(t.Runs)-1:
			where = "≥ " + r.First
		case r.First == r.Last:
			where = r.First
		default:
			where = r.First + "–" + r.Last
		}
		parts = append(parts, r.Outcome+" "+where)
	}
	return strings.Join(parts, " │ ")
}

// FindTransitions finds, for each row (case × profile), the runs of equal
// outcomes in version order. Cells that did not run are left out: they
// never make a boundary. Rows with a single run are omitted.
func (r *Results) FindTransitions() []Transition {
	type row struct {
		key   Key
		cells []*Result
	}
	rows := map[[2]string]*row{}
	var order [][2]string
	for i := range r.Cells {
		c := &r.Cells[i]
		k := [2]string{c.Case, c.Profile}
		if _, ok := rows[k]; !ok {
			rows[k] = &row{key: c.Key}
			order = append(order, k)
		}
		rows[k].cells = append(rows[k].cells, c)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i][0] != order[j][0] {
			return order[i][0] < order[j][0]
		}
		return order[i][1] < order[j][1]
	})
	var out []Transition
	for _, k := range order {
		cells := rows[k].cells
		sort.SliceStable(cells, func(i, j int) bool { return Less(cells[i].KernelInfo, cells[j].KernelInfo) })
		t := Transition{Case: k[0], Profile: k[1]}
		seen := map[string]bool{}
		for _, c := range cells {
			if !c.Comparable() {
				continue
			}
			text, label := c.Text(), c.KernelInfo.Label()
			if n := len(t.Runs); n > 0 && t.Runs[n-1].Outcome == text {
				t.Runs[n-1].Kernels = append(t.Runs[n-1].Kernels, c.Kernel)
				t.Runs[n-1].Last = label
				continue
			}
			if seen[text] {
				t.Returns = true
			}
			seen[text] = true
			t.Runs = append(t.Runs, Run{Outcome: text, Kernels: []string{c.Kernel}, First: label, Last: label})
		}
		if len(t.Runs) > 1 {
			out = append(out, t)
		}
	}
	return out
}
