package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/matrix"
)

// Files a run writes to its output directory.
const (
	journalFile  = "results.jsonl"
	resultsFile  = "results.json"
	tableFile    = "table.txt"
	markdownFile = "table.md"
	junitFile    = "junit.xml"
	htmlFile     = "report.html"
)

var formats = []string{"table", "markdown", "json", "junit", "html", "none"}

type runFlags struct {
	gf       guestFlags
	file     string
	kernels  []string
	cases    []string
	profiles []string
	repeat   int
	out      string
	resume   bool
	shard    string
	format   string
	// bare starts from an empty matrix instead of the default one.
	bare bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [-f matrix.yaml] [--kernel K]... [--case GLOB]... [--profile P]...",
		Short: "Run cases × profiles × kernels and write the comparison table and reports",
		Long: `Run a matrix: every selected case under every profile on every kernel, one
boot per kernel, guests in parallel. Without -f the embedded default matrix is
used (all cases × debian:6.1, debian:6.12 × default, tfo=3); --kernel adds
kernels, --case and --profile replace the matrix's selections.

Results stream to OUT/results.jsonl as each cell finishes; --resume continues
an interrupted run. OUT also gets results.json, table.txt, table.md, junit.xml
and report.html. Exit status: 0 every cell as expected, 1 an expectation
failed or a cell could not run, 2 bad usage or bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMatrix(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.gf.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "matrix file (YAML); default: the embedded default matrix")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "add a kernel (repeatable)")
	fl.StringArrayVar(&f.cases, "case", nil, "case ID glob, replacing the matrix's (repeatable)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "sysctl profile, replacing the matrix's (repeatable)")
	fl.IntVar(&f.repeat, "repeat", 0, "run each cell N times; disagreeing cells show k/N and are flagged flaky")
	fl.StringVar(&f.out, "out", "results", "output directory")
	fl.BoolVar(&f.resume, "resume", false, "continue the run in --out, skipping finished cells")
	fl.StringVar(&f.shard, "shard", "", "run only slice I of N of the plan (I/N), for a CI job matrix")
	fl.StringVar(&f.format, "format", "table", "what to print on stdout: table, markdown, json, junit, html or none")
	return cmd
}

func usage(format string, args ...any) error {
	return &guest.UsageError{Msg: fmt.Sprintf(format, args...)}
}

func (f *runFlags) spec() (*matrix.Spec, error) {
	var s *matrix.Spec
	var err error
	switch {
	case f.bare:
		s = &matrix.Spec{Source: "command line", Repeat: 1}
	case f.file != "":
		s, err = matrix.Load(f.file)
	default:
		s, err = matrix.Default()
	}
	if err != nil {
		return nil, &guest.UsageError{Msg: err.Error()}
	}
	s.Kernels = append(s.Kernels, f.kernels...)
	if len(f.cases) > 0 {
		s.Cases = f.cases
	}
	if len(f.profiles) > 0 {
		s.Profiles = f.profiles
	}
	if f.repeat != 0 {
		s.Repeat = f.repeat
	}
	if len(s.Profiles) == 0 {
		s.Profiles = []string{"default"}
	}
	if err := s.Check(); err != nil {
		return nil, &guest.UsageError{Msg: err.Error()}
	}
	return s, nil
}

func runMatrix(ctx context.Context, f *runFlags, stdout, stderr io.Writer) error {
	if !contains(formats, f.format) {
		return usage("--format %q: use one of table, markdown, json, junit, html, none", f.format)
	}
	spec, err := f.spec()
	if err != nil {
		return err
	}
	plan, err := matrix.NewPlan(spec)
	if err != nil {
		return usage("%v", err)
	}
	if f.shard != "" {
		i, n, err := matrix.ParseShard(f.shard)
		if err != nil {
			return usage("%v", err)
		}
		plan = plan.Shard(i, n)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	journalPath := filepath.Join(f.out, journalFile)
	prior, err := matrix.ReadJournal(journalPath)
	if err != nil {
		return err
	}
	if len(prior) > 0 && !f.resume {
		return usage("%s already holds results: pass --resume to continue that run, or choose another --out", journalPath)
	}
	todo := plan.Without(matrix.Done(prior))
	if f.resume {
		fmt.Fprintf(stderr, "resuming: %d of %d cells already measured\n", len(plan.Cells)-len(todo.Cells), len(plan.Cells))
	}

	journal, err := matrix.OpenJournal(journalPath)
	if err != nil {
		return err
	}
	defer journal.Close()
	cache, err := f.gf.cache()
	if err != nil {
		return err
	}
	env, err := guest.NewEnv(cache, f.gf.opts)
	if err != nil {
		return err
	}
	var prog interface {
		matrix.Progress
		io.Closer
	}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) && termWidth(fd) > 0 {
		prog = matrix.NewBarProgress(stderr, todo)
	} else {
		prog = matrix.NewPlainProgress(stderr, len(todo.Cells))
	}
	logLine := func(s string) { fmt.Fprintln(stderr, s) }
	r := &matrix.Runner{
		Env: env, Resolver: f.gf.resolver(cache, logLine), Spec: spec,
		Accel: f.gf.accel, Jobs: f.gf.parallel(), Journal: journal, Progress: prog, Log: logLine,
	}
	runErr := error(nil)
	if len(todo.Cells) > 0 {
		runErr = r.Run(ctx, todo)
	}
	prog.Close()
	var ue *guest.UsageError
	if errors.As(runErr, &ue) {
		return runErr
	}

	// Whatever happened, report every cell measured so far.
	recs, err := matrix.ReadJournal(journalPath)
	if err != nil {
		return err
	}
	inPlan := map[string]bool{}
	for _, c := range plan.Cells {
		inPlan[c.Key()] = true
	}
	var mine []matrix.Record
	for _, rec := range recs {
		if inPlan[rec.Key()] {
			mine = append(mine, rec)
		}
	}
	res := matrix.Fold(spec, mine)
	if err := writeReports(f.out, res); err != nil {
		return err
	}
	if err := printResults(stdout, stdout == os.Stdout, f.format, res); err != nil {
		return err
	}
	missing := len(plan.Cells) - len(matrix.Done(mine))
	switch {
	case runErr != nil && ctx.Err() != nil:
		fmt.Fprintf(stderr, "interrupted: %d of %d cells measured, kept in %s; continue with --resume\n", len(plan.Cells)-missing, len(plan.Cells), journalPath)
		return exitError{1}
	case runErr != nil:
		return fmt.Errorf("%w (results so far are in %s)", runErr, f.out)
	}
	failed := 0
	for _, c := range res.Cells {
		if c.Failed() {
			failed++
		}
	}
	fmt.Fprintf(stderr, "%d cells, %d failed or unexpected; reports in %s\n", len(res.Cells), failed, f.out)
	if failed > 0 || missing > 0 {
		return exitError{1}
	}
	return nil
}

// termWidth is the terminal's width; 0 for a terminal of unknown size,
// where bars cannot be drawn.
func termWidth(f *os.File) int {
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// writeReports writes every report into dir.
func writeReports(dir string, res *matrix.Results) error {
	if err := res.WriteJSON(filepath.Join(dir, resultsFile)); err != nil {
		return err
	}
	t := matrix.NewTable(res)
	for name, render := range map[string]func(io.Writer) error{
		tableFile:    func(w io.Writer) error { return matrix.RenderText(w, t, false) },
		markdownFile: func(w io.Writer) error { return matrix.RenderMarkdown(w, t) },
		junitFile:    func(w io.Writer) error { return matrix.RenderJUnit(w, res) },
		htmlFile:     func(w io.Writer) error { return matrix.RenderHTML(w, t) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = render(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// printResults prints res on w in format; colour only when w is a terminal.
func printResults(w io.Writer, maybeTTY bool, format string, res *matrix.Results) error {
	t := matrix.NewTable(res)
	switch format {
	case "table":
		colour := false
		if fd, ok := w.(*os.File); ok && maybeTTY {
			colour = term.IsTerminal(int(fd.Fd()))
		}
		return matrix.RenderText(w, t, colour)
	case "markdown":
		return matrix.RenderMarkdown(w, t)
	case "json":
		b, err := jsonIndent(res)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "junit":
		return matrix.RenderJUnit(w, res)
	case "html":
		return matrix.RenderHTML(w, t)
	}
	return nil
}
