package results

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

func rec(kernel, release, c, profile string, rep int, summary string, status outcome.Status) Record {
	return Record{
		Cell:       Cell{Key: Key{Kernel: kernel, Case: c, Profile: profile}, Rep: rep},
		KernelInfo: Kernel{Ref: kernel, Release: release, Arch: "x86_64"},
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
	require.Equal(t, map[Cell]bool{recs[0].Cell: true, recs[1].Cell: true, recs[2].Cell: true, recs[4].Cell: true}, Done(recs))
	res := Fold(nil, recs, nil)
	require.Len(t, res.Cells, 2)
	a := res.Cells[0]
	require.Equal(t, "x=1", a.Outcome.Summary)
	require.Equal(t, 3, a.Reps)
	require.Equal(t, 2, a.Agree)
	require.True(t, a.Flaky)
	require.Equal(t, "x=1 (2/3, flaky)", a.Text())
	require.Equal(t, outcome.OK, res.Cells[1].Outcome.Status)
	require.False(t, res.Cells[1].Flaky)
}

// TestJudgedAtFold: verdicts come from the expectations in force when the
// results are folded or judged again, not from when the cell ran.
func TestJudgedAtFold(t *testing.T) {
	recs := []Record{rec("k1", "6.1.0-9-amd64", "linger0.reset", "default", 1, "recv=-1 ECONNRESET send=-1 EPIPE +SIGPIPE", outcome.OK)}
	res := Fold(nil, recs, nil)
	require.NotNil(t, res.Cells[0].Expect, "the case's own expectation applies")
	require.True(t, res.Cells[0].Expect.Pass)
	s, err := spec.Parse("m.yaml", []byte("kernels: [k1]\nexpect:\n  - case: linger0.reset\n    summary: recv=0\n    source: mine\n"))
	require.NoError(t, err)
	res.Judge(s)
	require.Equal(t, &Verdict{Summary: "recv=0", Source: "mine", Pass: false}, res.Cells[0].Expect)
	require.True(t, res.Cells[0].Failed())
}

func TestJournalRoundTripAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	j, err := OpenJournal(path, func(string) { t.Fatal("nothing to warn about") })
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
	require.Equal(t, r.Cell, got[0].Cell)
	require.Equal(t, "x=1", got[0].Outcome.Summary)

	// Resuming cuts the torn line off, says so, and appends on a line of its own.
	var warned []string
	j, err = OpenJournal(path, func(s string) { warned = append(warned, s) })
	require.NoError(t, err)
	require.Len(t, warned, 1)
	require.Contains(t, warned[0], "dropped a torn last line")
	r2 := rec("k1", "6.1", "b", "default", 1, "y=1", outcome.OK)
	require.NoError(t, j.Add(r2))
	require.NoError(t, j.Close())
	got, err = ReadJournal(path)
	require.NoError(t, err)
	require.Equal(t, []Cell{r.Cell, r2.Cell}, []Cell{got[0].Cell, got[1].Cell})
}

// TestJournalDamagedInTheMiddle: only a last line can be torn; a bad line
// with records after it is damage, reported, never silently skipped.
func TestJournalDamagedInTheMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"case\":\"a\"}\nnot json\n{\"case\":\"b\"}\n"), 0o644))
	_, err := ReadJournal(path)
	require.ErrorContains(t, err, "record 2 is damaged")
	_, err = OpenJournal(path, func(string) {})
	require.ErrorContains(t, err, "damaged, not torn")
}

// TestJournalWriteError: a failed write is an error naming the journal,
// and every later write fails too, so no result is silently lost.
func TestJournalWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fail writes with")
	}
	j := &Journal{path: "/dev/full"}
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	j.f = f
	defer j.Close()
	err = j.Add(rec("k1", "6.1", "a", "default", 1, "x=1", outcome.OK))
	var je *JournalError
	require.ErrorAs(t, err, &je)
	require.Contains(t, err.Error(), "/dev/full")
	require.ErrorIs(t, j.Add(rec("k1", "6.1", "b", "default", 1, "x=1", outcome.OK)), je)
}

