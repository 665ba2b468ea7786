package results

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
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
	sep := func(r rune) bool { return r == '.' }
	if o := k.originKind(); o == "rpm" || o == "ubuntu" {
		// RHEL's build number orders kernels of one upstream version:
		// 2.6.32-431.29.2.el6 is 2.6.32 431 29 2.
		sep = func(r rune) bool { return r == '.' || r == '-' }
	}
	var out []int
	for _, part := range strings.FieldsFunc(s, sep) {
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
	if r, err := kernels.ParseRef(k.Ref); err == nil && (r.Kind == kernels.KindMainline || r.Kind == kernels.KindOCI || r.Kind == kernels.KindRPM || r.Kind == kernels.KindUbuntu || r.Kind == kernels.KindAlpine) {
		return string(r.Kind) // mainline: packaged as .debs, but upstream's line, not Debian's
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
	case "oci":
		// One repository's tags are one line of builds (ci-kernels:6.1, :6.6…).
		if r, err := kernels.ParseRef(k.Ref); err == nil {
			return "oci " + r.Line
		}
		return ""
	case "alpine":
		return "alpine " + k.Origin.Package // linux-lts across releases
	case "ubuntu":
		// Ubuntu's builds of one upstream series are one line (4.15).
		if v := k.Version(); len(v) >= 2 {
			return fmt.Sprintf("ubuntu %d.%d", v[0], v[1])
		}
		return "ubuntu"
	case "rpm":
		// A distribution's major release is one line of builds (CentOS 6).
		if r, err := kernels.ParseRef(k.Ref); err == nil {
			f := strings.Fields(k.Origin.Suite)
			if len(f) > 0 {
				major, _, _ := strings.Cut(f[len(f)-1], ".")
				return r.Distro + " " + major
			}
			return r.Distro
		}
		return ""
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

// Label is a short, readable column title: the version, the arch when it
// is not x86_64, and where the kernel comes from ("6.12.57 Debian trixie",
// "2.6.32 Ubuntu file", "3.6.2 i686 Arch file", "6.8.0 mainline").
func (k Kernel) Label() string {
	l := k.VersionString()
	if k.Arch != "" && k.Arch != cpu.X86_64 {
		l += " " + k.Arch
	}
	origin := k.originKind()
	switch origin {
	case "debian":
		suite := k.Origin.Suite
		for _, s := range []string{"-security", "-updates", "-proposed-updates"} {
			suite = strings.TrimSuffix(suite, s)
		}
		return strings.TrimSpace(l + " Debian " + suite)
	case "mainline":
		return l + " mainline"
	case "ubuntu":
		// "4.15.0-20-generic Ubuntu 18.04 bionic-updates".
		abi := strings.TrimPrefix(strings.TrimPrefix(k.Origin.Package, "linux-image-"), "unsigned-")
		if k.Arch != "" && k.Arch != cpu.X86_64 {
			abi += " " + k.Arch
		}
		return strings.TrimSpace(abi + " " + k.Origin.Suite)
	case "rpm", "alpine":
		// "2.6.32-504 CentOS 6.6", "6.1.55-r0 Alpine 3.18": the
		// version-release less any dist tag.
		vr := rpmDistTag.ReplaceAllString(k.Origin.PackageVersion, "")
		if k.Arch != "" && k.Arch != cpu.X86_64 {
			vr += " " + k.Arch
		}
		return strings.TrimSpace(vr + " " + k.Origin.Suite)
	}
	rel := k.Release
	if rel == "" {
		rel = k.ImageRelease
	}
	who := k.Distribution()
	if who == "" {
		// What follows the version in the release names the build, less
		// the build numbers ("3.4.9-1-fbcondecor": fbcondecor).
		who = strings.TrimLeft(strings.TrimPrefix(rel, k.VersionString()), "-+._")
		for {
			head, rest, ok := strings.Cut(who, "-")
			if !ok || strings.Trim(head, "0123456789") != "" {
				break
			}
			who = rest
		}
	}
	if who == "" && origin == "file" {
		who = filepath.Base(k.Ref)
	}
	if who != "" {
		l += " " + who
	}
	return l + " " + origin
}

// Distribution guesses who built a kernel that came as a file or URL from
// what it says of itself (uname -r and -v, the image's version string):
// "Ubuntu", "Debian", "CentOS/RHEL", "Fedora", "Arch", "RancherOS", or "".
func (k Kernel) Distribution() string {
	rel := k.Release
	if rel == "" {
		rel = k.ImageRelease
	}
	says := rel + " " + k.UnameVersion + " " + k.ImageVersion
	switch {
	case strings.Contains(says, "Ubuntu"):
		return "Ubuntu"
	case strings.Contains(says, "Debian"):
		return "Debian"
	case elRelease.MatchString(rel):
		return "CentOS/RHEL"
	case fcRelease.MatchString(rel):
		return "Fedora"
	case strings.HasSuffix(rel, "-ARCH") || strings.Contains(rel, ".arch"):
		return "Arch"
	case strings.Contains(strings.ToLower(rel), "rancher"):
		return "RancherOS"
	}
	return ""
}

var (
	rpmDistTag = regexp.MustCompile(`\.(el|fc)[0-9].*$`)
	elRelease  = regexp.MustCompile(`\.el[0-9]+`)
	fcRelease  = regexp.MustCompile(`\.fc[0-9]+`)
)

// ArchFamily is the architecture as far as comparing kernels goes: the
// image's "i386" and the guest's "i686" are one.
func (k Kernel) ArchFamily() string {
	switch k.Arch {
	case "i386", "i486", "i586", "i686":
		return cpu.I386
	case "":
		return cpu.X86_64
	}
	return k.Arch
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
	// Sysctls are the values of the row's varying sysctls over the run
	// ("0", or "0/1" where they vary inside it).
	Sysctls map[string]string `json:"sysctls,omitempty"`
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
	// Sysctls are the sysctls the case depends on whose values differ
	// across the row's kernels: cells and runs show them.
	Sysctls []string `json:"sysctls,omitempty"`
	// Notes say where a boundary coincides with a change of such a
	// sysctl (a changed default), so it is not read as changed code.
	Notes []string `json:"notes,omitempty"`
}

// Text writes the runs as "EPIPE ≤ 3.4.9 │ EOPNOTSUPP 3.6.2 │ sendto=5 ≥ 3.16.4".
func (t Transition) Text() string {
	var parts []string
	for i, r := range t.Runs {
		outcome := r.Outcome
		if s := r.SysctlText(); s != "" {
			outcome += " " + s
		}
		parts = append(parts, outcome+" "+Where(t.Runs, i))
	}
	return strings.Join(parts, " │ ")
}

// Where says which kernels run i of runs covers, in version order: "≤ X"
// for the first, "≥ Y" for the last, "X" or "X–Y" between.
func Where(runs []Run, i int) string {
	r := runs[i]
	switch {
	case i == 0:
		return "≤ " + r.Last
	case i == len(runs)-1:
		return "≥ " + r.First
	case r.First == r.Last:
		return r.First
	}
	return r.First + "–" + r.Last
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
		t := Transition{Case: k[0], Profile: k[1], Sysctls: varyingSysctls(r.caseSysctls(k[0]), cells)}
		seen := map[string]bool{}
		var runCells [][]*Result
		var prev *Result
		for _, c := range cells {
			if !c.Comparable() {
				continue
			}
			text, label := c.Behaviour(), c.KernelInfo.Label()
			if n := len(t.Runs); n > 0 && t.Runs[n-1].Outcome == text {
				t.Runs[n-1].Kernels = append(t.Runs[n-1].Kernels, c.Kernel)
				t.Runs[n-1].Last = label
				runCells[n-1] = append(runCells[n-1], c)
				prev = c
				continue
			}
			if seen[text] {
				t.Returns = true
			}
			seen[text] = true
			if prev != nil {
				t.Notes = append(t.Notes, SysctlNotes(t.Sysctls, k[1], prev, c)...)
				if a, b := prev.KernelInfo.ArchFamily(), c.KernelInfo.ArchFamily(); a != b {
					t.Notes = append(t.Notes, fmt.Sprintf("between %s and %s: the architecture changes too (%s → %s), so the difference may be the architecture's", prev.KernelInfo.Label(), label, a, b))
				}
			}
			t.Runs = append(t.Runs, Run{Outcome: text, Kernels: []string{c.Kernel}, First: label, Last: label})
			runCells = append(runCells, []*Result{c})
			prev = c
		}
		for i := range t.Runs {
			t.Runs[i].Sysctls = runSysctls(t.Sysctls, runCells[i])
		}
		if len(t.Runs) > 1 {
			out = append(out, t)
		}
	}
	return out
}
