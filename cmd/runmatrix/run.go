package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/matrix/evidence"
	"github.com/runmatrix/runmatrix/internal/host/matrix/report"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/testcases/outcome"
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
	// repeatSet says --repeat was given (0 is then refused, not "unset").
	repeatSet bool
	out       string
	resume    bool
	shard     string
	format    string
	// bare starts from an empty matrix instead of the default one.
	bare bool
	// user is the user's Go code (--cases, a matrix file's go:) and programs.
	user userCode
	// program is a program and its arguments given after --;
	// programBuilds its builds for other architectures.
	program       []string
	programBuilds []string
	progTimeout   time.Duration
	trace         bool
	// dryRun prints the plan, kernels resolved, without booting.
	dryRun bool
	// record is the plan plan.json keeps for --resume (run and gotest).
	record *recordedPlan
	// kind names the command in a run folder's name.
	kind string
	// verbose prints the whole output of failed go tests and programs.
	verbose bool
}

// runPlanFlags are run's flags that decide what it measures: --resume
// takes them from the run it continues and refuses others.
var runPlanFlags = []string{"file", "kernel", "case", "profile", "repeat", "shard", "cases", "program-build", "program-timeout", "trace",
	"append", "cpus", "memory", "nic", "no-modules", "shared"}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [-f matrix.yaml] [--kernel K]... [--case GLOB]... [--profile P]... [--cases DIR]... [-- PROGRAM ARGS...]",
		Short: "Run cases × profiles × kernels and write the comparison table and reports",
		Long: `Run a matrix: every selected case under every profile on every kernel, one
boot per kernel, guests in parallel. Without -f the embedded default matrix is
used (all cases × debian:6.1, debian:6.12 × default, tfo=3, plus the optional
debian:squeeze, wheezy and jessie where the archive of retired releases can be
reached; those it cannot have are left out with one line). --kernel, --case
and --profile each replace the matrix's selection (to add kernels to a
baseline, list them in a matrix file). --dry-run makes every check the run
makes before booting (kernels resolved, programs checked against each
kernel, the user's Go code built) and prints the plan, booting nothing.

--cases DIR links your Go case package into the agent and runs its cases;
-- PROGRAM ARGS runs a program as a case (its summary is its last
RUNMATRIX-SUMMARY: line, else exit=N or signal=NAME), --trace recording its
socket calls; a matrix file's go: and programs: do the same.

Every kernel is resolved before anything boots; a kernel that cannot be had
stops the run with one line per kernel. The first guest of a kernel is saved
once its init is up, before anything of the run enters it; later guests start
from it in about half a second, each with its own keys, seed and clock
(--no-snapshot boots every guest cold; see runmatrix kernels snapshots).

OUT is --out, else a new folder under ~/.local/state/runmatrix/runs, which
runs/latest then names. Results stream to OUT/results.jsonl as each cell
finishes, and OUT/plan.json records the plan; --resume (without --out: the
newest run) continues that run as it was started, refusing plan flags that
differ and measuring again cells whose kernel, agent, cases or programs
changed. OUT also gets results.json, table.txt, table.md, junit.xml and
report.html. Exit status:
0 every cell as expected, 1 an expectation failed or a cell could not run,
2 bad usage or bad input (another run using --out included), 130 interrupted
(SIGINT or SIGTERM; the journal is kept for --resume).`,
		Args: programArgs(&f),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.kind = "run"
			if f.resume {
				if err := chooseOut(&f.out, true, f.kind, cmd.ErrOrStderr()); err != nil {
					return err
				}
				rec, err := resumePlan(cmd, f.out, runPlanFlags, f.program, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				f.program = rec.Args
			}
			rec := planOf(cmd.Name(), cmd.Flags(), runPlanFlags, f.program)
			f.record = &rec
			return runMatrix(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.gf.registerCells(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "matrix file (YAML); default: the embedded default matrix")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "kernel, replacing the matrix's (repeatable)")
	fl.StringArrayVar(&f.cases, "case", nil, "case ID glob, replacing the matrix's (repeatable)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "sysctl profile, replacing the matrix's (repeatable)")
	fl.Var(&repeatFlag{&f.repeat, &f.repeatSet}, "repeat", "run each cell N times; disagreeing cells show k/N and are flagged flaky")
	fl.StringVar(&f.out, "out", "", "output directory (default: a new folder under ~/.local/state/runmatrix/runs, which runs/latest names)")
	fl.BoolVar(&f.resume, "resume", false, "continue the run in --out (default: the newest run) as it was started, measuring again cells whose inputs changed")
	fl.StringVar(&f.shard, "shard", "", "run only slice I of N of the plan (I/N), for a CI job matrix")
	fl.StringVar(&f.format, "format", "table", "what to print on stdout: table, markdown, json, junit, html or none")
	fl.BoolVar(&f.dryRun, "dry-run", false, "make every check the run makes before booting, print the plan (kernels resolved, cells per kernel, shard) and exit")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the whole output of failed go tests and programs (else its last 20 lines)")
	f.registerCases(fl)
	return cmd
}

// repeatFlag is --repeat: an int that remembers being given, so that
// --repeat 0 is refused rather than taken for "the matrix's own".
type repeatFlag struct {
	n   *int
	set *bool
}

func (r *repeatFlag) String() string {
	if r.n == nil || *r.n == 0 {
		return ""
	}
	return strconv.Itoa(*r.n)
}

func (r *repeatFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("give a whole number of repetitions, 1 or more")
	}
	*r.n, *r.set = n, true
	return nil
}

