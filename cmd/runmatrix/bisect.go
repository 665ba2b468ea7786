package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/matrix/report"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/usergo"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/testcases"
)

func newBisectCmd() *cobra.Command {
	var (
		f      runFlags
		all    bool
		gotest string
		run    string
	)
	cmd := &cobra.Command{
		Use:   "bisect (--case ID | --gotest PKG --run RE | -- PROGRAM ARGS...) [--profile P] --kernel K --kernel K... [--all]",
		Short: "Find the first kernel whose outcome differs, booting about log2(N) of N kernels",
		Long: `Bisect one case under one profile over kernels in version order (as runmatrix
puts them, not as given) and report the boundary: the last kernel with the
first outcome and the first with another, both measured, with their outcomes
and traces. --all finds every boundary it can see; a stretch whose two ends
agree is probed once at its middle, so an outcome that changes and comes back
(A → B → A) is reported as such, never as one boundary.

All kernels of one architecture are bisected together in one version order,
whatever their origin; the answer names the lineages it crosses (Debian's
6.1 builds, mainline, files) and says when a boundary falls between two of
them, where a backport or a different build may explain the change as well
as upstream code. Behaviour need not change once along versions, so each
lineage with several kernels is also bisected on its own. Architectures are
never mixed: each is bisected apart, and one given alone is left out with a
line saying so. Where the two sides of a boundary ran under different values
of a sysctl the case depends on, the answer says so. Kernels that cannot run
the cell are passed over. A flaky kernel (--repeat N disagreeing) stops the
bisection. Cells stream to
OUT/results.jsonl like a run's, so --resume reuses them and they join any
results set.`,
		Args: programArgs(&f),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.program) > 0 && len(f.cases) == 0 {
				f.cases = []string{userprog.DefaultID(f.program[0])}
			}
			if gotest != "" {
				if err := bisectGoTest(cmd.Context(), &f, gotest, run); err != nil {
					return err
				}
			}
			return bisect(cmd.Context(), &f, all, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.gf.registerCells(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&f.cases, "case", nil, "the case ID to bisect")
	fl.StringArrayVar(&f.profiles, "profile", nil, "the sysctl profile (default \"default\")")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "a kernel of the range (repeatable, any order)")
	fl.Var(&repeatFlag{&f.repeat, &f.repeatSet}, "repeat", "measure each kernel N times; disagreeing repetitions stop the bisection")
	fl.StringVar(&f.out, "out", "", "output directory, journal and reports of the kernels measured (default: a new folder under ~/.local/state/runmatrix/runs, which runs/latest names; with --resume the newest)")
	fl.BoolVar(&f.resume, "resume", false, "reuse the cells already in --out")
	fl.BoolVarP(&all, "all", "a", false, "find every boundary, not only the first")
	f.registerCases(fl)
	fl.StringVar(&gotest, "gotest", "", "bisect a go test function of this package (with --run) instead of a case")
	fl.StringVar(&run, "run", "", "with --gotest: a regexp selecting exactly one test function, as go test -run")
	return cmd
}