// sample has a differing row with a cell that could not run, a row with a
// failed expectation (from the spec) and an agreeing row.
func sample() *Results {
	infra := rec("k2", "3.5", "same", "default", 1, "infra-failed", outcome.InfraFailed)
	infra.Outcome.Error = "boot: guest not ready"
	s := &spec.Spec{Kernels: []string{"k1", "k2"}, Expect: []spec.Override{{Case: "tfo.sendto.nonblocking", Summary: "sendto=-1 EINPROGRESS", Source: "seed"}}}
	return Fold(s, []Record{
		rec("k1", "6.1", "same", "default", 1, "a|b=1", outcome.OK),
		infra,
		rec("k1", "6.1", "equal", "default", 1, "z=0", outcome.OK),
		rec("k2", "3.5", "equal", "default", 1, "z=0", outcome.OK),
		rec("k1", "6.1", "tfo.sendto.nonblocking", "default", 1, "sendto=-1 EINPROGRESS", outcome.OK),
		rec("k2", "3.5", "tfo.sendto.nonblocking", "default", 1, "sendto=-1 EPIPE +SIGPIPE", outcome.OK),
	}, nil)
}

func TestDiffAndMerge(t *testing.T) {
	base := sample()
	next := sample()
	require.True(t, Compare(base, next).Empty())
	// k1 moves to a new ABI (the nightly event): its cells are still
	// matched by reference, the move is a line of its own, and the one
	// outcome that changed under it is the one change.
	for i := range next.Cells {
		if next.Cells[i].Kernel == "k1" {
			next.Cells[i].KernelInfo.Release = "6.1.1"
		}
	}
	next.Cells[0].Outcome.Summary = "a|b=2"
	next.Cells = next.Cells[:len(next.Cells)-1]
	extra := base.Cells[0]
	extra.Kernel = "k3"
	next.Cells = append(next.Cells, extra)
	d := Compare(base, next)
	require.Equal(t, []Moved{{Kernel: "k1", Base: "6.1", New: "6.1.1"}}, d.Moved)
	require.Equal(t, []Change{{Key: Key{Case: "same", Profile: "default", Kernel: "k1"}, Base: "a|b=1", New: "a|b=2"}}, d.Changed)
	require.Equal(t, []Key{{Case: "same", Profile: "default", Kernel: "k3"}}, d.Added)
	require.Equal(t, []Key{{Case: "tfo.sendto.nonblocking", Profile: "default", Kernel: "k2"}}, d.Missing)
	next.Cells[0].Outcome.Summary = "a|b=1"
	require.Empty(t, Compare(base, next).Changed, "a move alone changes no cell")

	all := sample()
	a := &Results{Format: Format, Spec: all.Spec, Cells: all.Cells[:2]}
	b := &Results{Format: Format, Cells: all.Cells[2:]}
	m, err := Merge([]string{"a", "b"}, []*Results{a, b}, false)
	require.NoError(t, err)
	require.True(t, Compare(all, m).Empty())

	// The same cell twice with the same outcome is kept once.
	m, err = Merge([]string{"a", "a2"}, []*Results{a, a}, false)
	require.NoError(t, err)
	require.Len(t, m.Cells, 2)

	// Disagreeing overlaps, other plans and other formats are refused.
	c := &Results{Format: Format, Cells: append([]Result(nil), all.Cells[:1]...)}
	c.Cells[0].Outcome.Summary = "other"
	_, err = Merge([]string{"a", "c"}, []*Results{a, c}, false)
	require.ErrorContains(t, err, "is in c and a with different outcomes")
	other := &Results{Format: Format, Spec: &spec.Spec{Kernels: []string{"k9"}}, Cells: all.Cells[2:]}
	_, err = Merge([]string{"a", "o"}, []*Results{a, other}, false)
	require.ErrorContains(t, err, "come from different matrices")
	_, err = Merge([]string{"a", "o"}, []*Results{a, other}, true)
	require.NoError(t, err, "--force")
	old := &Results{Format: 1, Cells: all.Cells[2:]}
	_, err = Merge([]string{"a", "old"}, []*Results{a, old}, false)
	require.ErrorContains(t, err, "format 1")
}

