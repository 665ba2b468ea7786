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

	"github.com/runmatrix/runmatrix/internal/usergo"
	"github.com/runmatrix/runmatrix/internal/userprog"
	"github.com/runmatrix/runmatrix/matrix"
	"github.com/runmatrix/runmatrix/matrix/report"
	"github.com/runmatrix/runmatrix/matrix/results"
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

Behaviour need not change once along versions: distributions backport. Debian
kernels are grouped by lineage (their series) and each lineage is bisected on
its own; local files and URLs, whose lineage is unknown, form one group in
version order. Kernels that cannot run the cell are passed over. A flaky
kernel (--repeat N disagreeing) stops the bisection. Cells stream to
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
	f.gf.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&f.cases, "case", nil, "the case ID to bisect")
	fl.StringArrayVar(&f.profiles, "profile", nil, "the sysctl profile (default \"default\")")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "a kernel of the range (repeatable, any order)")
	fl.IntVar(&f.repeat, "repeat", 0, "measure each kernel N times; disagreeing repetitions stop the bisection")
	fl.StringVar(&f.out, "out", "bisect", "output directory (journal and reports of the kernels measured)")
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
	if err := registerTests(ts); err != nil {
		return err
	}
	f.user.tests = ts
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
	if _, err := testcases.Lookup(f.cases[0]); err != nil && len(f.program) == 0 {
		return usage("%v", err)
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

	groups := lineages(infos)
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
			return matrix.Measured{}, c, &matrix.FlakyError{Kernel: k.Label(), Text: c.Text()}
		}
		return matrix.Measured{Text: c.Behaviour(), Ran: c.Comparable()}, c, nil
	}

	for _, g := range groups {
		cells := map[int]*results.Result{}
		b, err := matrix.Bisect(ctx, len(g.kernels), all, func(ctx context.Context, i int) (matrix.Measured, error) {
			m, c, err := measureKernel(ctx, g.kernels[i])
			cells[i] = c
			return m, err
		})
		var fe *matrix.FlakyError
		if errors.As(err, &fe) {
			return usage("%v", err)
		}
		if err != nil {
			return err
		}
		printBisection(stdout, g, b, cells, f.cases[0], plan.Cells[0].Profile, all)
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
	name    string
	kernels []results.Kernel
}

// lineages groups kernels by lineage (Debian series); kernels of unknown
// lineage (files, URLs) form one group. Each group is in version order.
func lineages(ks []results.Kernel) []lineage {
	by := map[string][]results.Kernel{}
	for _, k := range ks {
		by[k.Lineage()] = append(by[k.Lineage()], k)
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []lineage
	for _, n := range names {
		g := by[n]
		results.SortKernels(g)
		out = append(out, lineage{name: n, kernels: g})
	}
	return out
}

func printBisection(w io.Writer, g lineage, b *matrix.Bisection, cells map[int]*results.Result, caseID, profile string, all bool) {
	name := g.name
	if name == "" {
		name = "kernels of unknown lineage (files, URLs), in version order"
	} else {
		name = "lineage " + name
	}
	var labels []string
	for _, k := range g.kernels {
		labels = append(labels, k.Label())
	}
	fmt.Fprintf(w, "%s under %s, %s: %s\n", caseID, profile, name, strings.Join(labels, ", "))
	if len(b.Boundaries) == 0 {
		fmt.Fprintf(w, "  no change found: every kernel measured gave the same outcome\n")
	}
	for i, bd := range b.Boundaries {
		what := "first change"
		if i > 0 {
			what = "change"
		}
		fmt.Fprintf(w, "  %s: %s → %s\n    %s: %s\n    %s: %s\n", what, labels[bd.Before], labels[bd.After],
			labels[bd.Before], bd.BeforeText, labels[bd.After], bd.AfterText)
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
	fmt.Fprintf(w, "  measured %d of %d kernels\n", len(b.Measured), len(g.kernels))
}