// bisectGoTest makes the one test function --gotest and --run select the
// case to bisect.
func bisectGoTest(ctx context.Context, f *runFlags, pkg, run string) error {
	if len(f.cases) > 0 {
		return usage("give either --case or --gotest, not both")
	}
	var re *regexp.Regexp
	if run != "" {
		var err error
		if re, err = regexp.Compile(run); err != nil {
			return usage("--run %q: %v", run, err)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	ts, err := usergo.LoadTests(ctx, wd, []string{pkg}, re)
	if err != nil {
		return err
	}
	var rows []string
	for _, p := range ts.Packages {
		for _, t := range p.Tests {
			rows = append(rows, usergo.Row(p.ImportPath, t))
		}
	}
	if len(rows) != 1 {
		return usage("--gotest %s --run %q selects %d test functions: bisect takes one (for example --run '^TestName$')", pkg, run, len(rows))
	}
	ts.Timeout = 2 * time.Minute
	if err := f.user.addTests(ts); err != nil {
		return err
	}
	f.cases = rows
	f.gf.opts.CaseTimeout = max(f.gf.opts.CaseTimeout, ts.Timeout+30*time.Second)
	return nil
}

func bisect(ctx context.Context, f *runFlags, all bool, stdout, stderr io.Writer) error {
	if len(f.cases) != 1 {
		return usage("bisect needs exactly one --case ID (list them with `runmatrix cases list`)")
	}
	if err := f.user.load(ctx, nil); err != nil {
		return err
	}
	if strings.ContainsAny(f.cases[0], "*?[") && len(f.program) == 0 {
		sel, _ := f.user.catalogue().Select(f.cases) // none matched: an empty list
		ids := testcases.IDs(sel)
		return usage("bisect follows one case: give one exact ID, not the glob %q (it matches %d: %s)", f.cases[0], len(ids), strings.Join(ids, ", "))
	}
	if _, ok := f.user.catalogue().Lookup(f.cases[0]); !ok && len(f.program) == 0 {
		return usage("unknown case %q (list them with `runmatrix cases list`)", f.cases[0])
	}
	if len(f.profiles) > 1 {
		return usage("bisect takes one --profile")
	}
	f.bare, f.format = true, "none"
	s, plan, err := f.plan(ctx)
	if err != nil {
		return err
	}
	if len(plan.Kernels) < 2 {
		return usage("bisect needs at least two kernels: --kernel K --kernel K..., or a range such as --kernel mainline:v3.0..v4.0")
	}
	if err := chooseOut(&f.out, f.resume, "bisect", stderr); err != nil {
		return err
	}
	ss, err := openSession(ctx, f, plan.Kernels, stderr)
	if err != nil {
		return err
	}
	defer ss.close()

	// Resolve every kernel first: bad input stops here, before any boot.
	infos, err := matrix.PrepareAll(ctx, ss.pool, plan.Kernels)
	if err != nil {
		return err
	}

	groups, alone := bisectGroups(infos)
	if len(groups) == 0 {
		return usage("bisect needs at least two kernels of one architecture; given: %s", archList(infos))
	}
	boots := 0
	measureKernel := func(ctx context.Context, k results.Kernel) (matrix.Measured, *results.Result, error) {
		p := &matrix.Plan{Kernels: []string{k.Ref}, Cells: plan.For(k.Ref)}
		if todo := p.Without(results.Done(journalOf(ss))); len(todo.Cells) > 0 {
			boots++
			if err := ss.run(ctx, todo, stderr); err != nil {
				return matrix.Measured{}, nil, err
			}
		}
		res, err := ss.fold(s, p)
		if err != nil || len(res.Cells) != 1 {
			return matrix.Measured{}, nil, fmt.Errorf("no result for %s: %v", k.Ref, err)
		}
		c := &res.Cells[0]
		if c.Flaky {
			return matrix.Measured{}, c, &matrix.FlakyError{Kernel: c.KernelInfo.Label(), Text: c.Text()}
		}
		return matrix.Measured{Text: c.Behaviour(), Ran: c.Comparable()}, c, nil
	}

	profile := plan.Cells[0].Profile
	for _, k := range alone {
		fmt.Fprintf(stdout, "left out: %s is the only %s kernel given; one kernel cannot be bisected (give another %s kernel)\n\n", k.Label(), k.ArchFamily(), k.ArchFamily())
	}
	for _, g := range groups {
		cells := map[int]*results.Result{}
		b, err := matrix.Bisect(ctx, len(g.kernels), all, func(ctx context.Context, i int) (matrix.Measured, error) {
			m, c, err := measureKernel(ctx, g.kernels[i])
			if c != nil {
				cells[i] = c
				g.kernels[i] = c.KernelInfo // labelled as the table labels it
			}
			return m, err
		})
		var fe *matrix.FlakyError
		if errors.As(err, &fe) {
			return usage("%v", err)
		}
		if err != nil {
			return err
		}
		printBisection(stdout, g, b, cells, f.user.catalogue(), f.cases[0], profile, all)
	}
	fmt.Fprintf(stdout, "\nbooted %d of %d kernels; cells are in %s\n", boots, len(infos), f.out)
	res, err := ss.fold(s, plan)
	if err != nil {
		return err
	}
	return writeReports(f.out, res)
}

// journalOf reads the session's journal as it stands.
func journalOf(ss *session) []results.Record {
	recs, _ := results.ReadJournal(ss.journalPath)
	return recs
}

// lineage is a group of kernels bisected together, in version order.
type lineage struct {
	// arch is the architecture of every kernel of the group.
	arch string
	// name is the lineage when the group is one lineage of several ("debian
	// 6.1", "mainline", "" for files and URLs); whole says the group is every
	// kernel of arch given.
	name    string
	whole   bool
	kernels []results.Kernel
}

// bisectGroups returns, per architecture with two kernels or more, one
// group of all of them, then one per lineage with two kernels or more when
// the architecture's kernels span several lineages. alone are the kernels
// that are the only ones of their architecture.
func bisectGroups(ks []results.Kernel) (groups []lineage, alone []results.Kernel) {
	byArch := map[string][]results.Kernel{}
	for _, k := range ks {
		byArch[k.ArchFamily()] = append(byArch[k.ArchFamily()], k)
	}
	var arches []string
	for a := range byArch {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, a := range arches {
		all := byArch[a]
		results.SortKernels(all)
		if len(all) < 2 {
			alone = append(alone, all...)
			continue
		}
		groups = append(groups, lineage{arch: a, whole: true, kernels: all})
		by := map[string][]results.Kernel{}
		for _, k := range all {
			by[k.Lineage()] = append(by[k.Lineage()], k)
		}
		if len(by) < 2 {
			continue
		}
		var names []string
		for n := range by {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			// Files and URLs are no lineage: each may come from anywhere.
			if n != "" && len(by[n]) >= 2 {
				groups = append(groups, lineage{arch: a, name: n, kernels: append([]results.Kernel(nil), by[n]...)})
			}
		}
	}
	return groups, alone
}

// archList says how many kernels of each architecture were given.
func archList(ks []results.Kernel) string {
	n := map[string]int{}
	for _, k := range ks {
		n[k.ArchFamily()]++
	}
	var parts []string
	for a, c := range n {
		parts = append(parts, fmt.Sprintf("%d %s", c, a))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// lineageName names a kernel's lineage for people; a file or URL, of
// unknown lineage, by who built it where the kernel says so.
func lineageName(k results.Kernel) string {
	if l := k.Lineage(); l != "" {
		return l
	}
	if d := k.Distribution(); d != "" {
		return d + " build (file or URL)"
	}
	return "unknown build (file or URL)"
}

func printBisection(w io.Writer, g lineage, b *matrix.Bisection, cells map[int]*results.Result, cases *catalog.Catalog, caseID, profile string, all bool) {
	var labels, names []string
	seen := map[string]bool{}
	for _, k := range g.kernels {
		labels = append(labels, k.Label())
		if n := lineageName(k); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	var what string
	switch {
	case g.whole && len(names) > 1:
		what = fmt.Sprintf("%s, all %d kernels in one version order, across %d lineages (%s)", g.arch, len(g.kernels), len(names), strings.Join(names, ", "))
	case g.whole:
		what = fmt.Sprintf("%s, all %d kernels in version order (%s)", g.arch, len(g.kernels), names[0])
	default:
		what = fmt.Sprintf("%s, lineage %s alone", g.arch, names[0])
	}
	fmt.Fprintf(w, "%s under %s, %s: %s\n", caseID, profile, what, strings.Join(labels, ", "))
	if len(b.Boundaries) == 0 {
		fmt.Fprintf(w, "  no change found: every kernel measured gave the same outcome\n")
	}
	var sysctls []string
	if c, ok := cases.Lookup(caseID); ok {
		sysctls = c.Sysctls
	}
	for i, bd := range b.Boundaries {
		what := "first change"
		if i > 0 {
			what = "change"
		}
		before, after := cells[bd.Before], cells[bd.After]
		shown := bisectSysctls(sysctls, before, after)
		fmt.Fprintf(w, "  %s: %s → %s\n    %s: %s\n    %s: %s\n", what, labels[bd.Before], labels[bd.After],
			labels[bd.Before], withSysctls(bd.BeforeText, before, shown), labels[bd.After], withSysctls(bd.AfterText, after, shown))
		if a, z := lineageName(g.kernels[bd.Before]), lineageName(g.kernels[bd.After]); a != z || g.kernels[bd.Before].Lineage() == "" {
			fmt.Fprintf(w, "    this boundary falls between two lineages (%s → %s): a backport or a different build may explain it as well as upstream code; bisect inside one lineage to be sure\n", a, z)
		}
		if before != nil && after != nil {
			for _, n := range results.SysctlNotes(shown, profile, before, after) {
				fmt.Fprintf(w, "    note: %s\n", n)
			}
		}
		for _, side := range []int{bd.Before, bd.After} {
			if c := cells[side]; c != nil {
				fmt.Fprintf(w, "    trace on %s (%s):\n", labels[side], g.kernels[side].Ref)
				for _, line := range strings.Split(strings.TrimRight(report.Trace(c.Outcome), "\n"), "\n") {
					fmt.Fprintf(w, "      %s\n", line)
				}
			}
		}
	}
	if b.Returns {
		fmt.Fprintf(w, "  the outcome changes and comes back: this is not one boundary (backports, or two changes)\n")
	}
	if !all && len(b.Boundaries) == 1 {
		last := len(g.kernels) - 1
		if m, ok := b.Measured[last]; ok && m.Ran && m.Text != b.Boundaries[0].AfterText {
			fmt.Fprintf(w, "  the outcome changes again before %s (%s): run with --all for every boundary\n", labels[last], m.Text)
		}
	}
	for _, gap := range b.Gaps {
		fmt.Fprintf(w, "  assumed unchanged, not measured: %d kernels between %s and %s (their ends agree)\n", gap.Inside, labels[gap.From], labels[gap.To])
	}
	for _, i := range b.Skipped {
		if c := cells[i]; c != nil {
			fmt.Fprintf(w, "  passed over %s: %s\n", labels[i], c.Text())
		}
	}
	fmt.Fprintf(w, "  measured %d of %d kernels\n\n", len(b.Measured), len(g.kernels))
}

// bisectSysctls are the sysctls of names whose values differ between the
// two sides of a boundary.
func bisectSysctls(names []string, a, b *results.Result) []string {
	if a == nil || b == nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if a.Outcome.Sysctls[n] != b.Outcome.Sysctls[n] {
			out = append(out, n)
		}
	}
	return out
}

func withSysctls(text string, c *results.Result, names []string) string {
	if c == nil {
		return text
	}
	if s := c.SysctlText(names); s != "" {
		return text + " " + s
	}
	return text
}
