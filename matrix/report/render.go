package report

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/runmatrix/runmatrix/matrix/results"

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
// that could not run "✗".
func RenderText(w io.Writer, t *Table, colour bool) error {
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
		for _, c := range r.Cells {
			text := c.Text()
			if c != nil && c.Failed() {
				text = "✗ " + text
			}
			line = append(line, text)
		}
		line = append(line, transition(r))
		lines = append(lines, line)
		style := ""
		switch {
		case r.Mismatch:
			style = ansiRed
		case r.Differs:
			style = ansiYellow
		}
		styles = append(styles, style)
	}
	widths := make([]int, len(header))
	for _, l := range lines {
		for i, s := range l {
			widths[i] = max(widths[i], runewidth.StringWidth(s))
		}
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
		for _, c := range r.Cells {
			text := mdEscape(c.Text())
			if c != nil && c.Failed() {
				text = "✗ " + text
				if c.Expect != nil {
					text += " (expected " + mdEscape(c.Expect.Summary) + ")"
				}
			}
			b.WriteString(" " + text + " |")
		}
		if tr := transition(r); tr != "" {
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
			if c.Expect != nil && !c.Expect.Pass {
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

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"title": func(t *Table, i int) string { return t.Title(i) },
	"trans": transition,
	"text":  (*results.Result).Text,
	"trace": func(c *results.Result) string { return Trace(c.Outcome) },
	"class": func(c *results.Result) string {
		switch {
		case c == nil:
			return "missing"
		case !c.Ran():
			return "infra"
		case c.Failed():
			return "fail"
		case c.Expect != nil:
			return "pass"
		case c.Flaky:
			return "flaky"
		}
		return "plain"
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>runmatrix report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #bbb;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#eee}
td.cell{font-family:ui-monospace,monospace;font-size:12px;min-width:14em}
td.pass{background:#b7e4b7}
td.fail{background:#f4a3a3}
td.infra{background:#c9b3e6}
td.flaky{background:#f7d88c}
td.plain{background:#fff}
td.missing{background:#ddd}
td.trans{font-family:ui-monospace,monospace;font-size:12px}
tr.differs td.key{background:#ffe9a8;font-weight:bold}
details pre{white-space:pre-wrap;font-size:11px;margin:.4em 0 0}
summary{cursor:pointer}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #bbb}
</style></head><body>
<h1>runmatrix report</h1>
<p class="legend"><span class="pass" style="background:#b7e4b7">as expected</span><span style="background:#f4a3a3">expectation failed</span><span style="background:#c9b3e6">could not run</span><span style="background:#f7d88c">flaky</span><span style="background:#ffe9a8">row differs across kernels</span></p>
<p>{{.Differ}} of {{len .T.Rows}} rows differ across kernels. Click a cell for its syscall trace.</p>
<table>
<tr><th>case</th><th>profile</th>{{range $i, $k := .T.Columns}}<th title="{{$k.Ref}} {{$k.Release}} {{$k.Arch}}">{{title $.T $i}}</th>{{end}}<th>transitions (version order)</th></tr>
{{range .T.Rows}}<tr class="{{if .Differs}}differs{{end}}"><td class="key">{{.Case}}</td><td class="key">{{.Profile}}</td>{{range .Cells}}<td class="cell {{class .}}"{{if .}} title="{{trace .}}"{{end}}>{{if .}}<details><summary>{{text .}}</summary>{{if .Expect}}<div>expected: {{.Expect.Summary}}<br>source: {{.Expect.Source}}</div>{{end}}<pre>{{trace .}}</pre></details>{{else}}-{{end}}</td>{{end}}<td class="trans">{{trans .}}</td></tr>
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
		T      *Table
		Differ int
	}{t, differ})
}
