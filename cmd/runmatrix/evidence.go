package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/matrix/evidence"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/testcases"
)

func newEvidenceCmd() *cobra.Command {
	var (
		f    runFlags
		from string
	)
	cmd := &cobra.Command{
		Use:   "evidence (--case GLOB | -- PROGRAM ARGS...) (--kernel K... | --from results.json) [--out report/]",
		Short: "Write a bug-report bundle (REPORT.md, repro.c, bootable kernels) for cells that differ between kernels",
		Long: `Write OUT/REPORT.md and its attachments for the chosen cases: a statement of
the difference and a kernel × outcome table; the first mainline release measured
with each outcome, or the bisect command that would find it; per kernel the
exact version string, arch, how the image was obtained, the sysctls in force,
the ordered syscall trace and the guest console lines; how to re-run. The
bundle boots without runmatrix: per kernel the image, an initramfs with the
same init, agent and modules (SSH keys made for the bundle), the client key,
the kernel's .config where the package or image has one, and a QEMU command
line that boots when pasted in OUT. repro.c is a standalone C reproducer
generated from the case's steps that prints the same outcome line and exits 0
on the oldest kernel's outcome, 1 on any other (--new-is-good swaps them), for
git bisect run.

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
			cases, err := f.user.catalogue().Select(f.cases)
			if err != nil {
				return usage("%v", err)
			}
			if from == "" && len(f.kernels) == 0 {
				return usage("evidence needs either --kernel (at least two) or --from results.json")
			}
			if from == "" && len(f.kernels) < 2 {
				return usage("evidence compares kernels: give at least two --kernel")
			}
			if err := chooseOut(&f.out, false, "evidence", cmd.ErrOrStderr()); err != nil {
				return err
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
			var nd *evidence.NoDifference
			if err := evidence.Check(res, testcases.IDs(cases)); errors.As(err, &nd) {
				fmt.Fprintln(cmd.OutOrStdout(), nd.Error())
				return nil
			} else if err != nil {
				return err
			}
			boots, err := portables(cmd.Context(), &f, res, testcases.IDs(cases), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			opts := evidence.Options{Cases: testcases.IDs(cases), Rerun: rerun(f, from), Boots: boots}
			if len(f.program) > 0 {
				opts.Program = programArgv(f.program)
			}
			files, err := evidence.Write(f.out, res, opts)
			if err != nil {
				return err
			}
			for _, name := range files {
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(f.out, name))
			}
			var bootFiles []string
			for _, b := range boots {
				bootFiles = append(bootFiles, b.Kernel, b.Initrd, b.Key)
				if b.Config != "" {
					bootFiles = append(bootFiles, b.Config)
				}
			}
			sort.Strings(bootFiles)
			for _, name := range bootFiles {
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(f.out, name))
			}
			return nil
		},
	}
	f.gf.registerCells(cmd.Flags())
	fl := cmd.Flags()
	fl.StringArrayVar(&f.cases, "case", nil, "case ID glob (repeatable)")
	fl.StringArrayVar(&f.kernels, "kernel", nil, "kernel to run the cases on (repeatable), or to keep from --from")
	fl.StringArrayVar(&f.profiles, "profile", nil, "sysctl profile (repeatable; default \"default\", or all in --from)")
	fl.StringVar(&from, "from", "", "take the cells from this results.json instead of running")
	fl.StringVar(&f.out, "out", "", "output directory (default: a new folder under ~/.local/state/runmatrix/runs, which runs/latest names)")
	f.registerCases(fl)
	return cmd
}

// portables writes, for each kernel with a cell of the cases, the files
// that boot its guest from the bundle (image, initramfs, key, .config).
func portables(ctx context.Context, f *runFlags, res *results.Results, cases []string, stderr io.Writer) (map[string]evidence.Boot, error) {
	var refs []string
	labels := map[string]string{}
	for _, c := range res.Cells {
		if contains(cases, c.Case) && labels[c.Kernel] == "" {
			refs = append(refs, c.Kernel)
			labels[c.Kernel] = c.KernelInfo.Label()
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	pool, err := f.gf.pool(func(s string) { fmt.Fprintln(stderr, s) })
	if err != nil {
		return nil, err
	}
	if err := f.user.attach(ctx, pool, refs); err != nil {
		return nil, err
	}
	boots := map[string]evidence.Boot{}
	stems := map[string]bool{}
	for _, ref := range refs {
		stem := fileStem(labels[ref])
		for n := 2; stems[stem]; n++ {
			stem = fmt.Sprintf("%s-%d", fileStem(labels[ref]), n)
		}
		stems[stem] = true
		p, err := pool.WritePortable(ctx, ref, f.out, stem)
		if err != nil {
			return nil, fmt.Errorf("bundle files for %s: %w", ref, err)
		}
		boots[ref] = evidence.Boot{Kernel: p.Kernel, Initrd: p.Initrd, Key: p.Key, Config: p.Config, InitrdSHA256: p.InitrdSHA256, Command: p.Command, SSH: p.SSH}
	}
	return boots, nil
}

// fileStem turns a column label into a file name stem ("2.6.32-Ubuntu-file").
func fileStem(label string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, label), "-.")
}

// filter keeps the cells of the given kernels and profiles (all when empty).
func filter(res *results.Results, kernels, profiles []string) *results.Results {
	out := &results.Results{Format: res.Format, Spec: res.Spec, Cases: res.Cases}
	for _, c := range res.Cells {
		if (len(kernels) == 0 || contains(kernels, c.Kernel)) && (len(profiles) == 0 || contains(profiles, c.Profile)) {
			out.Cells = append(out.Cells, c)
		}
	}
	return out
}

// rerun is the command that reproduces the report, one argument a string.
func rerun(f runFlags, from string) []string {
	args := []string{"runmatrix", "evidence"}
	for _, c := range f.cases {
		args = append(args, "--case", c)
	}
	for _, k := range f.kernels {
		// A kernel file named relative to where evidence ran is made
		// absolute, as the program is: the line runs wherever pasted.
		if fi, err := os.Stat(k); err == nil && fi.Mode().IsRegular() {
			if abs, err := filepath.Abs(k); err == nil {
				k = abs
			}
		}
		args = append(args, "--kernel", k)
	}
	for _, p := range f.profiles {
		args = append(args, "--profile", p)
	}
	if from != "" {
		args = append(args, "--from", from)
	}
	if f.trace {
		args = append(args, "--trace")
	}
	if len(f.program) > 0 {
		args = append(append(args, "--"), programArgv(f.program)...)
	}
	return args
}

// programArgv is the program and its arguments as a command line pasted
// elsewhere runs it: a relative path made absolute.
func programArgv(program []string) []string {
	out := append([]string(nil), program...)
	if abs, err := filepath.Abs(out[0]); err == nil && strings.ContainsRune(out[0], '/') {
		out[0] = abs
	}
	return out
}