func (r *repeatFlag) Type() string { return "int" }

// registerCases adds --cases and --program-timeout to a command's flags.
func (f *runFlags) registerCases(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.user.dirs, "cases", nil, "directory of a Go package with your own cases, linked into the agent (repeatable)")
	fl.DurationVar(&f.progTimeout, "program-timeout", defaultProgramTimeout, "with -- PROGRAM: kill the program and all it started after this long")
	fl.BoolVar(&f.trace, "trace", false, "record every socket call of the programs (ptrace), with errno and signals, as steps")
	fl.StringArrayVar(&f.programBuilds, "program-build", nil, "with -- PROGRAM: the same program built for another architecture (repeatable); each kernel runs its own arch's build")
}

// programArgs takes a program and its arguments after -- and refuses any
// other argument.
func programArgs(f *runFlags) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		at := cmd.ArgsLenAtDash()
		if at < 0 && len(args) > 0 || at > 0 {
			return usage("unexpected argument %q: a program to run as a case goes after --, e.g. -- ./prog ARGS", args[0])
		}
		if at == 0 {
			if len(args) == 0 {
				return usage("-- needs a program to run, e.g. -- ./prog ARGS")
			}
			f.program = args
		}
		return nil
	}
}

func (f *runFlags) spec(ctx context.Context) (*spec.Spec, error) {
	var s *spec.Spec
	var err error
	switch {
	case f.bare:
		s = &spec.Spec{Source: "command line", Repeat: 1}
	case f.file != "":
		s, err = spec.Load(f.file)
	default:
		s, err = spec.Default()
	}
	if err != nil {
		return nil, err
	}
	if len(f.kernels) > 0 {
		s.Kernels, s.Optional = f.kernels, nil
	}
	if len(f.cases) > 0 {
		s.Cases = f.cases
	}
	if len(f.profiles) > 0 {
		s.Profiles = f.profiles
	}
	if f.repeat < 0 || f.repeatSet && f.repeat == 0 {
		return nil, usage("--repeat %d: give 1 or more", f.repeat)
	}
	if f.repeat != 0 {
		s.Repeat = f.repeat
	}
	if len(s.Profiles) == 0 {
		s.Profiles = []string{"default"}
	}
	if err := f.user.load(ctx, s.GoDirs()); err != nil {
		return nil, err
	}
	if err := f.loadPrograms(s); err != nil {
		return nil, err
	}
	if len(f.program) > 0 && len(f.cases) == 0 {
		// -- PROGRAM asks about the program.
		s.Cases = []string{f.user.programs[len(f.user.programs)-1].ID}
		if len(f.profiles) == 0 && f.file == "" {
			s.Profiles = []string{"default"}
		}
	}
	if len(f.user.dirs) > 0 && f.file == "" {
		// --cases asks about the user's cases, under the kernel's own
		// sysctls, unless --case and --profile say otherwise.
		if len(f.cases) == 0 {
			s.Cases = f.user.ids()
		}
		if len(f.profiles) == 0 {
			s.Profiles = []string{"default"}
		}
	}
	if len(f.cases) == 0 && len(f.program) == 0 { // the matrix file's own selection
		var err error
		if s.Cases, err = selectPrograms(s); err != nil {
			return nil, err
		}
	}
	if err := s.Check(f.user.catalogue()); err != nil {
		return nil, err
	}
	return s, nil
}