func TestReadRefusesWhatIsNotResults(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"array":     "[1,2]",
		"object":    `{"hello": "world"}`,
		"bad cells": `{"cells": [{"x": 1}]}`,
		"future":    `{"format": 99, "cells": []}`,
		"not json":  "kernels: [debian:6.1]",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		_, err := Read(p)
		var nr *NotResultsError
		require.ErrorAs(t, err, &nr, name)
	}
	p := filepath.Join(dir, "ok.json")
	require.NoError(t, sample().WriteJSON(p))
	r, err := Read(p)
	require.NoError(t, err)
	require.True(t, Compare(sample(), r).Empty())
}

// TestTransitions: runs of equal outcomes in version order (not in the
// order given), cells that did not run make no boundary, and an outcome
// that comes back is flagged.
func TestTransitions(t *testing.T) {
	cell := func(ref, release, summary string, status outcome.Status) Record {
		r := rec(ref, release, "tfo.sendto.blocking", "default", 1, summary, status)
		r.KernelInfo.Origin.File = ref
		return r
	}
	res := Fold(nil, []Record{
		cell("./k-6.12", "6.12.57", "sendto=5 recv=5", outcome.OK),
		cell("./k-2.6.32", "2.6.32-42-server", "sendto=-1 EPIPE +SIGPIPE", outcome.OK),
		cell("./k-3.6.2", "3.6.2-1-ARCH", "sendto=-1 EOPNOTSUPP", outcome.OK),
		cell("./k-3.4.9", "3.4.9-1-fbcondecor", "sendto=-1 EPIPE +SIGPIPE", outcome.OK),
		cell("./k-3.10", "3.10.0", "infra-failed", outcome.InfraFailed),
		cell("./k-3.16.4", "3.16.4-tinycore64", "sendto=5 recv=5", outcome.OK),
	}, nil)
	tr := res.FindTransitions()
	require.Len(t, tr, 1)
	require.Equal(t, "sendto=-1 EPIPE +SIGPIPE ≤ 3.4.9 fbcondecor file │ sendto=-1 EOPNOTSUPP 3.6.2 Arch file │ sendto=5 recv=5 ≥ 3.16.4 tinycore64 file", tr[0].Text())
	require.False(t, tr[0].Returns)
	require.Equal(t, []string{"./k-2.6.32", "./k-3.4.9"}, tr[0].Runs[0].Kernels)

	// A → B → A: two boundaries and a return, never one boundary.
	res = Fold(nil, []Record{
		cell("./a", "3.1.10", "recv=-1 ECONNRESET", outcome.OK),
		cell("./b", "3.2.65", "recv=-1 EAGAIN replies=1 ACK", outcome.OK),
		cell("./c", "3.4.9", "recv=-1 ECONNRESET", outcome.OK),
	}, nil)
	tr = res.FindTransitions()
	require.Len(t, tr, 1)
	require.Len(t, tr[0].Runs, 3)
	require.True(t, tr[0].Returns)

	// Cells that could not run never make a row differ.
	res = Fold(nil, []Record{
		cell("./a", "3.1.10", "x=1", outcome.OK),
		cell("./b", "3.2.65", "", outcome.InfraFailed),
		cell("./c", "3.4.9", "profile unavailable", outcome.ProfileUnavailable),
	}, nil)
	require.Empty(t, res.FindTransitions())
}

