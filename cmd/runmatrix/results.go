package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/matrix"
)

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

func readResults(path string) (*matrix.Results, error) {
	r, err := matrix.ReadResults(path)
	if err != nil {
		return nil, usage("%v", err)
	}
	return r, nil
}

func newDiffCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "diff BASE.json NEW.json",
		Short: "Show cells whose outcome changed between two results.json (exit 1 on any change)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "json" {
				return usage("--format %q: use markdown or json", format)
			}
			base, err := readResults(args[0])
			if err != nil {
				return err
			}
			next, err := readResults(args[1])
			if err != nil {
				return err
			}
			d := matrix.Compare(base, next)
			if format == "json" {
				err = matrix.RenderDiffJSON(cmd.OutOrStdout(), d)
			} else {
				err = matrix.RenderDiffMarkdown(cmd.OutOrStdout(), d)
			}
			if err != nil {
				return err
			}
			if !d.Empty() {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	return cmd
}

func newMergeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "merge OUT.json IN.json...",
		Short: "Join the results.json of shards (run --shard I/N) into one result set",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sets []*matrix.Results
			for _, p := range args[1:] {
				r, err := readResults(p)
				if err != nil {
					return err
				}
				sets = append(sets, r)
			}
			m, err := matrix.Merge(args[1:], sets)
			if err != nil {
				return usage("%v", err)
			}
			if err := m.WriteJSON(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d cells from %d result sets in %s\n", len(m.Cells), len(sets), args[0])
			return nil
		},
	}
}

func newTableCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "table RESULTS.json",
		Short: "Render a results.json (a run's, or a merge's) as a table or report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(formats, format) || format == "none" {
				return usage("--format %q: use one of table, markdown, json, junit, html", format)
			}
			r, err := readResults(args[0])
			if err != nil {
				return err
			}
			return printResults(cmd.OutOrStdout(), cmd.OutOrStdout() == os.Stdout, format, r)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, markdown, json, junit or html")
	return cmd
}
