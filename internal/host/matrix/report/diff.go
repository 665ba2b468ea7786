package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
)

// RenderDiffMarkdown writes a diff for a bug tracker or PR comment: the
// kernel references that resolved to another kernel, the cells that
// changed, then the cells only one run has, apart.
func RenderDiffMarkdown(w io.Writer, d *results.Diff) error {
	if len(d.Moved) > 0 {
		fmt.Fprintf(w, "## Kernels that moved (%d)\n\n", len(d.Moved))
		for _, m := range d.Moved {
			fmt.Fprintf(w, "- %s: %s → %s\n", mdEscape(m.Kernel), mdEscape(m.Base), mdEscape(m.New))
		}
		fmt.Fprintln(w)
	}
	if len(d.Changed) == 0 {
		fmt.Fprintln(w, "No cell changed: every case and profile gave the same outcome on every kernel reference both runs have.")
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "## Changed (%d)\n\n| case | profile | kernel | base | new |\n|---|---|---|---|---|\n", len(d.Changed))
		for _, c := range d.Changed {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", mdEscape(c.Case), mdEscape(c.Profile), mdEscape(c.Kernel), mdEscape(c.Base), mdEscape(c.New))
		}
		fmt.Fprintln(w)
	}
	for _, sec := range []struct {
		title string
		keys  []results.Key
	}{{"Only in the new run", d.Added}, {"Only in the base run", d.Missing}} {
		if len(sec.keys) == 0 {
			continue
		}
		fmt.Fprintf(w, "## %s (%d, not compared)\n\n", sec.title, len(sec.keys))
		for _, k := range sec.keys {
			fmt.Fprintf(w, "- %s %s on %s\n", mdEscape(k.Case), mdEscape(k.Profile), mdEscape(k.Kernel))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// RenderDiffJSON writes a diff as JSON.
func RenderDiffJSON(w io.Writer, d *results.Diff) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
