// Package matrix turns a spec into a plan of cells (kernel × case × profile
// × repetition) and runs the plan on guests from a Pool, journaling every
// record as it arrives.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Pool hands out ready guests.
type Pool interface {
	// Prepare resolves and checks a kernel reference so that a boot can
	// start at once; its error means the kernel cannot be had at all.
	Prepare(ctx context.Context, ref string) (results.Kernel, error)
	// Boot returns a ready guest of a prepared kernel. The pool bounds the
	// guests running at once and retries a boot that failed for the
	// infrastructure; its error may be a BootFailure. booting, if
	// not nil, is called when the boot starts, after any wait for a slot.
	Boot(ctx context.Context, ref string, booting func()) (Guest, error)
}

// Guest is one booted kernel with its agent.
type Guest interface {
	// Kernel is what is known of the running kernel.
	Kernel() results.Kernel
	// Run runs the cells in order and calls emit with each outcome and the
	// console lines printed while it ran. It returns early, with the
	// guest lost, if the guest stops answering within its deadlines.
	Run(ctx context.Context, cells []Cell, emit func(c Cell, o outcome.Outcome, console []string) error) error
	// Close stops the guest.
	Close() error
}

// BootFailure is what the scheduler reads from an error of a Pool or a
// Guest, where it has it: whether the kernel itself failed (booting again
// does not mend it) and the console's last lines. The infrastructure's
// boot error (vm.BootError) has both.
type BootFailure interface {
	KernelFault() bool
	ConsoleTail() []string
}

// notBooted marks an error of Pool.Boot: the pool has already booted again
// where that could help.
type notBooted struct{ err error }

func (e *notBooted) Error() string { return e.err.Error() }
func (e *notBooted) Unwrap() error { return e.err }

// Progress receives what each guest is doing; implementations draw it.
type Progress interface {
	// Kernel reports a guest's state: "waiting for a guest slot", "booting", "case k/n ID", "done", or a failure.
	Kernel(ref, state string)
	// Cell reports one more finished cell.
	Cell(r results.Record)
}

// Scheduler runs a plan on guests from a pool: one boot per kernel, guests
// in parallel as the pool allows, every record journaled as it arrives.
type Scheduler struct {
	Pool Pool
	// Journal, when set, keeps every record (Progress.Cell sees each too).
	Journal  *results.Journal
	Progress Progress
	// Log receives plain lines (retries).
	Log func(string)
	// Now is the clock records are stamped with (nil: time.Now).
	Now func() time.Time
	// Expected, when set, is how long a cell took before: each guest gets
	// its cells longest first, so those that wait out timeouts overlap
	// the rest instead of ending the run alone. Outcomes do not depend on
	// the order: cells run in parallel only where they cannot interfere.
	Expected func(Cell) time.Duration
	// Fresh, when set, names the cells that must each run on a guest of
	// their own (testcases.Case.Fresh: a case that changes kernel state
	// outside its network namespace). Such a guest runs that cell only.
	Fresh func(Cell) bool
}

// KernelsError lists the kernels a plan names that cannot be had.
type KernelsError struct{ Errs []error }