// TestSysctlsBesideOutcomes: where a row's kernels ran under different
// values of a sysctl the case depends on, runs show the values and the
// boundary says the default changed; a case that does not depend on it
// shows nothing.
func TestSysctlsBesideOutcomes(t *testing.T) {
	cell := func(caseID, ref, release, summary, tfo string) Record {
		r := rec(ref, release, caseID, "default", 1, summary, outcome.OK)
		r.KernelInfo.Origin.File = ref
		r.Outcome.Sysctls = map[string]string{testcases.SysctlTCPFastOpen: tfo}
		return r
	}
	res := Fold(nil, []Record{
		cell("tfo.sendto.blocking", "./a", "2.6.32-42-server", "sendto=-1 EPIPE +SIGPIPE", "absent"),
		cell("tfo.sendto.blocking", "./b", "3.6.2-1-ARCH", "sendto=-1 EOPNOTSUPP", "0"),
		cell("tfo.sendto.blocking", "./c", "3.16.4", "sendto=5 recv=5", "1"),
		cell("tfo.sendto.blocking", "./d", "6.12.57", "sendto=5 recv=5", "1"),
		cell("reconnect.syn-in-window", "./b", "3.6.2-1-ARCH", "recv=-1 ECONNRESET", "0"),
		cell("reconnect.syn-in-window", "./c", "3.16.4", "recv=-1 EAGAIN", "1"),
	}, nil)
	tr := res.FindTransitions()
	require.Len(t, tr, 2)
	require.Empty(t, tr[0].Sysctls, "reconnect does not depend on tcp_fastopen")
	require.Empty(t, tr[0].Notes)
	require.NotContains(t, tr[0].Text(), "tcp_fastopen")
	tfo := tr[1]
	require.Equal(t, []string{testcases.SysctlTCPFastOpen}, tfo.Sysctls)
	require.Equal(t, "sendto=-1 EPIPE +SIGPIPE [no tcp_fastopen] ≤ 2.6.32 server file │ sendto=-1 EOPNOTSUPP [tcp_fastopen=0] 3.6.2 Arch file │ sendto=5 recv=5 [tcp_fastopen=1] ≥ 3.16.4 c file", tfo.Text())
	require.Len(t, tfo.Notes, 2)
	require.Contains(t, tfo.Notes[0], "2.6.32 server file has no net.ipv4.tcp_fastopen")
	require.Equal(t, "between 3.6.2 Arch file and 3.16.4 c file: the default of net.ipv4.tcp_fastopen changed here: 0 → 1; run with --profile tfo=1 to compare the same setting", tfo.Notes[1])
	for _, c := range res.Cells {
		if c.Kernel == "./b" && c.Case == "tfo.sendto.blocking" {
			require.Equal(t, "sendto=-1 EOPNOTSUPP [tcp_fastopen=0]", c.TextWith(tfo.Sysctls))
		}
	}
}

func TestGoTestSubtestsAreRows(t *testing.T) {
	step := func(label, verdict string) outcome.Step {
		return outcome.Step{Label: label, Call: "go test", Detail: verdict}
	}
	rec := func(rep int, sub string) Record {
		o := outcome.Outcome{Status: outcome.OK, Reported: "FAIL", Steps: []outcome.Step{step("TestX", "FAIL"), step("TestX/a", "PASS"), step("TestX/b", sub)}}
		o.Summary = o.Summarize()
		return Record{Cell: Cell{Key: Key{Case: "gotest:example.com/p.v2.TestX", Profile: "default", Kernel: "k"}, Rep: rep},
			KernelInfo: Kernel{Ref: "k", Release: "6.1.0"}, Outcome: o}
	}
	res := Fold(nil, []Record{rec(1, "FAIL"), rec(2, "PASS")}, nil)
	got := map[string]*Result{}
	for i := range res.Cells {
		got[res.Cells[i].Case] = &res.Cells[i]
	}
	require.Len(t, got, 3)
	require.Equal(t, "FAIL", got["gotest:example.com/p.v2.TestX"].Outcome.Summary)
	require.True(t, got["gotest:example.com/p.v2.TestX"].Failed(), "a test that reported FAIL is a failed cell")
	require.Equal(t, "PASS", got["gotest:example.com/p.v2.TestX/a"].Outcome.Summary)
	require.False(t, got["gotest:example.com/p.v2.TestX/a"].Failed())
	b := got["gotest:example.com/p.v2.TestX/b"]
	require.True(t, b.Flaky, "a subtest's repetitions fold like any row's")
	require.Equal(t, 2, b.Reps)
}

