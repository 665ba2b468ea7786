package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/matrix/report"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/internal/inguest/caserun"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

func newCasesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cases",
		Short: "List the test cases and run them on the host or on one kernel",
	}
	cmd.AddCommand(newCasesListCmd(), newCasesRunCmd())
	return cmd
}

func newCasesListCmd() *cobra.Command {
	var (
		asJSON bool
		user   userCode
	)
	cmd := &cobra.Command{
		Use:   "list [--cases DIR]...",
		Short: "Show each case ID with its one-line purpose, and the sysctl profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := user.load(cmd.Context(), nil); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(user.catalogue().All())
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CASE\tFAMILIES\tPURPOSE")
			for _, c := range user.catalogue().All() {
				fams := []string{testcases.IPv4}
				if c.RunsOver(testcases.IPv6) {
					fams = append(fams, testcases.IPv6)
				}
				title := c.Title
				if n := configConditioned(c); n > 0 {
					title += fmt.Sprintf(" [expectations by kernel config or lineage: %d]", n)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, strings.Join(fams, ","), title)
			}
			fmt.Fprintln(tw, "\nPROFILE\tSYSCTLS")
			for _, p := range testcases.Profiles() {
				var kv []string
				for k, v := range p.Sysctls {
					kv = append(kv, k+"="+v)
				}
				fmt.Fprintf(tw, "%s\t%s\n", p.Name, strings.Join(append(kv, "("+p.About+")"), " "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the cases, with their sources and expectations, as JSON")
	cmd.Flags().StringArrayVar(&user.dirs, "cases", nil, "also list the cases of the Go package in this directory (repeatable)")
	return cmd
}

func newCasesRunCmd() *cobra.Command {
	var (
		gf       guestFlags
		local    bool
		kernels  []string
		globs    []string
		profiles []string
		asJSON   bool
		steps    bool
		user     userCode
		rf       runFlags // the program after --
	)
	cmd := &cobra.Command{
		Use:   "run (--local | --kernel KERNEL) [--case GLOB]... [--profile P]... [--cases DIR]... [-- PROGRAM ARGS...]",
		Short: "Run cases on the host kernel (--local, as root, each in a fresh network namespace) or in one guest",
		Args:  programArgs(&rf),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(kernels) > 1 {
				return usage("cases run boots one kernel, and %d --kernel were given: for several, run `runmatrix run --kernel %s`", len(kernels), strings.Join(kernels, " --kernel "))
			}
			kernel := ""
			if len(kernels) == 1 {
				kernel = kernels[0]
			}
			if local == (kernel != "") {
				return usage("cases run needs exactly one of --local or --kernel KERNEL")
			}
			if local && (len(user.dirs) > 0 || len(rf.program) > 0) {
				return usage("--local runs only the built-in cases: your own cases and programs run only in a guest (give --kernel)")
			}
			explicit := len(globs) > 0
			if err := user.load(cmd.Context(), nil); err != nil {
				return err
			}
			if !explicit {
				globs = user.ids()
			}
			if len(rf.program) > 0 {
				p, err := rf.cliProgram()
				if err != nil {
					return err
				}
				if err := user.addPrograms([]*userprog.Program{p}); err != nil {
					return err
				}
				if !explicit {
					globs = append(globs, p.ID)
				}
			}
			cases, err := user.catalogue().Select(globs)
			if err != nil {
				return usage("%v", err)
			}
			if len(profiles) == 0 {
				profiles = []string{"default"}
			}
			var profs []testcases.Profile
			for _, name := range profiles {
				p, err := testcases.ParseProfile(name)
				if err != nil {
					return usage("%v", err)
				}
				profs = append(profs, p)
			}
			out := resultPrinter(cmd.OutOrStdout(), asJSON, steps)
			var recs []results.Record
			emit := func(r results.Record) { recs = append(recs, r); out(r) }
			if local {
				err = runLocal(cmd.Context(), cases, profs, emit)
			} else {
				err = runInGuest(cmd.Context(), &gf, &user, kernel, cases, profs, emit, cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Outcome.Status != outcome.OK {
					return exitError{1}
				}
			}
			return nil
		},
	}
	gf.registerCells(cmd.Flags())
	cmd.Flags().BoolVar(&local, "local", false, "run on the host kernel (needs root)")
	cmd.Flags().StringArrayVar(&kernels, "kernel", nil, "boot this kernel and run the cases in it (one)")
	cmd.Flags().StringArrayVar(&globs, "case", nil, "case ID glob, e.g. 'tfo.*' (repeatable; default all)")
	cmd.Flags().StringArrayVar(&profiles, "profile", nil, "sysctl profile, e.g. tfo=3 (repeatable; default \"default\")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON result per line")
	cmd.Flags().BoolVar(&steps, "steps", false, "print each case's syscall trace")
	cmd.Flags().StringArrayVar(&user.dirs, "cases", nil, "directory of a Go package with your own cases, linked into the agent (repeatable; with --kernel)")
	cmd.Flags().DurationVar(&rf.progTimeout, "program-timeout", defaultProgramTimeout, "with -- PROGRAM: kill the program and all it started after this long")
	cmd.Flags().BoolVar(&rf.trace, "trace", false, "record every socket call of the program (ptrace), with errno and signals, as steps")
	return cmd
}

// runLocal runs the cases on the host kernel through this binary's hidden
// case-child command.
func runLocal(ctx context.Context, cases []*testcases.Case, profs []testcases.Profile, emit func(results.Record)) error {
	if os.Geteuid() != 0 {
		return usage("cases run --local needs root (network namespaces, sysctls, raw sockets): run it with sudo")
	}
	r, err := caserun.NewRunner()
	if err != nil {
		return err
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	k := results.Kernel{Ref: "local", Release: unix.ByteSliceToString(uts.Release[:]), Arch: unix.ByteSliceToString(uts.Machine[:])}
	return r.RunAll(ctx, cases, profs, func(res outcome.Result) {
		emit(results.Record{Cell: results.Cell{Key: results.Key{Case: res.Case, Profile: res.Profile, Kernel: "local"}, Rep: 1},
			KernelInfo: k, Outcome: res.Outcome, Attempt: 1, Time: time.Now().UTC()})
	})
}

// runInGuest runs the cells of cases × profiles on one kernel with the
// scheduler a matrix run uses (a lost guest replaced once, a failed boot
// recorded in every cell, a Fresh case's cells each on a guest of its
// own), passing on each result as it arrives.
func runInGuest(ctx context.Context, gf *guestFlags, user *userCode, ref string, cases []*testcases.Case, profiles []testcases.Profile, emit func(results.Record), log io.Writer) error {
	pool, err := gf.pool(func(s string) { fmt.Fprintln(log, s) })
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Prepare(ctx, ref); err != nil {
		return err
	}
	if err := user.attach(ctx, pool, []string{ref}); err != nil {
		return err
	}
	sp := &spec.Spec{Source: "cases run", Kernels: []string{ref}, Repeat: 1}
	for _, c := range cases {
		sp.Cases = append(sp.Cases, c.ID)
	}
	for _, p := range profiles {
		sp.Profiles = append(sp.Profiles, p.Name)
	}
	plan, err := matrix.NewPlan(sp, user.catalogue())
	if err != nil {
		return usage("%v", err)
	}
	sched := &matrix.Scheduler{Pool: pool, Progress: &casesProgress{log: log, emit: emit},
		Log: func(s string) { fmt.Fprintln(log, s) }, Fresh: freshCell(user.catalogue())}
	return sched.Run(ctx, plan)
}

// casesProgress prints, for cases run, how the guest came up and why it
// failed, and passes each record on.
type casesProgress struct {
	log   io.Writer
	emit  func(results.Record)
	ready bool
}

func (p *casesProgress) Kernel(ref, state string) {
	if strings.HasPrefix(state, "failed: ") {
		fmt.Fprintf(p.log, "%s: %s\n", ref, state)
	}
}

func (p *casesProgress) Cell(r results.Record) {
	if !p.ready && r.KernelInfo.Release != "" {
		p.ready = true
		k := r.KernelInfo
		fmt.Fprintf(p.log, "%s: %s %s ready after %.1fs over %s (%s)\n", k.Ref, k.Release, k.Arch, k.ReadyS, k.Transport, k.Accel)
	}
	p.emit(r)
}

// resultPrinter prints results one by one as text or JSON lines.
func resultPrinter(w io.Writer, asJSON, steps bool) func(results.Record) {
	if asJSON {
		enc := json.NewEncoder(w)
		return func(r results.Record) { _ = enc.Encode(r) }
	}
	return func(r results.Record) {
		o := r.Outcome
		fmt.Fprintf(w, "%-28s %-10s %s\n", r.Case, r.Profile, o.Marked())
		if o.Error != "" && o.Status != outcome.ProfileUnavailable && o.Status != outcome.FamilyUnavailable {
			fmt.Fprintf(w, "%-28s %-10s   %s: %s\n", "", "", o.Status, o.Error)
		}
		if !steps {
			return
		}
		for _, line := range strings.Split(strings.TrimRight(report.Trace(o), "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

// newCaseChildCmd is the hidden command local runs re-execute for each case.
func newCaseChildCmd() *cobra.Command {
	return &cobra.Command{
		Use:                caserun.ChildCommand,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := caserun.Child(args, os.Stdout); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

// configConditioned counts a case's expectations that depend on the
// kernel's configuration or a distribution's lineage.
func configConditioned(c *testcases.Case) int {
	n := 0
	for _, e := range c.Expect {
		if len(e.Config) > 0 || e.Lineage != "" {
			n++
		}
	}
	return n
}
