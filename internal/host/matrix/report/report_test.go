package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

func rec(kernel, release, c, profile string, summary string, status outcome.Status) results.Record {
	return results.Record{
		Cell:       results.Cell{Key: results.Key{Kernel: kernel, Case: c, Profile: profile}, Rep: 1},
		KernelInfo: results.Kernel{Ref: kernel, Release: release, Arch: "x86_64"},
		Outcome:    outcome.Outcome{Status: status, Summary: summary},
	}
}

// sample has a differing row with a cell that could not run, a row with a
// failed expectation and an agreeing row.
func sample() *results.Results {
	infra := rec("k2", "3.5", "same", "default", "infra-failed", outcome.InfraFailed)
	infra.Outcome.Error = "boot: guest not ready"
	s := &spec.Spec{Kernels: []string{"k1", "k2"}, Expect: []spec.Override{{Case: "tfo.sendto.nonblocking", Summary: "sendto=-1 EINPROGRESS", Source: "seed"}}}
	return results.Fold(s, []results.Record{
		rec("k1", "6.1", "same", "default", "a|b=1", outcome.OK),
		infra,
		rec("k1", "6.1", "equal", "default", "z=0", outcome.OK),
		rec("k2", "3.5", "equal", "default", "z=0", outcome.OK),
		rec("k1", "6.1", "tfo.sendto.nonblocking", "default", "sendto=-1 EINPROGRESS", outcome.OK),
		rec("k2", "3.5", "tfo.sendto.nonblocking", "default", "sendto=-1 EPIPE +SIGPIPE", outcome.OK),
		rec("k1", "6.1", "other", "default", "q=1", outcome.OK),
		rec("k2", "3.5", "other", "default", "q=2", outcome.OK),
	}, nil)
}
func TestTable(t *testing.T) {
	tb := NewTable(sample())
	// Columns in version order, titled by version and a short origin.
	require.Equal(t, []string{"3.5 k2 file", "6.1 k1 file"}, []string{tb.Title(0), tb.Title(1)})
	require.Equal(t, "k2", tb.Columns[0].Ref, "the full reference stays with the column")
	require.Len(t, tb.Rows, 4)
	// Differing rows first, in case order; the agreeing rows last.
	var order []string
	for _, r := range tb.Rows {
		order = append(order, r.Case)
	}
	require.Equal(t, []string{"other", "tfo.sendto.nonblocking", "equal", "same"}, order)
	require.True(t, tb.Rows[0].Differs)
	require.False(t, tb.Rows[0].Mismatch)
	require.True(t, tb.Rows[1].Differs)
	require.True(t, tb.Rows[1].Mismatch, "a failed expectation")
	require.False(t, tb.Rows[2].Differs)
	require.False(t, tb.Rows[3].Differs, "a cell that could not run is no difference")
	require.True(t, tb.Rows[3].Mismatch, "a cell that could not run")

	var text bytes.Buffer
	require.NoError(t, RenderText(&text, tb, false, 0))
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	require.Len(t, lines, 5)
	require.True(t, strings.HasPrefix(lines[1], "≠"))
	require.Contains(t, lines[1], "q=2 ≤ 3.5 k2 file │ q=1 ≥ 6.1 k1 file", "the transition, in version order")
	require.Contains(t, lines[2], "✗ sendto=-1 EPIPE +SIGPIPE")
	require.False(t, strings.HasPrefix(lines[4], "≠"))
	require.Contains(t, lines[4], "✗ infra-failed: boot: guest not ready")
	require.NotContains(t, text.String(), "\x1b[", "no colour unless asked")
	text.Reset()
	require.NoError(t, RenderText(&text, tb, true, 0))
	require.Contains(t, text.String(), ansiRed)
}

