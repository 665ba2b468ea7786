package matrix

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"github.com/runmatrix/runmatrix/outcome"
)

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"yaml syntax", "kernels: [debian:6.1\n", "m.yaml:1: did not find expected ',' or ']'"},
		{"unknown key", "kernels: [debian:6.1]\nkernal: x\n", `m.yaml:2: unknown key "kernal" (use kernels, profiles, cases, repeat or expect)`},
		{"no kernels", "cases: ['*']\n", "m.yaml: no kernels: add `kernels: [debian:6.1]` or pass --kernel"},
		{"bad kernel", "kernels:\n  - debian:6.1\n  - debian:latest\n", `m.yaml:3: kernel "debian:latest"`},
		{"bad profile", "kernels: [debian:6.1]\nprofiles:\n  - default\n  - turbo\n", `m.yaml:4: unknown profile "turbo"`},
		{"bad case glob", "kernels: [debian:6.1]\ncases:\n  - tfo.nope\n", `m.yaml:3: no case matches "tfo.nope"`},
		{"bad repeat", "kernels: [debian:6.1]\nrepeat: 0\n", ""},
		{"repeat too big", "kernels: [debian:6.1]\nrepeat: 1000\n", "m.yaml:2: repeat must be between 1 and 100, not 1000"},
		{"wrong type", "kernels: debian:6.1\n", "m.yaml:1: cannot unmarshal"},
		{"expect without summary", "kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n", "m.yaml:3: expectation for linger0.reset without `summary:`"},
		{"expect unknown case", "kernels: [debian:6.1]\nexpect:\n  - case: nope\n    summary: x\n", `m.yaml:3: unknown case "nope"`},
		{"expect bad range", "kernels: [debian:6.1]\nexpect:\n  - case: linger0.reset\n    summary: x\n    kernels: '~3'\n", `m.yaml:3: version range "~3"`},
		{"not a mapping", "- a\n", "m.yaml:1: a matrix file is a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.yaml))
			if tt.want == "" {
				require.NoError(t, err) // repeat: 0 means the default, 1
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestDefaultSpec(t *testing.T) {
	s, err := Default()
	require.NoError(t, err)
	require.Equal(t, []string{"debian:6.1", "debian:6.12"}, s.Kernels)
	require.Equal(t, []string{"default", "tfo=3"}, s.Profiles)
	p, err := NewPlan(s)
	require.NoError(t, err)
	require.Len(t, p.Cells, 2*20*2)
}

func TestShardsPartitionThePlan(t *testing.T) {
	s, err := Parse("m", []byte("kernels: [debian:6.1, debian:6.12, ./a]\nprofiles: [default, tfo=3]\nrepeat: 2\n"))
	require.NoError(t, err)
	p, err := NewPlan(s)
	require.NoError(t, err)
	for _, n := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			a, b := p.Shard(i, n), p.Shard(i, n)
			require.Equal(t, a, b, "shard %d/%d is deterministic", i, n)
			for _, c := range a.Cells {
				seen[c.Key()]++
			}
			require.LessOrEqual(t, len(a.Kernels), len(p.Kernels)/n+2, "a shard boots few kernels")
		}
		require.Len(t, seen, len(p.Cells))
		for k, v := range seen {
			require.Equal(t, 1, v, k)
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		_, _, err := ParseShard(bad)
		require.Error(t, err, bad)
	}
}

func rec(kernel, release, c, profile string, rep int, summary string, status outcome.Status) Record {
	return Record{
		Cell:       Cell{Kernel: kernel, Case: c, Profile: profile, Rep: rep},
		KernelInfo: KernelInfo{Ref: kernel, Release: release, Arch: "x86_64"},
		Status:     status,
		Outcome:    outcome.Outcome{Status: status, Summary: summary},
	}
}

func TestFoldRepetitionsAndResume(t *testing.T) {
	recs := []Record{
		rec("k1", "6.1", "a", "default", 1, "x=1", outcome.OK),
		rec("k1", "6.1", "a", "default", 2, "x=2", outcome.OK),
		rec("k1", "6.1", "a", "default", 3, "x=1", outcome.OK),
		rec("k1", "6.1", "b", "default", 1, "", outcome.InfraFailed),
		rec("k1", "6.1", "b", "default", 1, "y=0", outcome.OK), // the resumed run's record wins
	}
	require.Equal(t, map[string]bool{recs[0].Key(): true, recs[1].Key(): true, recs[2].Key(): true, recs[4].Key(): true}, Done(recs))
	res := Fold(nil, recs)
	require.Len(t, res.Cells, 2)
	a := res.Cells[0]
	require.Equal(t, "x=1", a.Outcome.Summary)
	require.Equal(t, 3, a.Reps)
	require.Equal(t, 2, a.Agree)
	require.True(t, a.Flaky)
	require.Equal(t, "x=1 (2/3, flaky)", CellText(&a))
	require.Equal(t, outcome.OK, res.Cells[1].Status)
	require.False(t, res.Cells[1].Flaky)
}

func TestJournalRoundTripAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	r := rec("k1", "6.1", "a", "default", 1, "x=1", outcome.OK)
	require.NoError(t, j.Add(r))
	require.NoError(t, j.Close())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	f.WriteString(`{"kernel":"k1","case":`) // killed mid-write
	f.Close()
	got, err := ReadJournal(path)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, r.Key(), got[0].Key())
	require.Equal(t, "x=1", got[0].Outcome.Summary)
}