// selectPrograms returns the matrix's case globs with each program:GLOB
// made the IDs of the matrix's programs it names (by ID, or by program:ID,
// whatever the IDs are), and refuses a program no glob selects: listed
// under programs:, it was meant to run.
func selectPrograms(s *spec.Spec) ([]string, error) {
	if len(s.Cases) == 0 {
		return nil, nil // every case, every program
	}
	var globs []string
	selected := map[string]bool{}
	for _, g := range s.Cases {
		pg, ok := strings.CutPrefix(g, outcome.ProgramPrefix)
		picked := false
		for _, p := range s.Programs {
			direct, _ := path.Match(g, p.ID)
			if direct {
				selected[p.ID] = true
			}
			if byName, _ := path.Match(pg, p.ID); ok && (byName || direct) {
				selected[p.ID], picked = true, true
				globs = append(globs, p.ID)
			}
		}
		if !picked {
			globs = append(globs, g)
		}
	}
	for _, p := range s.Programs {
		if !selected[p.ID] {
			return nil, usage("%s: program %s is selected by none of cases: %s; add its ID (or program:*) to cases:, or remove it", s.Source, p.ID, strings.Join(s.Cases, ", "))
		}
	}
	return globs, nil
}

// loadPrograms registers the matrix file's programs and the one after --, once.
func (f *runFlags) loadPrograms(s *spec.Spec) error {
	if len(f.user.programs) > 0 {
		return nil
	}
	progs := programs(s)
	if f.trace && len(progs) == 0 && len(f.program) == 0 {
		// Built-in and Go cases record their own steps: --trace would
		// change nothing, and a run that ignored it would look traced.
		return usage("--trace records the socket calls of a program, and this run has none: give one after --, e.g. runmatrix run --trace --kernel K -- ./prog")
	}
	for _, p := range progs {
		p.Trace = p.Trace || f.trace
	}
	if len(f.program) > 0 {
		p, err := f.cliProgram()
		if err != nil {
			return err
		}
		progs = append(progs, p)
	}
	return f.user.addPrograms(progs)
}

// cliProgram is the program given after --, with --program-timeout and --trace.
func (f *runFlags) cliProgram() (*userprog.Program, error) {
	if f.progTimeout <= 0 {
		return nil, usage("--program-timeout %s: give a positive duration such as 30s", f.progTimeout)
	}
	bin := f.program[0]
	if !strings.ContainsRune(bin, '/') {
		// A bare name is a command, as a shell takes it: looked up in PATH.
		found, err := exec.LookPath(bin)
		if err != nil {
			return nil, usage("program %s: not in PATH (%s); give its path, e.g. ./%s", bin, os.Getenv("PATH"), bin)
		}
		bin = found
	}
	return &userprog.Program{ID: userprog.DefaultID(bin), Path: bin, Builds: f.programBuilds, Args: f.program[1:], Timeout: f.progTimeout, Trace: f.trace}, nil
}

