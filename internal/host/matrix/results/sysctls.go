package results

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runmatrix/runmatrix/testcases"
)

// absent is how the agent records a sysctl the kernel does not have.
const absent = "absent"

// caseSysctls are the sysctls a cell's case depends on, from its
// definition (Results.Case).
func (r *Results) caseSysctls(caseID string) []string {
	if c, ok := r.Case(caseID); ok {
		return c.Sysctls
	}
	return nil
}

// sysctl is the value of name in force while the cell ran, "absent" when
// the kernel lacks it, "" when it was not recorded.
func (c *Result) sysctl(name string) string {
	if c == nil {
		return ""
	}
	return c.Outcome.Sysctls[name]
}

// shortSysctl is a sysctl's last component, as cells show it.
func shortSysctl(name string) string { return name[strings.LastIndex(name, ".")+1:] }

// SysctlText shows the values of names in force while the cell ran, as
// "[tcp_fastopen=0]" or "[no tcp_fastopen]"; "" when none was recorded.
func (c *Result) SysctlText(names []string) string { return formatSysctls(names, c.sysctl) }

// TextWith is Text with the values of names beside it.
func (c *Result) TextWith(names []string) string {
	if c == nil || !c.Ran() {
		return c.Text()
	}
	if s := c.SysctlText(names); s != "" {
		return c.Behaviour() + " " + s
	}
	return c.Text()
}

// varyingSysctls returns the names among declared whose recorded values
// differ across the cells that ran.
func varyingSysctls(declared []string, cells []*Result) []string {
	var out []string
	for _, n := range declared {
		seen := map[string]bool{}
		for _, c := range cells {
			if c.Comparable() {
				if v := c.sysctl(n); v != "" {
					seen[v] = true
				}
			}
		}
		if len(seen) > 1 {
			out = append(out, n)
		}
	}
	return out
}

// SysctlNotes says where two neighbouring cells of a row ran under
// different values of a sysctl the case depends on, so that a changed
// default is not read as changed code: "the default of
// net.ipv4.tcp_fastopen changed here: 0 → 1; run with --profile tfo=1 to
// compare the same setting".
func SysctlNotes(names []string, profile string, a, b *Result) []string {
	var notes []string
	for _, n := range names {
		va, vb := a.sysctl(n), b.sysctl(n)
		if va == vb || va == "" || vb == "" {
			continue
		}
		where := fmt.Sprintf("between %s and %s", a.KernelInfo.Label(), b.KernelInfo.Label())
		switch {
		case va == absent:
			notes = append(notes, fmt.Sprintf("%s: %s has no %s, %s has it (%s)", where, a.KernelInfo.Label(), n, b.KernelInfo.Label(), vb))
		case vb == absent:
			notes = append(notes, fmt.Sprintf("%s: %s has no %s, %s has it (%s)", where, b.KernelInfo.Label(), n, a.KernelInfo.Label(), va))
		case profileSets(profile, n):
			notes = append(notes, fmt.Sprintf("%s: %s read %s → %s although profile %s sets it", where, n, va, vb, profile))
		default:
			notes = append(notes, fmt.Sprintf("%s: the default of %s changed here: %s → %s; %s", where, n, va, vb, sameSetting(n, vb)))
		}
	}
	return notes
}

// profileSets reports whether the named profile sets the sysctl.
func profileSets(profile, name string) bool {
	p, err := testcases.ParseProfile(profile)
	if err != nil {
		return false
	}
	_, ok := p.Sysctls[name]
	return ok
}

// sameSetting says how to compare kernels under one value of the sysctl.
func sameSetting(name, v string) string {
	if name == testcases.SysctlTCPFastOpen {
		return "run with --profile tfo=" + v + " to compare the same setting"
	}
	return "compare the kernels under the same value of " + name + " before reading this as a change of code"
}

// runSysctls is the values of names over a run's cells: one value, or the
// distinct ones in order ("0/1").
func runSysctls(names []string, cells []*Result) map[string]string {
	if len(names) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, n := range names {
		var vals []string
		seen := map[string]bool{}
		for _, c := range cells {
			v := c.sysctl(n)
			if v != "" && !seen[v] {
				seen[v] = true
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			out[n] = strings.Join(vals, "/")
		}
	}
	return out
}

// SysctlText writes the run's sysctl values as cells do,
// "[tcp_fastopen=0]", "[no tcp_fastopen]", or "[tcp_fastopen=none/0/1]"
// where they vary inside the run; "" when there are none.
func (r Run) SysctlText() string {
	names := make([]string, 0, len(r.Sysctls))
	for n := range r.Sysctls {
		names = append(names, n)
	}
	sort.Strings(names)
	return formatSysctls(names, func(n string) string { return r.Sysctls[n] })
}

// formatSysctls writes the values of names ("" skipped) as a cell or run
// shows them: "[tcp_fastopen=0]", "[no tcp_fastopen]", a run's several
// values "[tcp_fastopen=none/0/1]"; "" when there are none.
func formatSysctls(names []string, value func(string) string) string {
	var parts []string
	for _, n := range names {
		switch v := value(n); v {
		case "":
		case absent:
			parts = append(parts, "no "+shortSysctl(n))
		default:
			parts = append(parts, shortSysctl(n)+"="+strings.ReplaceAll(v, absent, "none"))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "[" + strings.Join(parts, " ") + "]"
}
