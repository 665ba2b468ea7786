package testcases

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Case is one syscall sequence with a stable ID.
type Case struct {
	// ID is stable across releases; users select cases by glob on it.
	ID string
	// Title is the one-line purpose shown by `runmatrix cases list`.
	Title string
	// About says what the case reproduces, in one paragraph.
	About string
	// Source is where the behaviour comes from: a seed, man page or commit.
	Source string
	// Timeout bounds the case; the watchdog kills it after that.
	Timeout time.Duration
	// Expect are outcomes a source states for some kernels and profiles.
	// They are data for the table, never an input to the outcome.
	Expect []Expect
	// Sysctls names the sysctls (dotted, "net.ipv4.tcp_fastopen") whose
	// value may decide the outcome: each run records them, and where they
	// differ across kernels the results show them beside the outcome.
	Sysctls []string
	// Families are the address families the case runs over (IPv4, IPv6);
	// empty is IPv4 alone. A plan leaves out the cells of a family the
	// case does not name (its raw segments are IPv4's, say).
	Families []string `json:",omitempty"`
	// Fresh runs each cell of the case on a guest of its own, started from
	// the kernel's saved guest and stopped after it: for a case that
	// changes kernel state outside its network namespace (a global sysctl,
	// a module, a file), which no other cell may see. It costs a guest
	// start (about half a second under TCG) per cell.
	Fresh bool `json:",omitempty"`
	// Run makes the case's calls through t. An error means the harness
	// could not set the case up; kernel failures are steps, not errors.
	Run func(t *T) error `json:"-"`
}

// Expect is an outcome summary a source states for a kernel range.
type Expect struct {
	// Kernels is a version range such as "<3.6" or ">=3.7 <4.11"; "" is any.
	Kernels string `json:"kernels,omitempty"`
	// Profiles limits the expectation to these profiles; empty is any.
	Profiles []string `json:"profiles,omitempty"`
	// Arches limits the expectation to these `uname -m` values; empty is any.
	Arches []string `json:"arches,omitempty"`
	// Families limits the expectation to these address families; empty is
	// IPv4 alone (an outcome over IPv6 is claimed only where stated).
	Families []string `json:"families,omitempty"`
	// Lineage limits the expectation to one distribution's kernels, named
	// by the tag their release carries ("el6" for 2.6.32-504.el6.x86_64);
	// Kernels then compares the whole release, the distribution's build
	// numbers too (">=2.6.32-504"), so a backport is an expectation of its
	// own while the upstream range stays right for everyone else.
	Lineage string `json:"lineage,omitempty"`
	// Config limits the expectation to kernels built so: each entry is
	// "CONFIG_NAME=y", "=m", "=n" (not set) or "=value". Where the
	// kernel's configuration is not known the expectation is not judged.
	Config []string `json:"config,omitempty"`
	// Summary is the expected outcome summary.
	Summary string `json:"summary"`
	// Source is where the expectation comes from.
	Source string `json:"source"`
}

// KernelConfig is a kernel's build configuration: its options' values
// ("y", "m", a string), an option not set being absent. A nil
// KernelConfig is a configuration that is not known.
type KernelConfig map[string]string

// ParseKernelConfig reads a .config file's text.
func ParseKernelConfig(text string) KernelConfig {
	c := KernelConfig{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			c[k] = strings.Trim(v, `"`)
		}
	}
	return c
}

// Applies reports whether e covers this kernel release and arch (uname -r
// and uname -m) and profile. An expectation with Config covers no kernel
// here, whose configuration it is not told (see Covers).
func (e Expect) Applies(release, arch, profile string) (bool, error) {
	ok, _, err := e.Covers(release, arch, profile, nil)
	return ok, err
}

// Covers reports whether e covers a kernel (uname -r, uname -m, its
// configuration) under a profile; unknown is set when all but its Config
// matches and config is nil, so that it can be neither applied nor
// ruled out.
func (e Expect) Covers(release, arch, profile string, config KernelConfig) (ok, unknown bool, err error) {
	base, family := splitFamily(profile)
	families := e.Families
	if len(families) == 0 {
		families = []string{IPv4}
	}
	if !contains(e.Profiles, base) || !contains(e.Arches, arch) || !contains(families, family) {
		return false, false, nil
	}
	if e.Lineage != "" {
		if Lineage(release) != e.Lineage {
			return false, false, nil
		}
		if ok, err := inRange(BuildVersion(release), e.Kernels, true); !ok || err != nil {
			return false, false, err
		}
	} else if ok, err := InRange(release, e.Kernels); !ok || err != nil {
		return false, false, err
	}
	for _, want := range e.Config {
		name, value, _ := strings.Cut(want, "=")
		if config == nil {
			return false, true, nil
		}
		got, set := config[name]
		if value == "n" && set || value != "n" && got != value {
			return false, false, nil
		}
	}
	return true, false, nil
}

