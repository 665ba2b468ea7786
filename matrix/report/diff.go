package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/runmatrix/runmatrix/matrix/results"
)

// RenderDiffMarkdown writes a diff for a bug tracker or PR comment.
func RenderDiffMarkdown(w io.Writer, d *results.Diff) error {
	if d.Empty() {
		_, err := fmt.Fprintln(w, "No cell changed: every case, profile and kernel release gave the same outcome.")
		return err
	}
	if len(d.Changed) > 0 {
		fmt.Fprintf(w, "## Changed (%d)\n\n| case | profile | kernel | base | new |\n|---|---|---|---|---|\n", len(d.Changed))
		for _, c := range d.Changed {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Case, c.Profile, c.Kernel, mdEscape(c.Base), mdEscape(c.New))
		}
		fmt.Fprintln(w)
	}
	for _, sec := range []struct {
		title string
		keys  []results.Key
	}{{"Added", d.Added}, {"Missing", d.Missing}} {
		if len(sec.keys) == 0 {
			continue
		}
		fmt.Fprintf(w, "## %s (%d)\n\n", sec.title, len(sec.keys))
		for _, k := range sec.keys {
			fmt.Fprintf(w, "- %s %s on %s\n", k.Case, k.Profile, k.Kernel)
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
