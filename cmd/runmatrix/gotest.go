package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/usergo"
	"github.com/runmatrix/runmatrix/testcases"
)

func newGoTestCmd() *cobra.Command {
	var (
		f       runFlags
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gotest [--kernel K]... [--profile P]... PACKAGES... [-- TESTFLAGS]",
		Short: "Run go test packages on every kernel: each test function is a row of the table",
		Long: `Run Go test packages in guests, each test function a row (gotest:IMPORTPATH.TestName,
subtests as rows of their own), its cell PASS, FAIL or SKIP with the test's
output in the trace. PACKAGES are patterns as for go test (./..., std
packages such as net). Each package's test binary is built static (CGO off)
for every guest architecture, with Go 1.23 when a kernel needs it, and ships
into the guest with the package directory, so testdata/ and relative paths
work; it runs with -test.v in its own network namespace with lo up, under the
profile's sysctls. Flags after -- go to go test: -run selects rows, -count
repeats them, -timeout bounds one test (default --timeout), others (-short,
-v, your own flags) are passed to the test binary.

Without --kernel the default matrix's kernels are used. Exit status: 0 every
test passed or skipped, 1 a test failed or could not run, 2 bad input.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			patterns, testFlags := args, []string(nil)
			if at := cmd.ArgsLenAtDash(); at >= 0 {
				patterns, testFlags = args[:at], args[at:]
			}
			f.kind = "gotest"
			asked := append(append(append([]string(nil), patterns...), "--"), testFlags...)
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			if f.resume {
				if err := chooseOut(&f.out, true, f.kind, cmd.ErrOrStderr()); err != nil {
					return err
				}
				given := asked
				if len(args) == 0 {
					given = nil
				}
				rec, err := resumePlan(cmd, f.out, gotestPlanFlags, given, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if rec.Dir != "" {
					wd = rec.Dir
				}
				if i := slices.Index(rec.Args, "--"); i >= 0 {
					patterns, testFlags, asked = rec.Args[:i], rec.Args[i+1:], rec.Args
				}
			}
			rec := planOf(cmd.Name(), cmd.Flags(), gotestPlanFlags, asked)
			rec.Dir = wd
			f.record = &rec
			if len(patterns) == 0 {
				return usage("gotest needs package patterns, e.g. `runmatrix gotest ./...` or `runmatrix gotest net -- -short`")
			}
			tf, err := parseTestFlags(testFlags)
			if err != nil {
				return err
			}
			if tf.timeout > 0 {
				timeout = tf.timeout
			}
			if timeout <= 0 {
				return usage("--timeout %s: give a positive duration such as 2m", timeout)
			}
			ts, err := usergo.LoadTests(cmd.Context(), wd, patterns, tf.run)
			if err != nil {
				return err
			}
			ts.Args, ts.Timeout = tf.pass, timeout
			if err := f.user.addTests(ts); err != nil {
				return err
			}
			f.cases = nil
			for _, p := range ts.Packages {
				for _, t := range p.Tests {
					f.cases = append(f.cases, usergo.Row(p.ImportPath, t))
				}
			}
			if tf.count > 0 {
				f.repeat = tf.count
			}
			if len(f.kernels) == 0 {
				d, err := spec.Default()
				if err != nil {
					return err
				}
				f.kernels = d.Kernels
			}
			f.bare = true
			// A guest is lost only if a test outlives its own deadline.
			f.gf.opts.CaseTimeout = max(f.gf.opts.CaseTimeout, timeout+30*time.Second)
			return runMatrix(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.gf.registerCells(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&f.kernels, "kernel", nil, "kernel (repeatable; default: the default matrix's)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "sysctl profile (repeatable; default \"default\")")
	fl.Var(&repeatFlag{&f.repeat, &f.repeatSet}, "repeat", "run each test N times (as -count N); disagreeing runs are flagged flaky")
	fl.DurationVar(&timeout, "timeout", 2*time.Minute, "deadline for one test function (go test's -timeout after -- sets it too)")
	fl.StringVar(&f.out, "out", "", "output directory (default: a new folder under ~/.local/state/runmatrix/runs, which runs/latest names)")
	fl.BoolVar(&f.resume, "resume", false, "continue the run in --out (default: the newest run) as it was started, measuring again cells whose inputs changed")
	fl.StringVar(&f.format, "format", "table", "what to print on stdout: table, markdown, json, junit, html or none")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the whole output of failed tests (else its last 20 lines)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "build the tests and print the plan (kernels resolved, cells per kernel) without booting")
	return cmd
}

// gotestPlanFlags are gotest's flags that decide what it measures.
var gotestPlanFlags = []string{"kernel", "profile", "repeat", "timeout", "append", "cpus", "memory", "nic", "no-modules", "shared"}

// addTests adds each test function to the catalog as a go test row, so
// that selection, the table and reports know it.
func (u *userCode) addTests(ts *usergo.Tests) error {
	for _, p := range ts.Packages {
		for _, t := range p.Tests {
			id := usergo.Row(p.ImportPath, t)
			if k, ok := u.catalogue().Kind(id); ok && k == catalog.GoTest {
				continue // the same package named twice
			}
			c := testcases.Case{ID: id, Title: "go test " + p.ImportPath + " -run ^" + t + "$", Source: "go test", Timeout: ts.Timeout}
			if err := u.add(catalog.GoTest, c); err != nil {
				return err
			}
		}
	}
	u.tests = ts
	return nil
}

// testFlags are go test's flags as gotest reads them.
type testFlags struct {
	run     *regexp.Regexp
	count   int
	timeout time.Duration
	// pass go to the test binary.
	pass []string
}

// testingFlags are the testing package's flags (go test spells them without
// "test."); the value is whether the flag takes a value.
var testingFlags = map[string]bool{
	"bench": true, "benchmem": false, "benchtime": true, "blockprofile": true, "blockprofilerate": true, "count": true,
	"coverprofile": true, "cpu": true, "cpuprofile": true, "failfast": false, "fullpath": false, "list": true,
	"memprofile": true, "memprofilerate": true, "mutexprofile": true, "mutexprofilefraction": true, "outputdir": true,
	"parallel": true, "run": true, "short": false, "shuffle": true, "skip": true, "timeout": true, "trace": true, "v": false,
}

// parseTestFlags reads the flags after --: -run, -count and -timeout shape
// the plan; testing flags are passed on as -test.NAME; anything else (the
// package's own flags) is passed on as given.
func parseTestFlags(args []string) (testFlags, error) {
	var tf testFlags
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			tf.pass = append(tf.pass, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		name = strings.TrimPrefix(name, "test.")
		takes, known := testingFlags[name]
		if !known {
			tf.pass = append(tf.pass, a)
			continue
		}
		if takes && !hasVal {
			if i+1 >= len(args) {
				return tf, usage("go test flag -%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch name {
		case "run":
			re, err := regexp.Compile(strings.SplitN(val, "/", 2)[0])
			if err != nil {
				return tf, usage("-run %q: %v", val, err)
			}
			tf.run = re
		case "count":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 100 {
				return tf, usage("-count %q: give a number from 1 to 100", val)
			}
			tf.count = n
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return tf, usage("-timeout %q: give a duration such as 90s", val)
			}
			tf.timeout = d
		case "v":
			// Rows are read from -test.v output, which is always on.
		case "list", "bench", "benchtime", "benchmem", "cpuprofile", "memprofile", "blockprofile", "mutexprofile", "coverprofile", "trace", "outputdir":
			return tf, usage("go test flag -%s is not supported by gotest (rows are test functions; profiles would stay in the guest)", name)
		default:
			if takes {
				tf.pass = append(tf.pass, "-test."+name+"="+val)
			} else {
				if hasVal {
					tf.pass = append(tf.pass, "-test."+name+"="+val)
				} else {
					tf.pass = append(tf.pass, "-test."+name)
				}
			}
		}
	}
	return tf, nil
}
