package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/caserun"
	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/matrix"
	"github.com/runmatrix/runmatrix/outcome"
	"github.com/runmatrix/runmatrix/testcases"
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
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show each case ID with its one-line purpose, and the sysctl profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(testcases.All())
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CASE\tPURPOSE")
			for _, c := range testcases.All() {
				fmt.Fprintf(tw, "%s\t%s\n", c.ID, c.Title)
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
	return cmd
}

func newCasesRunCmd() *cobra.Command {
	var (
		gf       guestFlags
		local    bool
		kernel   string
		globs    []string
		profiles []string
		asJSON   bool
		steps    bool
	)
	cmd := &cobra.Command{
		Use:   "run (--local | --kernel KERNEL) [--case GLOB]... [--profile P]...",
		Short: "Run cases on the host kernel (--local, as root, each in a fresh network namespace) or in one guest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if local == (kernel != "") {
				return &guest.UsageError{Msg: "cases run needs exactly one of --local or --kernel KERNEL"}
			}
			cases, err := testcases.Select(globs)
			if err != nil {
				return &guest.UsageError{Msg: err.Error()}
			}
			if len(profiles) == 0 {
				profiles = []string{"default"}
			}
			var profs []testcases.Profile
			for _, name := range profiles {
				p, err := testcases.ParseProfile(name)
				if err != nil {
					return &guest.UsageError{Msg: err.Error()}
				}
				profs = append(profs, p)
			}
			out := resultPrinter(cmd.OutOrStdout(), asJSON, steps)
			var results []outcome.Result
			emit := func(r outcome.Result) { results = append(results, r); out(r) }
			if local {
				err = runLocal(cmd.Context(), cases, profs, emit)
			} else {
				err = runInGuest(cmd.Context(), &gf, kernel, cases, profiles, emit, cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Outcome.Status != outcome.OK {
					return exitError{1}
				}
			}
			return nil
		},
	}
	gf.register(cmd.Flags())
	cmd.Flags().BoolVar(&local, "local", false, "run on the host kernel (needs root)")
	cmd.Flags().StringVar(&kernel, "kernel", "", "boot this kernel and run the cases in it")
	cmd.Flags().StringArrayVar(&globs, "case", nil, "case ID glob, e.g. 'tfo.*' (repeatable; default all)")
	cmd.Flags().StringArrayVar(&profiles, "profile", nil, "sysctl profile, e.g. tfo=3 (repeatable; default \"default\")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON result per line")
	cmd.Flags().BoolVar(&steps, "steps", false, "print each case's syscall trace")
	return cmd
}

// runLocal runs the cases on the host kernel through this binary's hidden
// case-child command.
func runLocal(ctx context.Context, cases []*testcases.Case, profs []testcases.Profile, emit func(outcome.Result)) error {
	if os.Geteuid() != 0 {
		return &guest.UsageError{Msg: "cases run --local needs root (network namespaces, sysctls, raw sockets): run it with sudo"}
	}
	r, err := caserun.NewRunner()
	if err != nil {
		return err
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	k := &outcome.Kernel{Ref: "local", Release: unix.ByteSliceToString(uts.Release[:]), Arch: unix.ByteSliceToString(uts.Machine[:])}
	return r.RunAll(ctx, cases, profs, func(res outcome.Result) { res.Kernel = k; emit(res) })
}

// runInGuest boots one kernel and runs the cases with its agent, passing on
// each result as the agent prints it.
func runInGuest(ctx context.Context, gf *guestFlags, ref string, cases []*testcases.Case, profiles []string, emit func(outcome.Result), log io.Writer) error {
	if _, err := kernels.ParseRef(ref); err != nil {
		return &guest.UsageError{Msg: err.Error()}
	}
	cache, err := gf.cache()
	if err != nil {
		return err
	}
	env, err := guest.NewEnv(cache, gf.opts)
	if err != nil {
		return err
	}
	k, err := gf.resolver(cache, func(s string) { fmt.Fprintln(log, s) }).Resolve(ctx, ref)
	if err != nil {
		return err
	}
	accel, why, err := guest.ChooseAccel(ctx, env, gf.accel, k)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "accelerator: %s (%s)\n", accel, why)
	g, err := guest.Boot(ctx, env, k, accel)
	if err != nil {
		return err
	}
	defer g.Close()
	transport := g.Ready.Transport
	if g.Ready.Driver != "" {
		transport += " (" + g.Ready.Driver + ")"
	}
	fmt.Fprintf(log, "%s: %s %s ready after %.1fs over %s\n", ref, g.Probe.Release, g.Probe.Machine, g.ReadyAfter.Seconds(), transport)
	kern := &outcome.Kernel{Ref: ref, Release: g.Probe.Release, Arch: g.Probe.Machine}
	var args []string
	for _, c := range cases {
		args = append(args, "-case", c.ID)
	}
	for _, p := range profiles {
		args = append(args, "-profile", p)
	}
	err = g.RunCases(ctx, func(r outcome.Result) error {
		r.Kernel = kern
		emit(r)
		return nil
	}, args...)
	if err != nil {
		return fmt.Errorf("agent on %s: %w", ref, err)
	}
	return nil
}

// resultPrinter prints results one by one as text or JSON lines.
func resultPrinter(w io.Writer, asJSON, steps bool) func(outcome.Result) {
	if asJSON {
		enc := json.NewEncoder(w)
		return func(r outcome.Result) { _ = enc.Encode(r) }
	}
	return func(r outcome.Result) {
		o := r.Outcome
		fmt.Fprintf(w, "%-28s %-10s %s\n", r.Case, r.Profile, o.Summary)
		if o.Error != "" && o.Status != outcome.ProfileUnavailable {
			fmt.Fprintf(w, "%-28s %-10s   %s: %s\n", "", "", o.Status, o.Error)
		}
		if !steps {
			return
		}
		for _, line := range strings.Split(strings.TrimRight(matrix.Trace(o), "\n"), "\n") {
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