// TestTextFitsWidth: a table wider than the terminal is pivoted into one
// block per row, no line longer than the width, boundaries and notes kept.
func TestTextFitsWidth(t *testing.T) {
	var text bytes.Buffer
	require.NoError(t, RenderText(&text, NewTable(sample()), false, 40))
	for _, l := range strings.Split(strings.TrimSpace(text.String()), "\n") {
		require.LessOrEqual(t, len([]rune(l)), 40, l)
	}
	require.Contains(t, text.String(), "≠ other  default\n     3.5 k2 file  q=2\n   ┬ 6.1 k1 file  q=1\n")
	require.Contains(t, text.String(), "✗ infra-failed")
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderMarkdown(&b, NewTable(sample())))
	md := b.String()
	lines := strings.Split(md, "\n")
	require.Equal(t, "| | case | profile | 3.5 k2 file | 6.1 k1 file | transitions (version order) |", lines[0])
	require.Equal(t, "|---|---|---|---|---|---|", lines[1])
	// A pipe in a summary must not add a column.
	for _, l := range lines[2:6] {
		require.Equal(t, 7, strings.Count(l, "|")-strings.Count(l, `\|`), l)
	}
	require.Contains(t, md, "(expected `sendto=-1 EINPROGRESS`)")
	require.Contains(t, md, "2 of 4 rows differ")
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderJUnit(&b, sample()))
	var got junitSuites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &got))
	require.Equal(t, 8, got.Tests)
	require.Equal(t, 2, got.Failures)
	var types []string
	for _, s := range got.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				types = append(types, c.Failure.Type)
			}
		}
	}
	require.ElementsMatch(t, []string{"infra-failed", "expectation"}, types)
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderHTML(&b, NewTable(sample())))
	doc, err := html.Parse(&b)
	require.NoError(t, err)
	classes := map[string]int{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "td" {
			for _, a := range n.Attr {
				if a.Key == "class" {
					classes[a.Val]++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	// Differing rows: one colour per outcome, the change marked; the
	// expectation is a frame, not the colour.
	require.Equal(t, map[string]int{
		"cell o0": 1, "cell o1 boundary": 1, // other: q=2, q=1
		"cell o0 fail": 1, "cell o1 pass boundary": 1, // tfo.sendto.nonblocking
		"cell same":  3, // equal, and same's cell that ran
		"cell infra": 1, // same's cell that could not run
		"key":        8, "trans": 4,
	}, classes)
}

// TestGoTestFailures: a failed go test's JUnit failure carries its own
// first failure line as the message and its output as the body (CI
// reporters showed "FAIL"), and the terminal gets its output's tail.
func TestGoTestFailures(t *testing.T) {
	for _, tc := range []struct{ output, want string }{
		{"=== RUN   TestX\n    x_test.go:12: got 3, want 4\n    x_test.go:13: again\n--- FAIL: TestX (0.00s)\n", "x_test.go:12: got 3, want 4"},
		{"=== RUN   TestY\npanic: boom\n\ngoroutine 1\n--- FAIL: TestY (0.00s)\n", "panic: boom"},
		{"--- FAIL: TestZ (0.00s)\n", "--- FAIL: TestZ (0.00s)"},
		{"", "FAIL"},
	} {
		require.Equal(t, tc.want, FirstFailure(tc.output))
	}
	out := "=== RUN   TestX\n    x_test.go:12: got 3, want 4\n--- FAIL: TestX (0.00s)\n"
	r := &results.Results{Cells: []results.Result{{Key: results.Key{Case: "gotest:m.TestX", Profile: "default", Kernel: "k"},
		KernelInfo: results.Kernel{Ref: "k", Release: "6.1"},
		Outcome:    outcome.Outcome{Status: outcome.OK, Summary: "FAIL", Reported: "FAIL", Output: out}, Reps: 1, Agree: 1}}}
	var b strings.Builder
	require.NoError(t, RenderJUnit(&b, r))
	var suites struct {
		Suites []struct {
			Cases []struct {
				Failure struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal([]byte(b.String()), &suites))
	f := suites.Suites[0].Cases[0].Failure
	require.Equal(t, "x_test.go:12: got 3, want 4", f.Message)
	require.Equal(t, "test failure", f.Type)
	require.Equal(t, out, f.Text)
	b.Reset()
	require.NoError(t, RenderFailures(&b, r, 1))
	require.Equal(t, "--- gotest:m.TestX [default] on k: FAIL (last 1 of 3 lines; the cell's trace has them all)\n    --- FAIL: TestX (0.00s)\n", b.String())
}

// TestNarrowTablesKeepDifferences: at 80 and 100 columns, cells whose
// outcomes differ never print the same text (a cut used to keep the
// common start and drop the words that differ).
func TestNarrowTablesKeepDifferences(t *testing.T) {
	long := "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=6 recv2=6 "
	outcomes := map[string][]string{
		"tfo.server.data-in-syn": {long + "tail=1 [tcp_fastopen=3]", long + "tail=2 [tcp_fastopen=3]", long + "tail=1 [tcp_fastopen=1]"},
		"reconnect.silent-close": {
			"repair=0 bind=0 connect=-1 EINPROGRESS @10s recv=-1 EAGAIN @3s replies=0 none",
			"repair=0 bind=0 connect=-1 EINPROGRESS @10s recv=-1 ECONNRESET @0s replies=1 RST",
			"repair=0 bind=0 connect=-1 EINPROGRESS @10s recv=-1 EAGAIN @3s replies=1 ACK",
		},
	}
	var recs []results.Record
	kernels := []string{"k1", "k2", "k3"}
	for c, outs := range outcomes {
		for i, o := range outs {
			recs = append(recs, rec(kernels[i], fmt.Sprintf("6.%d", i+1), c, "default", o, outcome.OK))
		}
	}
	tb := NewTable(results.Fold(nil, recs, nil))
	for _, width := range []int{80, 100} {
		var b bytes.Buffer
		require.NoError(t, RenderText(&b, tb, false, width))
		printed := map[string]string{} // printed text -> outcome
		row := ""
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, "≠ ") || strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
				row = line
				continue
			}
			f := strings.Fields(line)
			if len(f) < 3 || !strings.HasPrefix(f[0], "6.") && !strings.HasPrefix(f[1], "6.") {
				continue
			}
			require.LessOrEqual(t, runewidth.StringWidth(line), width, line)
			_, text, _ := strings.Cut(strings.TrimLeft(line, " ┬"), "  ")
			text = strings.TrimSpace(text)
			key := row + "|" + text
			for i := range tb.Columns {
				if strings.Contains(line, tb.Title(i)) {
					for _, r := range tb.Rows {
						if strings.Contains(row, r.Case) {
							want := r.CellText(i)
							if prev, ok := printed[key]; ok {
								require.Equal(t, prev, want, "width %d: %q prints for two outcomes", width, text)
							}
							printed[key] = want
						}
					}
				}
			}
		}
		require.Len(t, printed, 6, "width %d:\n%s", width, b.String())
	}
}
