// Package results keeps what a run measured: one record per cell as it
// arrives (the journal), folded into one result per case × profile × kernel
// with expectations judged at fold time, and compared or merged across runs.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Format versions results.json and the journal lines.
const Format = 2

// Key names a cell: a case under a profile on a kernel reference. It is
// the one key of the tool: the journal, folding, the table, merge and diff
// all use it (diff too: a reference that resolved to another kernel is a Moved line).
type Key struct {
	Case    string `json:"case"`
	Profile string `json:"profile"`
	Kernel  string `json:"kernel"`
}

func (k Key) String() string { return k.Case + " " + k.Profile + " on " + k.Kernel }

// Cell is one repetition of a Key, the unit a plan schedules.
type Cell struct {
	Key
	// Rep counts repetitions from 1.
	Rep int `json:"rep"`
}

// Kernel is what is known of the kernel a cell ran on: the one kernel
// identity of the tool.
type Kernel struct {
	// Ref is the reference the user gave ("debian:6.1", a path).
	Ref string `json:"ref"`
	// Release and Arch are uname -r and uname -m in the guest.
	Release string `json:"release,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// ImageRelease is the release read from the image before booting.
	ImageRelease string         `json:"image_release,omitempty"`
	Origin       kernels.Origin `json:"origin"`
	// Accel and Transport say how the guest ran and was reached.
	Accel     string `json:"accel,omitempty"`
	Transport string `json:"transport,omitempty"`
	// ReadyS is how long the guest took from QEMU's start to its agent
	// answering, in seconds (restored or booted).
	ReadyS float64 `json:"ready_s,omitempty"`
	// Console is "kmsg" when the guest's init could not open its console
	// and reported through the kernel log.
	Console string `json:"console,omitempty"`
	// Restored is set when the guest started from a saved guest (taken
	// before anything of a run entered it) rather than booting.
	Restored bool `json:"restored,omitempty"`
	// UnameVersion is uname -v in the guest; ImageVersion the image's
	// kernel_version string.
	UnameVersion string `json:"uname_version,omitempty"`
	ImageVersion string `json:"image_version,omitempty"`
	// QEMU is the command line the guest ran under.
	QEMU []string `json:"qemu,omitempty"`
	// AgentSHA256 identifies the agent binary that measured the cell.
	AgentSHA256 string `json:"agent_sha256,omitempty"`
	// Inputs is a digest of the kernel image, guest binaries and user
	// files the cell was measured with: a resumed run measures a cell
	// again when they changed.
	Inputs string `json:"inputs,omitempty"`
	// Config holds the kernel's build options that expectations name
	// (an option not set is absent), read from ConfigFrom: its package's
	// config file, or the image's embedded one (IKCONFIG). With no
	// ConfigFrom the configuration is unknown.
	Config     map[string]string `json:"config,omitempty"`
	ConfigFrom string            `json:"config_from,omitempty"`
}

// KernelConfig is the kernel's configuration as expectations read it, nil
// when it is not known.
func (k Kernel) KernelConfig() testcases.KernelConfig {
	switch {
	case k.ConfigFrom == "":
		return nil
	case k.Config == nil: // known, and none of the options set
		return testcases.KernelConfig{}
	}
	return testcases.KernelConfig(k.Config)
}

// The grammars of what a guest says of its kernel: uname's fields are at
// most 64 bytes, a release and a machine name are words, a version is
// printable ASCII.
var (
	releaseGrammar = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._+~:-]{0,63})?$`)
	archGrammar    = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,64}$`)
	versionGrammar = regexp.MustCompile(`^[ -~]{0,64}$`)
)

// Check refuses a kernel whose uname fields fit no grammar of theirs: a
// hostile guest, or an altered results file, speaking in their place.
func (k Kernel) Check() error {
	for _, f := range []struct {
		name, value string
		re          *regexp.Regexp
		want        string
	}{
		{"release", k.Release, releaseGrammar, "a kernel release (letters, digits and ._+~:-, at most 64)"},
		{"arch", k.Arch, archGrammar, "a machine name (letters, digits and _.-, at most 64)"},
		{"uname_version", k.UnameVersion, versionGrammar, "printable ASCII, at most 64 characters"},
	} {
		if !f.re.MatchString(f.value) {
			v := f.value
			if len(v) > 70 {
				v = v[:70] + "…"
			}
			return fmt.Errorf("kernel_info.%s is %q, not %s", f.name, v, f.want)
		}
	}
	return nil
}

// Verdict is an expectation applied to a cell.
type Verdict struct {
	Summary string `json:"summary"`
	Source  string `json:"source"`
	Pass    bool   `json:"pass"`
	// Unjudged says why the expectation that would apply could not be
	// judged (it needs the kernel's configuration, which is not known):
	// neither a pass nor a failure.
	Unjudged string `json:"unjudged,omitempty"`
}

// Record is one measured (or failed) repetition, one line of results.jsonl.
type Record struct {
	Cell
	KernelInfo Kernel          `json:"kernel_info"`
	Outcome    outcome.Outcome `json:"outcome"`
	// Console are the guest console lines printed while the cell ran.
	Console []string `json:"console,omitempty"`
	// Attempt is 2 when the cell ran on a guest booted again after an
	// infrastructure failure.
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
}

// Done returns the cells that finished (anything but an infrastructure
// failure, which a resumed run tries again).
func Done(recs []Record) map[Cell]bool {
	done := map[Cell]bool{}
	for _, r := range recs {
		if r.Outcome.Status != outcome.InfraFailed {
			done[r.Cell] = true
		}
	}
	return done
}

// Results is results.json: every cell of a run, repetitions folded.
type Results struct {
	Format int        `json:"format"`
	Spec   *spec.Spec `json:"spec,omitempty"`
	Cells  []Result   `json:"cells"`
	// Transitions are derived from the cells (see FindTransitions), kept
	// in the file for readers that want the answer, not the grid.
	Transitions []Transition `json:"transitions,omitempty"`
	// Cases are the definitions of the cells' cases as the run knew them
	// (built-in, the user's Go cases, go test rows, programs): titles,
	// expectations and sysctls, so that table, diff, JUnit and HTML need
	// neither --cases nor the programs to judge them again.
	Cases []testcases.Case `json:"cases,omitempty"`
}

// Definitions finds the definition of a case by ID: the run's catalog of
// built-in cases and the user's Go cases, go test rows and programs.
type Definitions interface {
	Lookup(id string) (*testcases.Case, bool)
}

// Case is the definition of a cell's case: runmatrix's own (this binary's
// expectations, which may be newer than the run's), else the one the
// results recorded.
func (r *Results) Case(id string) (*testcases.Case, bool) {
	if testcases.Builtin(id) {
		if c, err := testcases.Lookup(id); err == nil {
			return c, true
		}
	}
	for i := range r.Cases {
		if r.Cases[i].ID == id {
			return &r.Cases[i], true
		}
	}
	return nil, false
}

// recordCases keeps the definitions of the cells' cases that defs (or,
// when nil, runmatrix's own cases) know (see Results.Cases).
func (r *Results) recordCases(defs Definitions) {
	have := map[string]bool{}
	for _, c := range r.Cases {
		have[c.ID] = true
	}
	for _, cell := range r.Cells {
		if have[cell.Case] {
			continue
		}
		have[cell.Case] = true
		c, ok := r.Case(cell.Case)
		if !ok && defs != nil {
			c, ok = defs.Lookup(cell.Case)
		}
		if ok {
			d := *c
			d.Run = nil
			r.Cases = append(r.Cases, d)
		}
	}
	sort.Slice(r.Cases, func(i, j int) bool { return r.Cases[i].ID < r.Cases[j].ID })
}

// Result is one Key with its repetitions folded.
type Result struct {
	Key
	KernelInfo Kernel          `json:"kernel_info"`
	Outcome    outcome.Outcome `json:"outcome"`
	Expect     *Verdict        `json:"expect,omitempty"`
	Console    []string        `json:"console,omitempty"`
	// Reps is how many repetitions ran; Agree how many gave the majority
	// summary. Flaky is Agree < Reps.
	Reps  int  `json:"reps"`
	Agree int  `json:"agree"`
	Flaky bool `json:"flaky,omitempty"`
	// Summaries counts each distinct summary the repetitions gave.
	Summaries map[string]int `json:"summaries,omitempty"`
}

// Status is how the cell's (majority) run ended.
func (c *Result) Status() outcome.Status { return c.Outcome.Status }

// Ran reports whether the case ran on the kernel, so its outcome is
// kernel behaviour that may be compared with others.
func (c *Result) Ran() bool {
	switch c.Outcome.Status {
	case outcome.InfraFailed, outcome.BootFailed, outcome.Error:
		return false
	}
	return true
}

// Comparable reports whether the cell's outcome may be compared with other
// kernels': it ran, under the profile it asked for.
func (c *Result) Comparable() bool {
	return c.Ran() && c.Outcome.Status != outcome.ProfileUnavailable && c.Outcome.Status != outcome.FamilyUnavailable
}

// Text is what a cell shows: the outcome summary, the failure for a cell
// that could not run, and k/N for flaky repetitions.
func (c *Result) Text() string {
	if c == nil {
		return "-"
	}
	s := c.Outcome.Marked()
	switch c.Outcome.Status {
	case outcome.InfraFailed, outcome.BootFailed:
		s = string(c.Outcome.Status) + ": " + c.Outcome.Error
	}
	return s + c.flakyMark()
}

// flakyMark is " (k/N, flaky)" for a cell whose repetitions disagreed.
func (c *Result) flakyMark() string {
	if !c.Flaky {
		return ""
	}
	return fmt.Sprintf(" (%d/%d, flaky)", c.Agree, c.Reps)
}

// Behaviour is what the cell says of the kernel, for comparing cells: Text
// without the marks of a profile's absent sysctls, which are the setting,
// not the behaviour (shown beside it where the case depends on them).
func (c *Result) Behaviour() string {
	if c == nil || c.Outcome.Status != outcome.OK {
		return c.Text()
	}
	return c.Outcome.Summary + c.flakyMark()
}

// Failed reports whether a cell makes the run fail: it could not run, or
// an expectation did not hold.
func (c *Result) Failed() bool {
	switch c.Outcome.Status {
	case outcome.OK, outcome.ProfileUnavailable, outcome.FamilyUnavailable:
	default:
		return true
	}
	return c.Expect != nil && !c.Expect.Pass && c.Expect.Unjudged == "" || c.Outcome.Reported == "FAIL"
}

// withSubtests adds a record for every subtest a go test row reported
// (gotest:IMPORT.TestX/sub), so that subtests are rows of their own.
func withSubtests(recs []Record) []Record {
	out := recs
	for _, r := range recs {
		if !strings.HasPrefix(r.Case, outcome.GoTestPrefix) || r.Outcome.Status != outcome.OK {
			continue
		}
		top := r.Case[strings.LastIndex(r.Case, ".")+1:]
		for _, st := range r.Outcome.Steps {
			if st.Call != "go test" || !strings.HasPrefix(st.Label, top+"/") {
				continue
			}
			sub := r
			sub.Case = strings.TrimSuffix(r.Case, top) + st.Label
			sub.Outcome = outcome.Outcome{Status: outcome.OK, Reported: st.Detail, Steps: []outcome.Step{st}, Signals: []string{},
				Sysctls: r.Outcome.Sysctls, Isolation: r.Outcome.Isolation, DurMS: st.DurMS}
			sub.Outcome.Summary = sub.Outcome.Summarize()
			out = append(out, sub)
		}
	}
	return out
}

// Fold turns records into results: the last record of each repetition
// counts, repetitions of a cell are folded with their majority summary,
// and each result is judged against the spec's expectations and those of
// the cases' definitions (defs; nil knows runmatrix's own cases alone).
func Fold(s *spec.Spec, recs []Record, defs Definitions) *Results {
	recs = withSubtests(recs)
	last := map[Cell]Record{}
	var order []Cell
	for _, r := range recs {
		if _, ok := last[r.Cell]; !ok {
			order = append(order, r.Cell)
		}
		last[r.Cell] = r
	}
	groups := map[Key][]Record{}
	var keys []Key
	for _, c := range order {
		r := last[c]
		if _, ok := groups[r.Key]; !ok {
			keys = append(keys, r.Key)
		}
		groups[r.Key] = append(groups[r.Key], r)
	}
	res := &Results{Format: Format, Spec: s, Cells: []Result{}}
	for _, k := range keys {
		g := groups[k]
		counts := map[string]int{}
		for _, r := range g {
			counts[r.Outcome.Summary]++
		}
		// The majority summary; ties go to the earliest repetition.
		best := g[0]
		for _, r := range g {
			if counts[r.Outcome.Summary] > counts[best.Outcome.Summary] {
				best = r
			}
		}
		c := Result{Key: k, KernelInfo: best.KernelInfo, Outcome: best.Outcome, Console: best.Console,
			Reps: len(g), Agree: counts[best.Outcome.Summary]}
		c.Flaky = c.Agree < c.Reps
		if len(counts) > 1 {
			c.Summaries = counts
		}
		res.Cells = append(res.Cells, c)
	}
	res.recordCases(defs)
	res.Judge(s)
	res.Transitions = res.FindTransitions()
	return res
}

// Judge applies the expectations (the spec's own, then each case's) to
// every cell that ran, replacing earlier verdicts, so that an old result
// set can be judged again against new expectations.
func (r *Results) Judge(s *spec.Spec) {
	for i := range r.Cells {
		c := &r.Cells[i]
		c.Expect = nil
		if c.Outcome.Status != outcome.OK || c.KernelInfo.Release == "" {
			continue
		}
		tc, ok := r.Case(c.Case)
		if !ok {
			continue
		}
		e, unknown, err := s.ExpectationWith(tc, c.KernelInfo.Release, c.KernelInfo.Arch, c.Profile, c.KernelInfo.KernelConfig())
		switch {
		case err != nil || e == nil:
		case unknown:
			c.Expect = &Verdict{Summary: e.Summary, Source: e.Source,
				Unjudged: "it holds for kernels built with " + strings.Join(e.Config, ", ") + ", and this kernel's configuration is not known"}
		default:
			c.Expect = &Verdict{Summary: e.Summary, Source: e.Source, Pass: e.Summary == c.Outcome.Summary}
		}
	}
}

// WriteJSON writes results.json atomically.
func (r *Results) WriteJSON(path string) error { return store.WriteJSON(path, r) }

// NotResultsError is a file that is not a runmatrix result set.
type NotResultsError struct {
	Path string
	Why  string
}

func (e *NotResultsError) Error() string {
	return fmt.Sprintf("%s is not a runmatrix results.json (%s); give the results.json a run wrote", e.Path, e.Why)
}

// Read reads a results.json, refusing anything that is not one.
func Read(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &NotResultsError{Path: path, Why: err.Error()}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &NotResultsError{Path: path, Why: err.Error()}
	}
	if _, ok := raw["cells"]; !ok {
		return nil, &NotResultsError{Path: path, Why: "no \"cells\""}
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		if err := readLegacy(b, &r); err != nil {
			return nil, &NotResultsError{Path: path, Why: err.Error()}
		}
	}
	for i, c := range r.Cells {
		if c.Case == "" || c.Kernel == "" || c.Outcome.Status == "" {
			return nil, &NotResultsError{Path: path, Why: "a cell without case, kernel or status"}
		}
		if err := c.KernelInfo.Check(); err != nil {
			return nil, &NotResultsError{Path: path, Why: fmt.Sprintf("cells[%d] (%s): %v", i, c.Key, err)}
		}
	}
	if r.Format == 0 {
		r.Format = 1
	}
	if r.Transitions == nil { // derived; files from before they were kept lack them
		r.Transitions = r.FindTransitions()
	}
	if r.Format > Format {
		return nil, &NotResultsError{Path: path, Why: fmt.Sprintf("format %d is newer than this runmatrix reads (%d); upgrade runmatrix", r.Format, Format)}
	}
	return &r, nil
}

// Sort orders cells by case, profile, then kernel reference, for stable output.
func (r *Results) Sort() {
	sort.SliceStable(r.Cells, func(i, j int) bool {
		a, b := r.Cells[i].Key, r.Cells[j].Key
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Profile != b.Profile {
			return a.Profile < b.Profile
		}
		return a.Kernel < b.Kernel
	})
}

// readLegacy reads the first results.json format, where a cell's "kernel"
// was the kernel identity and its status stood beside the outcome's.
func readLegacy(b []byte, r *Results) error {
	var old struct {
		Spec  *spec.Spec `json:"spec"`
		Cells []struct {
			Case      string          `json:"case"`
			Profile   string          `json:"profile"`
			Kernel    Kernel          `json:"kernel"`
			Outcome   outcome.Outcome `json:"outcome"`
			Console   []string        `json:"console"`
			Reps      int             `json:"reps"`
			Agree     int             `json:"agree"`
			Flaky     bool            `json:"flaky"`
			Summaries map[string]int  `json:"summaries"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &old); err != nil {
		return err
	}
	*r = Results{Format: 1, Spec: old.Spec}
	for _, c := range old.Cells {
		r.Cells = append(r.Cells, Result{Key: Key{Case: c.Case, Profile: c.Profile, Kernel: c.Kernel.Ref}, KernelInfo: c.Kernel,
			Outcome: c.Outcome, Console: c.Console, Reps: c.Reps, Agree: c.Agree, Flaky: c.Flaky, Summaries: c.Summaries})
	}
	return nil
}