// CheckConfig refuses a Config entry that is not CONFIG_NAME=VALUE.
func (e Expect) CheckConfig() error {
	for _, want := range e.Config {
		name, value, ok := strings.Cut(want, "=")
		if !ok || !strings.HasPrefix(name, "CONFIG_") || value == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("expectation config %q: write CONFIG_NAME=y, =m, =n (not set) or =value", want)
		}
	}
	return nil
}

// contains reports whether list is empty (anything goes) or holds v.
func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return len(list) == 0
}

// Expected returns the expectation that covers the kernel and profile, if any.
func (c *Case) Expected(release, arch, profile string) (*Expect, error) {
	e, _, err := c.ExpectedWith(release, arch, profile, nil)
	return e, err
}

// ExpectedWith returns the first expectation that covers the kernel (its
// configuration too) and profile, if any; unknown is set when that first
// one needs the kernel's configuration and config is nil: it can be
// neither applied nor ruled out.
func (c *Case) ExpectedWith(release, arch, profile string, config KernelConfig) (e *Expect, unknown bool, err error) {
	for i := range c.Expect {
		ok, unknown, err := c.Expect[i].Covers(release, arch, profile, config)
		if err != nil {
			return nil, false, fmt.Errorf("case %s: %w", c.ID, err)
		}
		if ok || unknown {
			return &c.Expect[i], unknown, nil
		}
	}
	return nil, false, nil
}

// RunsOver reports whether the case runs over family (IPv4 or IPv6).
func (c *Case) RunsOver(family string) bool {
	if len(c.Families) == 0 {
		return family == IPv4
	}
	return contains(c.Families, family)
}

// ConfigOptions are the kernel options the expectations of cases name,
// sorted: what a run records of each kernel's configuration.
func ConfigOptions(cases []*Case) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cases {
		for _, e := range c.Expect {
			for _, want := range e.Config {
				if name, _, _ := strings.Cut(want, "="); !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// All returns every case in a stable order: the built-in cases, then the
// registered ones by ID.
func All() []*Case {
	var all []*Case
	all = append(all, builtin()...)
	all = append(all, registry.cases()...)
	return all
}

// builtin returns runmatrix's own cases, each over IPv4 and IPv6.
func builtin() []*Case {
	var all []*Case
	all = append(all, tfoCases()...)
	all = append(all, deferAcceptCases()...)
	all = append(all, reconnectCases()...)
	all = append(all, closeCases()...)
	all = append(all, flagCases()...)
	for _, c := range all {
		c.Families = []string{IPv4, IPv6}
	}
	return all
}

// Builtin reports whether id names one of runmatrix's own cases.
func Builtin(id string) bool {
	for _, c := range builtin() {
		if c.ID == id {
			return true
		}
	}
	return false
}

// Lookup returns the case with this ID.
func Lookup(id string) (*Case, error) {
	for _, c := range All() {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("unknown case %q (list them with `runmatrix cases list`)", id)
}

// NoMatchError is Select's error for a glob that matches no case. Known
// are what it may have meant (every ID, and prefixes such as "tfo.*"); a
// caller that can suggest one sets Hint (" (did you mean tfo.*?)"), which
// the message carries after the glob.
type NoMatchError struct {
	Glob  string
	Known []string
	Hint  string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("no case matches %q%s (list them with `runmatrix cases list`)", e.Glob, e.Hint)
}

// Select returns the cases whose IDs match any of the globs, in stable
// order. A glob that matches nothing is an error naming it.
func Select(globs []string) ([]*Case, error) { return SelectFrom(All(), globs) }

// SelectFrom is Select over the cases given instead of every registered
// one: all of them when globs is empty, in their order.
func SelectFrom(all []*Case, globs []string) ([]*Case, error) {
	if len(globs) == 0 {
		return all, nil
	}
	picked := map[string]bool{}
	for _, g := range globs {
		n := 0
		for _, c := range all {
			ok, err := path.Match(g, c.ID)
			if err != nil {
				return nil, fmt.Errorf("case glob %q: %w", g, err)
			}
			if ok {
				picked[c.ID] = true
				n++
			}
		}
		if n == 0 {
			return nil, &NoMatchError{Glob: g, Known: globsOf(all)}
		}
	}
	var out []*Case
	for _, c := range all {
		if picked[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

// globsOf returns what a case glob may have meant: every ID, and every
// ID's dotted prefixes followed by "*" ("tfo.*", "tfo.sendto.*").
func globsOf(cases []*Case) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cases {
		out = append(out, c.ID)
		for i, r := range c.ID {
			if r == '.' && !seen[c.ID[:i+1]] {
				seen[c.ID[:i+1]] = true
				out = append(out, c.ID[:i+1]+"*")
			}
		}
	}
	return out
}

// IDs returns the IDs of cases.
func IDs(cases []*Case) []string {
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return ids
}
