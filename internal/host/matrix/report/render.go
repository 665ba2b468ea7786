package report

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"

	"github.com/mattn/go-runewidth"
)

// ANSI colours for the terminal table.
const (
	ansiReset  = "\x1b[0m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiBold   = "\x1b[1m"
)

// RenderText writes the terminal table; colour is for TTYs only. Rows that
// differ across kernels are marked "≠", cells whose expectation failed or
// that could not run "✗". With width > 0 a table wider than width is
// pivoted: each row becomes a block with one line per kernel, so it fits
// however many kernels there are (the other formats keep the grid).
func RenderText(w io.Writer, t *Table, colour bool, width int) error {
	header := []string{"", "CASE", "PROFILE"}
	for i := range t.Columns {
		header = append(header, t.Title(i))
	}
	header = append(header, "TRANSITIONS (version order)")
	lines := [][]string{header}
	var styles []string
	styles = append(styles, ansiBold)
	for _, r := range t.Rows {
		mark := " "
		if r.Differs {
			mark = "≠"
		}
		line := []string{mark, r.Case, r.Profile}
		for i, c := range r.Cells {
			text := cellMark(c) + r.CellText(i)
			line = append(line, text)
		}
		line = append(line, transition(r))
		lines = append(lines, line)
		styles = append(styles, rowStyle(r))
	}
	widths := make([]int, len(header))
	total := 0
	for _, l := range lines {
		for i, s := range l {
			widths[i] = max(widths[i], runewidth.StringWidth(s))
		}
	}
	for _, wd := range widths {
		total += wd + 2
	}
	if width > 0 && total > width {
		return renderBlocks(w, t, colour, width)
	}
	for n, l := range lines {
		var b strings.Builder
		for i, s := range l {
			b.WriteString(s)
			if i < len(l)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(s)+2))
			}
		}
		out := strings.TrimRight(b.String(), " ")
		if colour && styles[n] != "" {
			out = styles[n] + out + ansiReset
		}
		if _, err := fmt.Fprintln(w, out); err != nil {
			return err
		}
	}
	return nil
}

// cellMark is what a terminal cell starts with: "✗ " for a failed
// expectation or a cell that could not run, "? " for an expectation that
// could not be judged (the kernel's configuration is not known).
func cellMark(c *results.Result) string {
	switch {
	case c == nil:
		return ""
	case c.Failed():
		return "✗ "
	case c.Expect != nil && c.Expect.Unjudged != "":
		return "? "
	}
	return ""
}

func rowStyle(r Row) string {
	switch {
	case r.Mismatch:
		return ansiRed
	case r.Differs:
		return ansiYellow
	}
	return ""
}