// plan checks every input of a run and returns its spec and plan.
func (f *runFlags) plan(ctx context.Context) (*spec.Spec, *matrix.Plan, error) {
	if !contains(formats, f.format) {
		return nil, nil, usage("--format %q: use one of table, markdown, json, junit, html, none", f.format)
	}
	if err := f.gf.check(); err != nil {
		return nil, nil, err
	}
	s, err := f.spec(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.Kernels, err = f.gf.expand(ctx, s.Kernels); err != nil {
		return nil, nil, err
	}
	if len(s.Optional) > 0 {
		if s.Optional, err = f.gf.expand(ctx, s.Optional); err != nil {
			return nil, nil, err
		}
	}
	p, err := matrix.NewPlan(s, f.user.catalogue())
	if err != nil {
		return nil, nil, usage("%v", err)
	}
	if f.shard != "" {
		i, n, err := matrix.ParseShard(f.shard)
		if err != nil {
			return nil, nil, usage("--%v", err)
		}
		p = p.Shard(i, n)
	}
	return s, p, nil
}

func runMatrix(ctx context.Context, f *runFlags, stdout, stderr io.Writer) error {
	s, plan, err := f.plan(ctx)
	if err != nil {
		return err
	}
	if plan, err = f.leaveOut(ctx, s, plan, stderr); err != nil {
		return err
	}
	if f.dryRun {
		return dryRun(ctx, f, plan, stdout, stderr)
	}
	if err := chooseOut(&f.out, f.resume, f.kind, stderr); err != nil {
		return err
	}
	res, runErr := measure(ctx, f, s, plan, stderr)
	if res == nil {
		return runErr
	}
	if err := printResults(stdout, stdout == os.Stdout, f.format, res); err != nil {
		return err
	}
	if f.format == "table" {
		lines := 20
		if f.verbose {
			lines = 0
		}
		if err := report.RenderFailures(stderr, res, lines); err != nil {
			return err
		}
	}
	measured := measuredCells(res)
	switch {
	case runErr != nil && ctx.Err() != nil:
		fmt.Fprintf(stderr, "interrupted: %d of %d cells measured, kept in %s; continue with --resume\n", measured, len(plan.Cells), filepath.Join(f.out, journalFile))
		return exitError{130}
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
	if failed > 0 || measured < len(plan.Cells) {
		return exitError{1}
	}
	return nil
}

// leaveOut resolves the spec's optional kernels and takes out of the plan
// those that cannot be had for a reason other than bad input (an archive
// out of reach), saying so in one line; bad input still stops the run.
func (f *runFlags) leaveOut(ctx context.Context, s *spec.Spec, plan *matrix.Plan, stderr io.Writer) (*matrix.Plan, error) {
	if len(s.Optional) == 0 {
		return plan, nil
	}
	pool, err := f.gf.pool(func(s string) {})
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	_, errs := matrix.PrepareEach(ctx, pool, s.Optional)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	var left []string
	why := ""
	for i, err := range errs {
		if err == nil {
			continue
		}
		if !cannotBeHad(err) {
			return nil, &matrix.KernelsError{Errs: []error{err}}
		}
		drop[s.Optional[i]] = true
		left = append(left, s.Optional[i])
		if why == "" {
			why = shortReason(s.Optional[i], err)
		}
	}
	if len(left) == 0 {
		return plan, nil
	}
	fmt.Fprintf(stderr, "left out %d optional kernels that cannot be had here: %s (%s); the run goes on without them\n", len(left), strings.Join(left, ", "), why)
	return plan.WithoutKernels(drop), nil
}

// shortReason is an error's gist for a one-line note: without the
// "kernel REF: " it starts with and the advice after "; ".
func shortReason(ref string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "kernel "+ref+": ")
	msg, _, _ = strings.Cut(msg, "; ")
	return msg
}

// dryRun resolves the plan's kernels (fetching what is not cached, as a
// run would) and prints what a run would do, booting nothing and writing
// nothing to --out.
func dryRun(ctx context.Context, f *runFlags, plan *matrix.Plan, stdout, stderr io.Writer) error {
	pool, err := f.gf.pool(func(s string) { fmt.Fprintln(stderr, s) })
	if err != nil {
		return err
	}
	defer pool.Close()
	infos, err := matrix.PrepareAll(ctx, pool, plan.Kernels)
	if err != nil {
		return err
	}
	// Every check the run makes before booting: programs against each
	// kernel's architecture and version, the Go the user's code needs,
	// the user's code built for each architecture.
	if err := f.user.attach(ctx, pool, plan.Kernels); err != nil {
		return err
	}
	cases, profiles := map[string]bool{}, map[string]bool{}
	for _, c := range plan.Cells {
		cases[c.Case], profiles[c.Profile] = true, true
	}
	shard := ""
	if f.shard != "" {
		shard = " (shard " + f.shard + ")"
	}
	fmt.Fprintf(stdout, "plan%s: %d cells (%d cases × %d profiles) on %d kernels, one boot each; nothing booted (--dry-run)\n",
		shard, len(plan.Cells), len(cases), len(profiles), len(plan.Kernels))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRESOLVED\tARCH\tFROM\tCELLS")
	for i, ref := range plan.Kernels {
		k := infos[i]
		from := k.Origin.File
		switch {
		case k.Origin.Package != "":
			from = k.Origin.Package + " " + k.Origin.PackageVersion + " (" + k.Origin.Suite + ")"
		case k.Origin.URL != "":
			from = k.Origin.URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", ref, k.ImageRelease, k.Arch, from, len(plan.For(ref)))
	}
	return tw.Flush()
}

// measuredCells counts the repetitions that finished (anything but an
// infrastructure failure, which --resume tries again).
func measuredCells(res *results.Results) int {
	n := 0
	for _, c := range res.Cells {
		if c.Outcome.Status != outcome.InfraFailed {
			n += c.Reps
		}
	}
	return n
}

// measure runs the plan's unfinished cells into OUT/results.jsonl and
// writes the reports of every cell measured so far, whatever happened. It
// returns nil results only when nothing could start.
func measure(ctx context.Context, f *runFlags, s *spec.Spec, plan *matrix.Plan, stderr io.Writer) (*results.Results, error) {
	ss, err := openSession(ctx, f, plan.Kernels, stderr)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	if f.record != nil && len(ss.prior) == 0 {
		if err := writePlan(f.out, *f.record); err != nil {
			return nil, err
		}
	}
	current, stale, err := ss.current(ctx, plan)
	if err != nil {
		return nil, err
	}
	todo := plan.Without(results.Done(current))
	if f.resume {
		fmt.Fprintf(stderr, "resuming: %d of %d cells already measured\n", len(plan.Cells)-len(todo.Cells), len(plan.Cells))
		if stale > 0 {
			fmt.Fprintf(stderr, "%d cells measured again: their kernel image, guest binaries, cases or programs changed since\n", stale)
		}
	}
	var runErr error
	if len(todo.Cells) > 0 {
		runErr = ss.run(ctx, todo, stderr)
	}
	var ke *matrix.KernelsError
	if errors.As(runErr, &ke) {
		return nil, runErr
	}
	// Whatever happened, report every cell measured so far.
	res, err := ss.fold(s, plan)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	if err := writeReports(f.out, res); err != nil {
		return nil, errors.Join(runErr, err)
	}
	return res, runErr
}

// session is a run's output directory, journal and guest pool, shared by
// the plans it runs (one for run, one per kernel for bisect).
type session struct {
	journalPath string
	journal     *results.Journal
	pool        *guest.Pool
	log         func(string)
	// prior are the records the journal held when the session opened.
	prior []results.Record
	// lock holds the output directory for this run alone.
	lock *os.File
	// durations is the cache file remembering how long cells took.
	durations string
	// inputs are the plan's kernels' inputs now (guest.Env.Inputs), once
	// a resumed run has compared its records with them.
	inputs map[string]string
	// cases are the run's cases: whose cells want a guest of their own,
	// and the definitions results record.
	cases *catalog.Catalog
}

// lockFile, in an output directory, is held (flock) by the run writing there.
const lockFile = ".runmatrix.lock"

// lockOut takes the output directory for this process: two runs writing
// one journal would corrupt each other's cells.
func lockOut(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, usage("output directory %s is not writable (%v): choose another --out", dir, unwrapPathErr(err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(f.Name())
		f.Close()
		who := strings.TrimSpace(string(b))
		if who != "" {
			who = " (pid " + who + ")"
		}
		return nil, usage("output directory %s is in use by another runmatrix run%s: wait for it to end, or choose another --out", dir, who)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openSession opens the output directory's journal and a guest pool for
// kernels, with the user's code built for them.
func openSession(ctx context.Context, f *runFlags, kernels []string, stderr io.Writer) (*session, error) {
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return nil, usage("output directory %s cannot be created (%v): choose another --out", f.out, unwrapPathErr(err))
	}
	lock, err := lockOut(f.out)
	if err != nil {
		return nil, err
	}
	ss := &session{journalPath: filepath.Join(f.out, journalFile), log: func(s string) { fmt.Fprintln(stderr, s) }, lock: lock, cases: f.user.catalogue()}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	// ReadJournal leaves a torn last line out, as OpenJournal then cuts it.
	if ss.prior, err = results.ReadJournal(ss.journalPath); err != nil {
		return nil, err
	}
	if len(ss.prior) > 0 && !f.resume {
		dir, _ := runsDir()
		return nil, usage("%s already holds a run's results: pass --resume to continue that run, or leave out --out (each run then gets a folder of its own in %s)", ss.journalPath, dir)
	}
	if ss.journal, err = results.OpenJournal(ss.journalPath, ss.log); err != nil {
		return nil, err
	}
	if ss.pool, err = f.gf.pool(ss.log); err != nil {
		ss.journal.Close()
		return nil, err
	}
	if cache, err := f.gf.cache(); err == nil {
		ss.durations, _ = cache.Path("durations.json")
	}
	if err := f.user.attach(ctx, ss.pool, kernels); err != nil {
		ss.close()
		return nil, err
	}
	ok = true
	return ss, nil
}

// run measures the plan's cells, drawing progress on stderr.
func (ss *session) run(ctx context.Context, p *matrix.Plan, stderr io.Writer) error {
	var prog interface {
		matrix.Progress
		io.Closer
	}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) && termWidth(fd) > 0 {
		prog = NewBarProgress(stderr, p)
	} else {
		prog = NewPlainProgress(stderr, len(p.Cells))
	}
	defer prog.Close()
	sched := &matrix.Scheduler{Pool: ss.pool, Journal: ss.journal, Progress: prog, Log: ss.log, Fresh: freshCell(ss.cases)}
	var durations results.Durations
	if ss.durations != "" {
		durations = results.ReadDurations(ss.durations)
		sched.Expected = durations.Of
	}
	err := sched.Run(ctx, p)
	if durations != nil {
		if recs, rerr := results.ReadJournal(ss.journalPath); rerr == nil {
			durations.Add(recs)
			_ = durations.Write(ss.durations) // only an ordering hint: losing it costs nothing
		}
	}
	return err
}

// freshCell reports whether a cell's case asks for a guest of its own
// (testcases.Case.Fresh); go test rows and programs do not.
func freshCell(cases *catalog.Catalog) func(results.Cell) bool {
	return func(c results.Cell) bool {
		tc, ok := cases.Lookup(c.Case)
		return ok && tc.Fresh
	}
}

// current returns the journal's records that were measured with the
// inputs the plan's kernels have now (guest.Env.Inputs), and how many plan
// cells were measured with others: those are measured again.
func (ss *session) current(ctx context.Context, plan *matrix.Plan) ([]results.Record, int, error) {
	if len(ss.prior) == 0 {
		return nil, 0, nil
	}
	now := map[string]string{}
	for _, ref := range plan.Kernels {
		k, err := ss.pool.Kernel(ctx, ref)
		if err != nil {
			return nil, 0, err
		}
		if now[ref], err = ss.pool.Env().Inputs(ctx, k); err != nil {
			return nil, 0, err
		}
	}
	inPlan := map[results.Cell]bool{}
	for _, c := range plan.Cells {
		inPlan[c] = true
	}
	var kept []results.Record
	stale := map[results.Cell]bool{}
	ss.inputs = now
	for _, r := range ss.prior {
		if ss.stale(r) {
			if inPlan[r.Cell] {
				stale[r.Cell] = true
			}
			continue
		}
		kept = append(kept, r)
	}
	for _, r := range kept {
		delete(stale, r.Cell)
	}
	return kept, len(stale), nil
}

// stale reports whether a record was measured with other inputs than the
// kernel's now (a record without them, a boot that failed or an older
// runmatrix's, is taken as it is).
func (ss *session) stale(r results.Record) bool {
	return ss.inputs != nil && r.KernelInfo.Inputs != "" && r.KernelInfo.Inputs != ss.inputs[r.Kernel]
}

// fold reads the journal and folds the records of the plan's cells.
func (ss *session) fold(s *spec.Spec, plan *matrix.Plan) (*results.Results, error) {
	recs, err := results.ReadJournal(ss.journalPath)
	if err != nil {
		return nil, err
	}
	inPlan := map[results.Cell]bool{}
	for _, c := range plan.Cells {
		inPlan[c] = true
	}
	var kept []results.Record
	for _, rec := range recs {
		if inPlan[rec.Cell] && !ss.stale(rec) {
			kept = append(kept, rec)
		}
	}
	return results.Fold(s, kept, ss.cases), nil
}

func (ss *session) close() {
	ss.pool.Close()
	ss.journal.Close()
	ss.lock.Close() // releases the flock
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

// writeReports writes every report into dir, each atomically.
func writeReports(dir string, res *results.Results) error {
	if err := res.WriteJSON(filepath.Join(dir, resultsFile)); err != nil {
		return err
	}
	t := report.NewTable(res)
	for name, render := range map[string]func(io.Writer) error{
		tableFile:    func(w io.Writer) error { return report.RenderText(w, t, false, 0) },
		markdownFile: func(w io.Writer) error { return report.RenderMarkdown(w, t) },
		junitFile:    func(w io.Writer) error { return report.RenderJUnit(w, res) },
		htmlFile:     func(w io.Writer) error { return report.RenderHTML(w, t) },
	} {
		if err := store.WriteAtomic(filepath.Join(dir, name), 0o644, render); err != nil {
			return err
		}
	}
	return nil
}

// printResults prints res on w in format; colour only when w is a terminal.
func printResults(w io.Writer, maybeTTY bool, format string, res *results.Results) error {
	t := report.NewTable(res)
	switch format {
	case "table":
		colour, width := false, 0
		if fd, ok := w.(*os.File); ok && maybeTTY {
			colour = term.IsTerminal(int(fd.Fd()))
			if colour {
				width, _, _ = term.GetSize(int(fd.Fd()))
			}
		}
		// $COLUMNS sets the width the table must fit, as for ls; a pipe
		// without it gets the whole grid.
		if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
			width = n
		}
		return report.RenderText(w, t, colour, width)
	case "markdown":
		return report.RenderMarkdown(w, t)
	case "json":
		b, err := jsonIndent(res)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "junit":
		return report.RenderJUnit(w, res)
	case "html":
		return report.RenderHTML(w, t)
	}
	return nil
}

// cannotBeHad reports whether an optional kernel's error only says it
// cannot be had here (not cached under --offline, a mirror out of reach),
// so the run goes on without it; other bad input stops the run.
func cannotBeHad(err error) bool {
	var nc *kernels.NotCachedError
	return !badInput(err) || errors.As(err, &nc)
}

// badInput reports whether err is the user's input being wrong (exit 2).
func badInput(err error) bool {
	var ue *usageError
	var se *spec.SpecError
	var nr *results.NotResultsError
	var me *results.MergeError
	var ke *matrix.KernelsError
	var ie *kernels.InputError
	var nc *evidence.NoCells
	var fe *evidence.FieldError
	switch {
	case errors.As(err, &nc), errors.As(err, &fe):
		return true
	case errors.As(err, &ue), errors.As(err, &se), errors.As(err, &nr), errors.As(err, &me):
		return true
	case errors.As(err, &ke):
		for _, e := range ke.Errs {
			if !errors.As(e, &ie) {
				return false
			}
		}
		return true
	}
	return errors.As(err, &ie) || userInput(err)
}