// TestResultsDescribeTheirCases: a result set carries its cases'
// definitions, so a cell of a case this process does not know (a user's,
// run with --cases elsewhere) is judged by its own expectations after a
// round trip through results.json.
func TestResultsDescribeTheirCases(t *testing.T) {
	r := Fold(nil, []Record{rec("k1", "6.1", "mine.unregistered", "default", 1, "x=1", outcome.OK)}, nil)
	require.Nil(t, r.Cells[0].Expect, "this process has no such case")
	r.Cases = []testcases.Case{{ID: "mine.unregistered", Title: "a user's case", Expect: []testcases.Expect{{Summary: "x=2", Source: "my docs"}}}}
	p := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, r.WriteJSON(p))
	back, err := Read(p)
	require.NoError(t, err)
	back.Judge(back.Spec)
	require.NotNil(t, back.Cells[0].Expect)
	require.Equal(t, Verdict{Summary: "x=2", Source: "my docs", Pass: false}, *back.Cells[0].Expect)

	// Fold records the definitions of the cases it knows.
	builtin := Fold(nil, []Record{rec("k1", "6.1", "epipe.write-after-close", "default", 1, "x", outcome.OK)}, nil)
	require.Len(t, builtin.Cases, 1)
	require.Equal(t, "epipe.write-after-close", builtin.Cases[0].ID)
	require.NotEmpty(t, builtin.Cases[0].Title)
}

// TestUnjudgedExpectations: a cell whose expectation needs the kernel's
// configuration, on a kernel whose configuration is not known, is neither
// a pass nor a failure: its verdict says why it was not judged.
func TestUnjudgedExpectations(t *testing.T) {
	unknown := rec("k1", "4.9.171", "flags.unknown.sendmsg", "default", 1, "0x40000000=5 0x80000000=5", outcome.OK)
	known := rec("k2", "4.9.171", "flags.unknown.sendmsg", "default", 1, "0x40000000=5 0x80000000=5", outcome.OK)
	known.KernelInfo.Config, known.KernelInfo.ConfigFrom = map[string]string{}, "the image's embedded config (IKCONFIG)"
	r := Fold(nil, []Record{unknown, known}, nil)
	byKernel := map[string]Result{}
	for _, c := range r.Cells {
		byKernel[c.Kernel] = c
	}
	u := byKernel["k1"]
	require.NotNil(t, u.Expect)
	require.Contains(t, u.Expect.Unjudged, "CONFIG_COMPAT=n")
	require.False(t, u.Failed(), "not judged is not unexpected")
	k := byKernel["k2"]
	require.True(t, k.Expect.Pass, "judged by its configuration: no CONFIG_COMPAT")
	require.Empty(t, k.Expect.Unjudged)
}

// defsOf is a Definitions of the cases given.
type defsOf []testcases.Case

func (d defsOf) Lookup(id string) (*testcases.Case, bool) {
	for i := range d {
		if d[i].ID == id {
			return &d[i], true
		}
	}
	return nil, false
}

// TestFoldJudgesByTheRunsDefinitions: a user's case is judged by the
// definition the run was handed, which the results then carry, with no
// registry of this process involved.
func TestFoldJudgesByTheRunsDefinitions(t *testing.T) {
	defs := defsOf{{ID: "mine.handed", Title: "a user's case", Expect: []testcases.Expect{{Summary: "x=1", Source: "my docs"}}}}
	r := Fold(nil, []Record{rec("k1", "6.1", "mine.handed", "default", 1, "x=1", outcome.OK)}, defs)
	require.NotNil(t, r.Cells[0].Expect)
	require.True(t, r.Cells[0].Expect.Pass)
	require.Len(t, r.Cases, 1)
	require.Equal(t, "a user's case", r.Cases[0].Title)
}
