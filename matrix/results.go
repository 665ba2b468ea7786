package matrix

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/outcome"
)

// KernelInfo identifies the kernel a cell ran on.
type KernelInfo struct {
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
	// UnameVersion is uname -v in the guest; ImageVersion the image's
	// kernel_version string.
	UnameVersion string `json:"uname_version,omitempty"`
	ImageVersion string `json:"image_version,omitempty"`
	// QEMU is the command line the guest ran under.
	QEMU []string `json:"qemu,omitempty"`
	// AgentSHA256 identifies the agent binary that measured the cell.
	AgentSHA256 string `json:"agent_sha256,omitempty"`
}

// Verdict is an expectation applied to a cell.
type Verdict struct {
	Summary string `json:"summary"`
	Source  string `json:"source"`
	Pass    bool   `json:"pass"`
}

// Record is one measured (or failed) cell, one line of results.jsonl.
type Record struct {
	Cell
	KernelInfo KernelInfo      `json:"kernel_info"`
	Status     outcome.Status  `json:"status"`
	Outcome    outcome.Outcome `json:"outcome"`
	Expect     *Verdict        `json:"expect,omitempty"`
	// Console are the guest console lines printed while the cell ran.
	Console []string `json:"console,omitempty"`
	// Attempt is 2 when the cell ran on a guest booted again after an
	// infrastructure failure.
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
}

// Journal appends records to results.jsonl as they arrive, so an
// interrupted run keeps what it measured.
type Journal struct {
	mu sync.Mutex
	f  *os.File
}

// OpenJournal opens path for appending, creating it if needed.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("results journal: %w", err)
	}
	return &Journal{f: f}, nil
}

// Add writes one record and syncs it to disk.
func (j *Journal) Add(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("results journal: %w", err)
	}
	return j.f.Sync()
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal reads every record of a results.jsonl; a torn last line (a
// run killed mid-write) is ignored.
func ReadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	var bad error
	for sc.Scan() {
		line++
		if bad != nil {
			return nil, bad
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			bad = fmt.Errorf("%s:%d: not a result record: %w", path, line, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// Done returns the keys of cells that finished (anything but an
// infrastructure failure, which a resumed run tries again).
func Done(recs []Record) map[string]bool {
	done := map[string]bool{}
	for _, r := range recs {
		if r.Status != outcome.InfraFailed {
			done[r.Key()] = true
		}
	}
	return done
}

// Results is results.json: every cell of a run, repetitions folded.
type Results struct {
	Spec  *Spec        `json:"spec,omitempty"`
	Cells []CellResult `json:"cells"`
}

// CellResult is one case × profile × kernel with its repetitions folded.
type CellResult struct {
	Case    string          `json:"case"`
	Profile string          `json:"profile"`
	Kernel  KernelInfo      `json:"kernel"`
	Status  outcome.Status  `json:"status"`
	Outcome outcome.Outcome `json:"outcome"`
	Expect  *Verdict        `json:"expect,omitempty"`
	Console []string        `json:"console,omitempty"`
	// Reps is how many repetitions ran; Agree how many gave the majority
	// summary. Flaky is Agree < Reps.
	Reps  int  `json:"reps"`
	Agree int  `json:"agree"`
	Flaky bool `json:"flaky,omitempty"`
	// Summaries counts each distinct summary the repetitions gave.
	Summaries map[string]int `json:"summaries,omitempty"`
}

// Fold turns records into cells: the last record of each repetition
// counts, and repetitions of a cell are folded with their majority summary.
func Fold(spec *Spec, recs []Record) *Results {
	last := map[string]Record{}
	var order []string
	for _, r := range recs {
		if _, ok := last[r.Key()]; !ok {
			order = append(order, r.Key())
		}
		last[r.Key()] = r
	}
	type group struct {
		recs []Record
	}
	groups := map[string]*group{}
	var gorder []string
	for _, k := range order {
		r := last[k]
		gk := r.Kernel + "\x00" + r.Case + "\x00" + r.Profile
		g, ok := groups[gk]
		if !ok {
			g = &group{}
			groups[gk] = g
			gorder = append(gorder, gk)
		}
		g.recs = append(g.recs, r)
	}
	res := &Results{Spec: spec, Cells: []CellResult{}}
	for _, gk := range gorder {
		g := groups[gk]
		counts := map[string]int{}
		for _, r := range g.recs {
			counts[r.Outcome.Summary]++
		}
		// The majority summary; ties go to the earliest repetition.
		best := g.recs[0]
		for _, r := range g.recs {
			if counts[r.Outcome.Summary] > counts[best.Outcome.Summary] {
				best = r
			}
		}
		c := CellResult{
			Case: best.Case, Profile: best.Profile, Kernel: best.KernelInfo, Status: best.Status,
			Outcome: best.Outcome, Expect: best.Expect, Console: best.Console, Reps: len(g.recs), Agree: counts[best.Outcome.Summary],
		}
		c.Flaky = c.Agree < c.Reps
		if len(counts) > 1 {
			c.Summaries = counts
		}
		res.Cells = append(res.Cells, c)
	}
	return res
}

// Failed reports whether a cell makes the run fail: it could not run, or
// an expectation did not hold.
func (c CellResult) Failed() bool {
	switch c.Status {
	case outcome.OK, outcome.ProfileUnavailable:
	default:
		return true
	}
	return c.Expect != nil && !c.Expect.Pass
}

// WriteJSON writes results.json.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResults reads a results.json.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", unwrapPath(err))
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is not a runmatrix results.json: %w", path, err)
	}
	return &r, nil
}

// Sort orders cells by case, profile, then kernel ref, for stable output.
func (r *Results) Sort() {
	sort.SliceStable(r.Cells, func(i, j int) bool {
		a, b := r.Cells[i], r.Cells[j]
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Profile != b.Profile {
			return a.Profile < b.Profile
		}
		return a.Kernel.Ref < b.Kernel.Ref
	})
}