// renderBlocks writes the table pivoted, one block per row: the row's
// title, then one line per kernel ("│" where the outcome changes), then
// its transitions and notes; lines longer than width are cut with "…".
func renderBlocks(w io.Writer, t *Table, colour bool, width int) error {
	tw := 0
	for i := range t.Columns {
		tw = max(tw, runewidth.StringWidth(t.Title(i)))
	}
	var b strings.Builder
	fit := func(s string) string { return runewidth.Truncate(s, width, "…") }
	// A case's outcomes, across its profiles and kernels: a cut one keeps
	// the words where it differs from them visible.
	outcomes := map[string][]string{}
	for _, r := range t.Rows {
		for i, c := range r.Cells {
			if c != nil && !slices.Contains(outcomes[r.Case], r.CellText(i)) {
				outcomes[r.Case] = append(outcomes[r.Case], r.CellText(i))
			}
		}
	}
	for _, r := range t.Rows {
		mark := " "
		if r.Differs {
			mark = "≠"
		}
		title := fit(mark + " " + r.Case + "  " + r.Profile)
		if st := rowStyle(r); colour && st != "" {
			title = st + title + ansiReset
		}
		b.WriteString(title + "\n")
		for i, c := range r.Cells {
			if c == nil {
				continue
			}
			bar := " "
			if r.Boundary(i) {
				bar = "┬"
			}
			lead := "   " + bar + " " + runewidth.FillRight(t.Title(i), tw) + "  " + cellMark(c)
			text := elide(r.CellText(i), outcomes[r.Case], width-runewidth.StringWidth(lead))
			b.WriteString(fit(lead+text) + "\n")
		}
		if r.Returns {
			b.WriteString(fit("     the outcome changes and comes back: not one boundary") + "\n")
		}
		for _, n := range r.Notes {
			b.WriteString(wrap("     note: ", n, width))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// elide fits text in room columns by putting "…" in place of the runs of
// words every outcome in all shares at the same place, so that what is
// left shows where it differs from them; what still does not fit is cut
// at its end. Text that fits is returned as it is.
func elide(text string, all []string, room int) string {
	if runewidth.StringWidth(text) <= room {
		return text
	}
	words := strings.Fields(text)
	others := make([][]string, len(all))
	for i, o := range all {
		others[i] = strings.Fields(o)
	}
	var out []string
	for i, w := range words {
		shared := true
		for _, o := range others {
			if i >= len(o) || o[i] != w {
				shared = false
				break
			}
		}
		switch {
		case !shared:
			out = append(out, w)
		case len(out) == 0 || out[len(out)-1] != "…":
			out = append(out, "…")
		}
	}
	return runewidth.Truncate(strings.Join(out, " "), max(room, 1), "…")
}

// wrap writes text after prefix in lines of at most width columns, the
// following lines indented as far as the prefix.
func wrap(prefix, text string, width int) string {
	var b strings.Builder
	indent := strings.Repeat(" ", runewidth.StringWidth(prefix))
	line := prefix
	for _, word := range strings.Fields(text) {
		if runewidth.StringWidth(line)+1+runewidth.StringWidth(word) > width && strings.TrimSpace(line) != strings.TrimSpace(prefix) {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		if line != prefix && line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// transition is a row's transitions, marked when the outcome comes back.
func transition(r Row) string {
	if r.Returns {
		return r.Transition + " (changes back: not one boundary)"
	}
	return r.Transition
}

// mdEscape keeps a cell's text from breaking a Markdown table.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// RenderMarkdown writes the table as GitHub-flavoured Markdown, for bug
// trackers and pull-request comments.
func RenderMarkdown(w io.Writer, t *Table) error {
	var b strings.Builder
	b.WriteString("| | case | profile |")
	for i := range t.Columns {
		b.WriteString(" " + strings.ReplaceAll(t.Title(i), "|", "\\|") + " |")
	}
	b.WriteString(" transitions (version order) |")
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(t.Columns)+1) + "\n")
	for _, r := range t.Rows {
		mark := ""
		if r.Differs {
			mark = "≠"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |", mark, r.Case, r.Profile)
		for i, c := range r.Cells {
			text := mdEscape(r.CellText(i))
			if c != nil && c.Failed() {
				text = "✗ " + text
				if c.Expect != nil {
					text += " (expected " + mdEscape(c.Expect.Summary) + ")"
				}
			}
			b.WriteString(" " + text + " |")
		}
		if tr := transition(r); tr != "" {
			for _, n := range r.Notes {
				tr += "; note: " + n
			}
			b.WriteString(" " + mdEscape(tr) + " |")
		} else {
			b.WriteString("  |")
		}
		b.WriteString("\n")
	}
	differ := 0
	for _, r := range t.Rows {
		if r.Differs {
			differ++
		}
	}
	fmt.Fprintf(&b, "\n%d of %d rows differ across kernels (≠); ✗ marks a failed expectation or a cell that could not run.\n", differ, len(t.Rows))
	_, err := io.WriteString(w, b.String())
	return err
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// RenderJUnit writes JUnit XML: a suite per kernel, a test per cell; a
// failed expectation or a cell that could not run is a failure.
func RenderJUnit(w io.Writer, r *results.Results) error {
	suites := junitSuites{}
	idx := map[string]int{}
	for _, c := range r.Cells {
		i, ok := idx[c.Kernel]
		if !ok {
			i = len(suites.Suites)
			idx[c.Kernel] = i
			suites.Suites = append(suites.Suites, junitSuite{Name: ColumnTitle(c.KernelInfo)})
		}
		s := &suites.Suites[i]
		tc := junitCase{
			Name: c.Case + " [" + c.Profile + "]", Classname: c.Kernel,
			Time: fmt.Sprintf("%.3f", c.Outcome.DurMS/1000), SystemOut: c.Outcome.Summary + "\n\n" + Trace(c.Outcome),
		}
		if c.Failed() {
			f := &junitFailure{Type: string(c.Outcome.Status), Message: c.Text()}
			switch {
			case c.Outcome.Reported == "FAIL":
				// A go test that failed: its own first failure line, its
				// output in the body, as CI reporters show a test's.
				f.Type, f.Message, f.Text = "test failure", FirstFailure(c.Outcome.Output), c.Outcome.Output
			case c.Expect != nil && !c.Expect.Pass:
				f.Type = "expectation"
				f.Message = fmt.Sprintf("got %q, expected %q", c.Outcome.Summary, c.Expect.Summary)
				f.Text = "source: " + c.Expect.Source
			}
			tc.Failure = f
			s.Failures++
			suites.Failures++
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
		suites.Tests++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// failureLine is a go test's failure message: "    x_test.go:12: text".
var failureLine = regexp.MustCompile(`^\s+\S+\.go:\d+: `)

// FirstFailure is the first line of a failed go test's output that says
// why: its first t.Error/t.Fatal line, else a panic, else "--- FAIL".
func FirstFailure(output string) string {
	var panicked, failed string
	for _, line := range strings.Split(output, "\n") {
		switch {
		case failureLine.MatchString(line):
			return strings.TrimSpace(line)
		case panicked == "" && strings.HasPrefix(line, "panic: "):
			panicked = line
		case failed == "" && strings.HasPrefix(strings.TrimSpace(line), "--- FAIL:"):
			failed = strings.TrimSpace(line)
		}
	}
	switch {
	case panicked != "":
		return panicked
	case failed != "":
		return failed
	}
	return "FAIL"
}

// RenderFailures writes, for each go test or program cell that failed, the
// last lines of its output (all of them with lines <= 0), as go test
// shows a failed test's log.
func RenderFailures(w io.Writer, r *results.Results, lines int) error {
	for _, c := range r.Cells {
		out := strings.TrimRight(c.Outcome.Output, "\n")
		if c.Outcome.Stderr != "" {
			out = strings.TrimRight(out+"\n"+c.Outcome.Stderr, "\n")
		}
		if !c.Failed() || out == "" {
			continue
		}
		ls := strings.Split(out, "\n")
		cut := ""
		if lines > 0 && len(ls) > lines {
			cut = fmt.Sprintf(" (last %d of %d lines; the cell's trace has them all)", lines, len(ls))
			ls = ls[len(ls)-lines:]
		}
		if _, err := fmt.Fprintf(w, "--- %s [%s] on %s: %s%s\n    %s\n", c.Case, c.Profile, c.Kernel, c.Text(), cut, strings.Join(ls, "\n    ")); err != nil {
			return err
		}
	}
	return nil
}

// cellClass is a cell's HTML classes: its outcome's colour in a differing
// row (o0, o1, ...; "same" where every kernel agrees), what it says of an
// expectation, and whether the outcome changes at it.
func cellClass(r Row, i int) string {
	c := r.Cells[i]
	if c == nil {
		return "cell missing"
	}
	cls := []string{"cell"}
	switch n := r.Shade(i); {
	case !c.Ran():
		cls = append(cls, "infra")
	case n >= 0:
		cls = append(cls, fmt.Sprintf("o%d", n%len(palette)))
	default:
		cls = append(cls, "same")
	}
	switch {
	case c.Ran() && c.Failed():
		cls = append(cls, "fail")
	case c.Expect != nil && c.Expect.Unjudged != "":
		cls = append(cls, "unjudged")
	case c.Expect != nil:
		cls = append(cls, "pass")
	}
	if c.Flaky {
		cls = append(cls, "flaky")
	}
	if r.Boundary(i) {
		cls = append(cls, "boundary")
	}
	return strings.Join(cls, " ")
}

// palette colours the distinct outcomes of a differing row, in version
// order of first appearance; chosen to stay apart for common colour
// blindness (Okabe–Ito, lightened).
var palette = []string{"#cfe8fc", "#fde2b8", "#c8ecd9", "#f6cfe3", "#fff3b0", "#d9d2f2", "#e3e3e3", "#b8e0e6"}

func paletteCSS() template.CSS {
	var b strings.Builder
	for i, c := range palette {
		fmt.Fprintf(&b, "td.o%d{background:%s}\n", i, c)
	}
	return template.CSS(b.String())
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"title":   func(t *Table, i int) string { return t.Title(i) },
	"trace":   func(c *results.Result) string { return Trace(c.Outcome) },
	"cls":     cellClass,
	"palette": paletteCSS,
	"celltext": func(r Row, i int) string {
		if c := r.Cells[i]; c != nil && c.Ran() && c.Failed() {
			return "✗ " + r.CellText(i)
		}
		if c := r.Cells[i]; c != nil && c.Expect != nil && c.Expect.Unjudged != "" {
			return "? " + r.CellText(i)
		}
		if c := r.Cells[i]; c != nil && c.Expect != nil {
			return "✓ " + r.CellText(i)
		}
		return r.CellText(i)
	},
	"where":   results.Where,
	"sysctls": results.Run.SysctlText,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>runmatrix report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #bbb;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#eee;font-weight:600}
td.cell{font-family:ui-monospace,monospace;font-size:12px;min-width:12em}
td.same{background:#fff}
{{palette}}
td.infra{background:repeating-linear-gradient(45deg,#eee,#eee 6px,#ddd 6px,#ddd 12px);color:#555}
td.missing{background:#f4f4f4;color:#999}
td.fail{box-shadow:inset 0 0 0 3px #d7263d}
td.flaky{box-shadow:inset 0 0 0 3px #e69f00}
td.boundary{border-left:4px solid #222}
td.trans{font-size:12px}
td.trans ul{margin:0;padding-left:1.1em}
td.trans li.note{color:#8a4b00;list-style:"⚠ "}
tr.differs td.key{font-weight:bold}
tr.differs td.key:first-child::before{content:"≠ "}
details pre{white-space:pre-wrap;font-size:11px;margin:.4em 0 0}
summary{cursor:pointer}
.legend{display:flex;flex-wrap:wrap;gap:6px;margin:.5em 0}
.legend span{display:inline-block;padding:2px 8px;border:1px solid #bbb;font-size:12px}
</style></head><body>
<h1>runmatrix report</h1>
<p>{{.Differ}} of {{len .T.Rows}} rows differ across kernels; they come first, marked ≠. Columns are in version order. Click a cell for its syscall trace.</p>
<div class="legend">
<span style="background:{{index .Palette 0}}">in a row that differs, one colour per outcome</span>
<span style="background:{{index .Palette 1}}">(another outcome)</span>
<span style="background:#fff">white: every kernel agrees</span>
<span style="border-left:4px solid #222">thick left edge: the outcome changes here</span>
<span>[tcp_fastopen=0]: the sysctl in force, shown where it differs across the row</span>
<span>✓ as a source expects</span>
<span style="box-shadow:inset 0 0 0 3px #d7263d">✗ expectation failed, or a go test failed</span>
<span>? expectation not judged: it needs the kernel's configuration, which is not known</span>
<span style="box-shadow:inset 0 0 0 3px #e69f00">flaky (k/N repetitions agree)</span>
<span style="background:repeating-linear-gradient(45deg,#eee,#eee 6px,#ddd 6px,#ddd 12px)">could not run: not kernel behaviour</span>
</div>
<table>
<tr><th>case</th><th>profile</th>{{range $i, $k := .T.Columns}}<th title="{{$k.Ref}} {{$k.Release}} {{$k.Arch}}">{{title $.T $i}}</th>{{end}}<th>transitions (version order)</th></tr>
{{range $r := .T.Rows}}<tr class="{{if .Differs}}differs{{end}}"><td class="key">{{.Case}}</td><td class="key">{{.Profile}}</td>{{range $i, $c := .Cells}}<td class="{{cls $r $i}}"{{if $c}} title="{{trace $c}}"{{end}}>{{if $c}}<details><summary>{{celltext $r $i}}</summary>{{if $c.Expect}}<div>expected: {{$c.Expect.Summary}}<br>source: {{$c.Expect.Source}}{{if $c.Expect.Unjudged}}<br>not judged: {{$c.Expect.Unjudged}}{{end}}</div>{{end}}<pre>{{trace $c}}</pre></details>{{else}}-{{end}}</td>{{end}}<td class="trans">{{if .Runs}}<ul>{{range $j, $run := .Runs}}<li><code>{{$run.Outcome}}</code> {{sysctls $run}} {{where $r.Runs $j}}</li>{{end}}{{if .Returns}}<li class="note">changes and comes back: not one boundary</li>{{end}}{{range .Notes}}<li class="note">{{.}}</li>{{end}}</ul>{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// RenderHTML writes a self-contained HTML report: a coloured grid whose
// cells show their syscall trace on hover and on click.
func RenderHTML(w io.Writer, t *Table) error {
	differ := 0
	for _, r := range t.Rows {
		if r.Differs {
			differ++
		}
	}
	return htmlTmpl.Execute(w, struct {
		T       *Table
		Differ  int
		Palette []string
	}{t, differ, palette})
}