func sample() *Results {
	fail := rec("k2", "3.5", "tfo.x", "default", 1, "sendto=-1 EPIPE +SIGPIPE", outcome.OK)
	fail.Expect = &Verdict{Summary: "sendto=-1 EINPROGRESS", Source: "seed", Pass: false}
	pass := rec("k1", "6.1", "tfo.x", "default", 1, "sendto=-1 EINPROGRESS", outcome.OK)
	pass.Expect = &Verdict{Summary: "sendto=-1 EINPROGRESS", Source: "seed", Pass: true}
	infra := rec("k2", "3.5", "same", "default", 1, "infra-failed", outcome.InfraFailed)
	infra.Outcome.Error = "boot: guest not ready"
	return Fold(&Spec{Kernels: []string{"k1", "k2"}}, []Record{
		rec("k1", "6.1", "same", "default", 1, "a|b=1", outcome.OK),
		infra,
		rec("k1", "6.1", "equal", "default", 1, "z=0", outcome.OK),
		rec("k2", "3.5", "equal", "default", 1, "z=0", outcome.OK),
		pass, fail,
	})
}

func TestTable(t *testing.T) {
	tb := NewTable(sample())
	require.Equal(t, "k1 (6.1)", ColumnTitle(tb.Columns[0]))
	require.Len(t, tb.Rows, 3)
	// Differing rows first, in case order; the agreeing row last.
	require.Equal(t, []string{"same", "tfo.x", "equal"}, []string{tb.Rows[0].Case, tb.Rows[1].Case, tb.Rows[2].Case})
	require.True(t, tb.Rows[0].Differs)
	require.True(t, tb.Rows[0].Mismatch, "a cell that could not run")
	require.True(t, tb.Rows[1].Mismatch, "a failed expectation")
	require.False(t, tb.Rows[2].Differs)

	var text bytes.Buffer
	require.NoError(t, RenderText(&text, tb, false))
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	require.Len(t, lines, 4)
	require.True(t, strings.HasPrefix(lines[1], "≠"))
	require.Contains(t, lines[2], "✗ sendto=-1 EPIPE +SIGPIPE")
	require.NotContains(t, text.String(), "\x1b[", "no colour unless asked")
	text.Reset()
	require.NoError(t, RenderText(&text, tb, true))
	require.Contains(t, text.String(), ansiRed)
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderMarkdown(&b, NewTable(sample())))
	md := b.String()
	lines := strings.Split(md, "\n")
	require.Equal(t, "| | case | profile | k1 (6.1) | k2 (3.5) |", lines[0])
	require.Equal(t, "|---|---|---|---|---|", lines[1])
	// A pipe in a summary must not add a column.
	for _, l := range lines[2:5] {
		require.Equal(t, 6, strings.Count(l, "|")-strings.Count(l, `\|`), l)
	}
	require.Contains(t, md, "(expected `sendto=-1 EINPROGRESS`)")
	require.Contains(t, md, "2 of 3 rows differ")
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderJUnit(&b, sample()))
	var got junitSuites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &got))
	require.Equal(t, 6, got.Tests)
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
	require.Equal(t, 1, classes["cell pass"])
	require.Equal(t, 1, classes["cell fail"])
	require.Equal(t, 1, classes["cell infra"])
	require.Equal(t, 3, classes["cell plain"])
}

func TestDiffAndMerge(t *testing.T) {
	base := sample()
	next := sample()
	require.True(t, Compare(base, next).Empty())
	next.Cells[0].Outcome.Summary = "a|b=2"
	next.Cells = next.Cells[:len(next.Cells)-1]
	extra := base.Cells[0]
	extra.Kernel.Release = "6.2"
	next.Cells = append(next.Cells, extra)
	d := Compare(base, next)
	require.Equal(t, []Change{{CellKey: CellKey{Case: "same", Profile: "default", Release: "6.1"}, Base: "a|b=1", New: "a|b=2"}}, d.Changed)
	require.Equal(t, []CellKey{{Case: "same", Profile: "default", Release: "6.2"}}, d.Added)
	require.Equal(t, []CellKey{{Case: "tfo.x", Profile: "default", Release: "3.5"}}, d.Missing)
	var md bytes.Buffer
	require.NoError(t, RenderDiffMarkdown(&md, d))
	require.Contains(t, md.String(), "| same | default | 6.1 | `a\\|b=1` | `a\\|b=2` |")

	all := sample()
	a := &Results{Spec: all.Spec, Cells: all.Cells[:2]}
	b := &Results{Cells: all.Cells[2:]}
	m, err := Merge([]string{"a", "b"}, []*Results{a, b})
	require.NoError(t, err)
	require.True(t, Compare(all, m).Empty())
	_, err = Merge([]string{"a", "a2"}, []*Results{a, a})
	require.ErrorContains(t, err, "is in both a and a2")
}

// TestExamples checks the shipped example matrix validates and the GitHub
// Actions workflow is well-formed YAML that runs shards and merges them.
func TestExamples(t *testing.T) {
	s, err := Load("../examples/matrix.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, s.Expect)
	b, err := os.ReadFile("../examples/github-actions/runmatrix.yml")
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	var runs []string
	for _, j := range wf.Jobs {
		for _, st := range j.Steps {
			runs = append(runs, st.Run)
		}
	}
	all := strings.Join(runs, "\n")
	require.Contains(t, all, "--shard ${{ matrix.shard }}/4")
	require.Contains(t, all, "runmatrix merge results.json")
	require.Contains(t, all, "runmatrix diff baseline.json results.json")
}