func (e *KernelsError) Error() string {
	var lines []string
	for _, err := range e.Errs {
		lines = append(lines, firstLine(err.Error()))
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the kernels' errors.
func (e *KernelsError) Unwrap() []error { return e.Errs }

// Run measures every cell of the plan. Every kernel is prepared first, in
// parallel, so that one that cannot be had stops the run before anything
// boots. It returns ctx's error if interrupted; cells not measured by then
// are absent, for --resume to pick up. A journal write error stops the run.
func (s *Scheduler) Run(ctx context.Context, p *Plan) error {
	kinfo, err := PrepareAll(ctx, s.Pool, p.Kernels)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, ref := range p.Kernels {
		for _, part := range s.parts(ref, len(p.Kernels), s.order(p.For(ref))) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.kernel(ctx, ref, kinfo[i], part); err != nil {
					cancel(err)
				}
			}()
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// PrepareAll prepares every kernel at once (downloads overlap) and returns
// what each image says of itself, or a *KernelsError naming every kernel
// that cannot be had.
func PrepareAll(ctx context.Context, pool Pool, refs []string) ([]results.Kernel, error) {
	kinfo, errs := PrepareEach(ctx, pool, refs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var bad []error
	for _, err := range errs {
		if err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		return nil, &KernelsError{bad}
	}
	return kinfo, nil
}

// PrepareEach prepares the kernels in parallel and returns each one's
// result and error, in the order of refs.
func PrepareEach(ctx context.Context, pool Pool, refs []string) ([]results.Kernel, []error) {
	kinfo := make([]results.Kernel, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kinfo[i], errs[i] = pool.Prepare(ctx, ref)
		}()
	}
	wg.Wait()
	return kinfo, errs
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Splitter is a Pool that can say how many guests of one kernel are worth
// booting at once: where guests start from a saved guest in under a
// second and cores are free, one kernel's cells may be split among them.
type Splitter interface {
	// Guests is how many guests of ref to run at once in a plan of n kernels.
	Guests(ref string, n int) int
}

// minCellsPerGuest keeps a split from booting a guest for a few cells.
const minCellsPerGuest = 8

// parts divides a kernel's cells into what each of its guests runs: a
// Fresh cell alone, the others split as split says.
func (s *Scheduler) parts(ref string, kernels int, cells []Cell) [][]Cell {
	shared, alone := splitFresh(cells, s.Fresh)
	if len(shared) == 0 {
		return alone
	}
	return append(s.split(ref, kernels, shared), alone...)
}

// splitFresh separates the cells fresh names, each to run alone on a guest
// of its own, from those that share one; both keep their order. A nil
// fresh names none.
func splitFresh(cells []Cell, fresh func(Cell) bool) (shared []Cell, alone [][]Cell) {
	for _, c := range cells {
		if fresh != nil && fresh(c) {
			alone = append(alone, []Cell{c})
		} else {
			shared = append(shared, c)
		}
	}
	return shared, alone
}

// split divides a kernel's cells (longest first) among as many guests as
// the pool says are worth it, each part's expected time as even as the
// durations known allow; one part when the pool cannot say.
func (s *Scheduler) split(ref string, kernels int, cells []Cell) [][]Cell {
	sp, ok := s.Pool.(Splitter)
	if !ok {
		return [][]Cell{cells}
	}
	n := min(sp.Guests(ref, kernels), len(cells)/minCellsPerGuest)
	if n <= 1 {
		return [][]Cell{cells}
	}
	parts := make([][]Cell, n)
	load := make([]time.Duration, n)
	for i, c := range cells {
		best := i % n // unknown durations: round robin
		if s.Expected != nil && s.Expected(c) > 0 {
			for j := range load {
				if load[j] < load[best] {
					best = j
				}
			}
			load[best] += s.Expected(c)
		}
		parts[best] = append(parts[best], c)
	}
	return parts
}

// order puts cells longest first, as far as Expected knows (unknown ones
// keep their place after the known).
func (s *Scheduler) order(cells []Cell) []Cell {
	if s.Expected == nil {
		return cells
	}
	sort.SliceStable(cells, func(i, j int) bool { return s.Expected(cells[i]) > s.Expected(cells[j]) })
	return cells
}

// kernel boots one kernel and runs its cells; a guest lost while running
// them (SSH, agent) is replaced once by a fresh guest, then the remaining
// cells are recorded as infra-failed. A boot that failed is the pool's
// verdict (it boots again where that can help): its cells are recorded at
// once, boot-failed when the kernel itself failed.
func (s *Scheduler) kernel(ctx context.Context, ref string, k results.Kernel, cells []Cell) error {
	pending := cells
	var lastErr error
	tried := 0 // the attempt the remaining cells failed on
	for attempt := 1; attempt <= 2 && len(pending) > 0; attempt++ {
		tried = attempt
		if attempt == 2 {
			s.Log(fmt.Sprintf("%s: retrying %d cells on a fresh guest after: %s", ref, len(pending), firstLine(lastErr.Error())))
		}
		var err error
		pending, err = s.attempt(ctx, ref, &k, pending, attempt)
		if ctx.Err() != nil {
			return nil
		}
		var je *results.JournalError
		if errors.As(err, &je) {
			return je
		}
		lastErr = err
		// A guest that never came up was already booted again by the
		// pool where that could help: a second attempt here would only
		// double the time a kernel that cannot boot holds its slot.
		var nb *notBooted
		if errors.As(err, &nb) {
			break
		}
	}
	if len(pending) == 0 {
		s.Progress.Kernel(ref, "done")
		return nil
	}
	o := failed(lastErr)
	for _, c := range pending {
		if err := s.record(c, k, o, tried, nil); err != nil {
			return err
		}
	}
	s.Progress.Kernel(ref, "failed: "+firstLine(lastErr.Error()))
	return nil
}

// failed is the outcome of a cell that could not run.
func failed(err error) outcome.Outcome {
	o := outcome.Outcome{Status: outcome.InfraFailed, Error: firstLine(err.Error()), Steps: []outcome.Step{}, Signals: []string{}}
	var bf BootFailure
	if errors.As(err, &bf) {
		o.Notes = bf.ConsoleTail()
		if bf.KernelFault() {
			o.Status = outcome.BootFailed
		}
	}
	o.Summary = o.Summarize()
	return o
}

// attempt boots a guest and runs cells on it; it returns the cells it did
// not get results for and why.
func (s *Scheduler) attempt(ctx context.Context, ref string, k *results.Kernel, cells []Cell, attempt int) ([]Cell, error) {
	s.Progress.Kernel(ref, "waiting for a guest slot")
	g, err := s.Pool.Boot(ctx, ref, func() { s.Progress.Kernel(ref, "booting") })
	if err != nil {
		return cells, &notBooted{err}
	}
	defer g.Close()
	*k = g.Kernel()
	pending := cells
	s.Progress.Kernel(ref, fmt.Sprintf("case 1/%d %s", len(cells), cells[0].Case))
	n := 0
	err = g.Run(ctx, cells, func(c Cell, o outcome.Outcome, console []string) error {
		if len(pending) == 0 || pending[0] != c {
			return fmt.Errorf("agent answered for %s, not for %s", c.Key, pending[0].Key)
		}
		pending = pending[1:]
		if err := s.record(c, *k, o, attempt, console); err != nil {
			return err
		}
		n++
		if len(pending) > 0 {
			s.Progress.Kernel(ref, fmt.Sprintf("case %d/%d %s", n+1, len(cells), pending[0].Case))
		}
		return nil
	})
	if err != nil {
		return pending, err
	}
	if len(pending) > 0 {
		return pending, fmt.Errorf("agent ended without results for %d cells", len(pending))
	}
	return nil, nil
}

// record journals one repetition.
func (s *Scheduler) record(c Cell, k results.Kernel, o outcome.Outcome, attempt int, console []string) error {
	if len(console) > 50 {
		console = console[len(console)-50:]
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	rec := results.Record{Cell: c, KernelInfo: k, Outcome: o, Attempt: attempt, Time: now().UTC(), Console: console}
	if s.Journal != nil {
		if err := s.Journal.Add(rec); err != nil {
			return err
		}
	}
	s.Progress.Cell(rec)
	return nil
}
