package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/matrix/report"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
)

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// diffKinds are what --fail-on can name.
var diffKinds = []string{"changed", "added", "missing", "moved"}

func newDiffCmd() *cobra.Command {
	var format string
	var failOn []string
	cmd := &cobra.Command{
		Use:   "diff BASE.json NEW.json",
		Short: "Show cells whose outcome changed between two results.json (exit 1 on a changed cell)",
		Long: `Compare two results.json cell by cell, matched by what was asked: case,
profile and kernel reference (debian:6.12, a file's path). A reference that
resolved to another kernel in the new run (a new ABI, a rebuild) is listed
as moved, with both identities, and its cells are compared like any other.
Cells only one run has are listed apart and are not changes. Exit status: 1
when a cell changed (or what --fail-on names happened), 0 otherwise, 2 bad
usage.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "json" {
				return usage("--format %q: use markdown or json", format)
			}
			fail := map[string]bool{}
			for _, k := range failOn {
				if !contains(diffKinds, k) {
					return usage("--fail-on %q: use changed, added, missing or moved", k)
				}
				fail[k] = true
			}
			base, err := results.Read(args[0])
			if err != nil {
				return err
			}
			next, err := results.Read(args[1])
			if err != nil {
				return err
			}
			d := results.Compare(base, next)
			if format == "json" {
				err = report.RenderDiffJSON(cmd.OutOrStdout(), d)
			} else {
				err = report.RenderDiffMarkdown(cmd.OutOrStdout(), d)
			}
			if err != nil {
				return err
			}
			if fail["changed"] && len(d.Changed) > 0 || fail["added"] && len(d.Added) > 0 ||
				fail["missing"] && len(d.Missing) > 0 || fail["moved"] && len(d.Moved) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	cmd.Flags().StringSliceVar(&failOn, "fail-on", []string{"changed"}, "what makes the exit status 1: changed, added (cells only the new run has), missing (only the base has), moved (a reference resolved to another kernel); comma-separated")
	return cmd
}

func newMergeCmd() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "merge -o OUT.json IN.json...",
		Short: "Join the results.json of shards (run --shard I/N) into one result set",
		Long: `Join the results.json of the shards of one plan into OUT. Inputs that are not
runmatrix result sets are refused; so are inputs of another results format or
another matrix, and cells that two inputs give different outcomes for, unless
--force. OUT may not be one of the inputs.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usage("merge needs -o OUT.json (the inputs are never overwritten)")
			}
			for _, in := range args {
				if same(in, out) {
					return usage("-o %s is also an input: write the merge to a new file", out)
				}
			}
			var sets []*results.Results
			for _, p := range args {
				r, err := results.Read(p)
				if err != nil {
					return err
				}
				sets = append(sets, r)
			}
			m, err := results.Merge(args, sets, force)
			if err != nil {
				return err
			}
			if err := m.WriteJSON(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d cells from %d result sets in %s\n", len(m.Cells), len(sets), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the merged result set here")
	cmd.Flags().BoolVar(&force, "force", false, "merge inputs of different formats or matrices, keeping the first of disagreeing cells")
	return cmd
}

// same reports whether two paths name one file.
func same(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(ia, ib)
	}
	pa, _ := filepath.Abs(a)
	pb, _ := filepath.Abs(b)
	return pa == pb
}

func newTableCmd() *cobra.Command {
	var format, file string
	cmd := &cobra.Command{
		Use:   "table RESULTS.json",
		Short: "Render a results.json (a run's, or a merge's) as a table or report",
		Long: `Render a results.json. Expectations are judged again as the table is drawn:
against the matrix file given with -f, or else the run's own, so a changed
expectation applies to old results too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(formats, format) || format == "none" {
				return usage("--format %q: use one of table, markdown, json, junit, html", format)
			}
			r, err := results.Read(args[0])
			if err != nil {
				return err
			}
			s := r.Spec
			if file != "" {
				if s, err = spec.Load(file); err != nil {
					return err
				}
			}
			r.Judge(s)
			return printResults(cmd.OutOrStdout(), cmd.OutOrStdout() == os.Stdout, format, r)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, markdown, json, junit or html")
	cmd.Flags().StringVarP(&file, "file", "f", "", "judge against this matrix file's expectations")
	return cmd
}
