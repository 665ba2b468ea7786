package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/userprog"
	"github.com/runmatrix/runmatrix/matrix/evidence"
	"github.com/runmatrix/runmatrix/matrix/results"
	"github.com/runmatrix/runmatrix/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases"
)

func newEvidenceCmd() *cobra.Command {
	var (
		f    runFlags
		from string
	)
	cmd := &cobra.Command{
		Use:   "evidence (--case GLOB | -- PROGRAM ARGS...) (--kernel K... | --from results.json) [--out report/]",
		Short: "Write a bug-report bundle (REPORT.md, repro.c) for cells that differ between kernels",
		Long: `Write OUT/REPORT.md and its attachments for the chosen cases: a statement of
the difference and a kernel × outcome table; per kernel the exact version
string, arch, how the image was obtained, the sysctls in force, the ordered
syscall trace and the guest console lines; how to re-run (the runmatrix
command, the QEMU command line, the agent's sha256); and repro.c, a standalone
C reproducer generated from the case's steps that prints the same outcome line.

With --kernel the cases are run now (boots each kernel once); with --from the
cells come from an earlier run's results.json. When the chosen kernels agree,
it says so and writes nothing.`,
		Args: programArgs(&f),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.cases) == 0 && len(f.program) > 0 {
				f.cases = []string{userprog.DefaultID(f.program[0])}
			}
			if len(f.cases) == 0 {
				return usage("evidence needs --case GLOB (list cases with `runmatrix cases list`) or -- PROGRAM ARGS")
			}
			if err := f.user.load(cmd.Context(), nil); err != nil {
				return err
			}
			if err := f.loadPrograms(&spec.Spec{}); err != nil {
				return err
			}
			cases, err := testcases.Select(f.cases)
			if err != nil {
				return usage("%v", err)
			}
			if from == "" && len(f.kernels) == 0 {
				return usage("evidence needs either --kernel (at least two) or --from results.json")
			}
			var res *results.Results
			if from != "" {
				if res, err = results.Read(from); err != nil {
					return err
				}
				res = filter(res, f.kernels, f.profiles)
			} else {
				if len(f.kernels) < 2 {
					return usage("evidence compares kernels: give at least two --kernel")
				}
				run := f
				run.bare, run.format, run.out = true, "none", filepath.Join(f.out, "run")
				s, plan, err := run.plan(cmd.Context())
				if err != nil {
					return err
				}
				res, err = measure(cmd.Context(), &run, s, plan, cmd.ErrOrStderr())
				if res == nil || cmd.Context().Err() != nil {
					return err
				}
			}
			files, err := evidence.Write(f.out, res, evidence.Options{Cases: testcases.IDs(cases), Rerun: rerun(f, from)})
			var nd *evidence.NoDifference
			if errors.As(err, &nd) {
				fmt.Fprintln(cmd.OutOrStdout(), nd.Error())
				return nil
			}
			if err != nil {
				return err
			}
			for _, name := range files {
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(f.out, name))
			}
			return nil
		},
	}
	f.gf.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&f.cases, "case", nil, "case ID glob (repeatable)")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "kernel to run the cases on (repeatable), or to keep from --from")
	fl.StringArrayVar(&f.profiles, "profile", nil, "sysctl profile (repeatable; default \"default\", or all in --from)")
	fl.StringVar(&from, "from", "", "take the cells from this results.json instead of running")
	fl.StringVar(&f.out, "out", "report", "output directory")
	f.registerCases(fl)
	return cmd
}

// filter keeps the cells of the given kernels and profiles (all when empty).
func filter(res *results.Results, kernels, profiles []string) *results.Results {
	out := &results.Results{Format: res.Format, Spec: res.Spec}
	for _, c := range res.Cells {
		if (len(kernels) == 0 || contains(kernels, c.Kernel)) && (len(profiles) == 0 || contains(profiles, c.Profile)) {
			out.Cells = append(out.Cells, c)
		}
	}
	return out
}

// rerun is the command that reproduces the report.
func rerun(f runFlags, from string) string {
	args := []string{"runmatrix", "evidence"}
	for _, c := range f.cases {
		args = append(args, "--case", shellQuote(c))
	}
	for _, k := range f.kernels {
		args = append(args, "--kernel", shellQuote(k))
	}
	for _, p := range f.profiles {
		args = append(args, "--profile", shellQuote(p))
	}
	if from != "" {
		args = append(args, "--from", shellQuote(from))
	}
	return strings.Join(append(args, "--out", shellQuote(f.out)), " ")
}

func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return strings.ContainsRune(" *?[]'\"$&;|<>()\\", r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
