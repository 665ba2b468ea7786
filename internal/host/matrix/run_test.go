package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// fakePool scripts what each boot of a kernel does: the n-th boot of a
// kernel follows script[ref][n] (the last entry repeats).
type fakePool struct {
	mu       sync.Mutex
	prepErr  map[string]error
	script   map[string][]bootScript
	boots    map[string]int
	maxOpen  int
	open     int
	closed   int
	stopped  chan struct{} // closed when a guest's Run blocks (see blockAfter)
	ran      [][]string    // the cases each guest ran, a guest a row
	stopOnce sync.Once
}

type bootScript struct {
	bootErr error
	// lostAfter > 0: the guest answers that many cells, then is lost.
	lostAfter int
	// blockAfter > 0: the guest answers that many cells, then hangs until ctx ends.
	blockAfter int
}

func (p *fakePool) Prepare(_ context.Context, ref string) (results.Kernel, error) {
	if err := p.prepErr[ref]; err != nil {
		return results.Kernel{}, err
	}
	return results.Kernel{Ref: ref, ImageRelease: "6.1.0-" + ref}, nil
}

func (p *fakePool) Boot(_ context.Context, ref string, booting func()) (Guest, error) {
	if booting != nil {
		booting()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.script[ref]
	n := p.boots[ref]
	p.boots[ref]++
	var sc bootScript
	if len(s) > 0 {
		sc = s[min(n, len(s)-1)]
	}
	if sc.bootErr != nil {
		return nil, sc.bootErr
	}
	p.open++
	p.maxOpen = max(p.maxOpen, p.open)
	return &fakeGuest{pool: p, ref: ref, script: sc}, nil
}

type fakeGuest struct {
	pool   *fakePool
	ref    string
	script bootScript
}

func (g *fakeGuest) Kernel() results.Kernel {
	return results.Kernel{Ref: g.ref, Release: "6.1.0-" + g.ref, Arch: "x86_64"}
}

func (g *fakeGuest) Run(ctx context.Context, cells []Cell, emit func(Cell, outcome.Outcome, []string) error) error {
	var ran []string
	defer func() {
		g.pool.mu.Lock()
		g.pool.ran = append(g.pool.ran, ran)
		g.pool.mu.Unlock()
	}()
	for i, c := range cells {
		ran = append(ran, c.Case)
		if g.script.lostAfter > 0 && i == g.script.lostAfter {
			return errors.New("agent: connection lost")
		}
		if g.script.blockAfter > 0 && i == g.script.blockAfter {
			g.pool.stopOnce.Do(func() { close(g.pool.stopped) })
			<-ctx.Done()
			return ctx.Err()
		}
		o := outcome.Outcome{Status: outcome.OK, Summary: fmt.Sprintf("%s=%d", c.Case, i)}
		if err := emit(c, o, []string{"console of " + c.Case}); err != nil {
			return err
		}
	}
	return nil
}

func (g *fakeGuest) Close() error {
	g.pool.mu.Lock()
	defer g.pool.mu.Unlock()
	g.pool.open--
	g.pool.closed++
	return nil
}

type nopProgress struct{}

func (nopProgress) Kernel(string, string) {}
func (nopProgress) Cell(results.Record)   {}

func plan(t *testing.T, kernels ...string) *Plan {
	t.Helper()
	s := &spec.Spec{Kernels: kernels, Cases: []string{"epipe.*", "linger0.*", "flags.*"}, Profiles: []string{"default"}, Repeat: 1}
	p, err := NewPlan(s, catalog.New())
	require.NoError(t, err)
	require.Greater(t, len(p.For(kernels[0])), 2)
	return p
}

func newScheduler(t *testing.T, pool Pool) (*Scheduler, string) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	j, err := results.OpenJournal(path, func(string) {})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	return &Scheduler{Pool: pool, Journal: j, Progress: nopProgress{}, Log: func(string) {}}, path
}

func newFakePool() *fakePool {
	return &fakePool{prepErr: map[string]error{}, script: map[string][]bootScript{}, boots: map[string]int{}, stopped: make(chan struct{})}
}

func journal(t *testing.T, path string) map[Cell]results.Record {
	recs, err := results.ReadJournal(path)
	require.NoError(t, err)
	out := map[Cell]results.Record{}
	for _, r := range recs {
		_, dup := out[r.Cell]
		require.False(t, dup, "each cell is journaled once: %s", r.Key)
		out[r.Cell] = r
	}
	return out
}

func TestSchedulerRunsEveryCellOnceWithOneBootPerKernel(t *testing.T) {
	pool := newFakePool()
	s, path := newScheduler(t, pool)
	p := plan(t, "a", "b", "c")
	require.NoError(t, s.Run(context.Background(), p))
	got := journal(t, path)
	require.Len(t, got, len(p.Cells))
	for _, c := range p.Cells {
		r := got[c]
		require.Equal(t, outcome.OK, r.Outcome.Status, c.Key.String())
		require.Equal(t, 1, r.Attempt)
		require.Equal(t, "6.1.0-"+c.Kernel, r.KernelInfo.Release)
		require.Equal(t, []string{"console of " + c.Case}, r.Console)
	}
	require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, pool.boots)
	require.Equal(t, 3, pool.closed, "every guest is closed")
}

func TestSchedulerRetriesALostGuestOnce(t *testing.T) {
	pool := newFakePool()
	pool.script["a"] = []bootScript{{lostAfter: 1}, {}}
	s, path := newScheduler(t, pool)
	p := plan(t, "a")
	require.NoError(t, s.Run(context.Background(), p))
	got := journal(t, path)
	cells := p.For("a")
	require.Equal(t, 1, got[cells[0]].Attempt, "measured before the guest was lost")
	for _, c := range cells[1:] {
		require.Equal(t, outcome.OK, got[c].Outcome.Status)
		require.Equal(t, 2, got[c].Attempt, "measured on the fresh guest")
	}
	require.Equal(t, 2, pool.boots["a"])
}

func TestSchedulerRecordsInfraFailedAfterTwoLosses(t *testing.T) {
	pool := newFakePool()
	pool.script["a"] = []bootScript{{lostAfter: 1}, {lostAfter: 1}}
	s, path := newScheduler(t, pool)
	p := plan(t, "a")
	require.NoError(t, s.Run(context.Background(), p))
	got := journal(t, path)
	cells := p.For("a")
	require.Equal(t, outcome.OK, got[cells[0]].Outcome.Status)
	require.Equal(t, outcome.OK, got[cells[1]].Outcome.Status, "the second guest measured one more")
	for _, c := range cells[2:] {
		r := got[c]
		require.Equal(t, outcome.InfraFailed, r.Outcome.Status)
		require.Equal(t, "agent: connection lost", r.Outcome.Error)
		require.Equal(t, 2, r.Attempt)
		require.Empty(t, r.Outcome.Steps)
	}
	require.Equal(t, 2, pool.boots["a"], "no third boot")
}

func TestSchedulerDoesNotRetryAKernelPanic(t *testing.T) {
	pool := newFakePool()
	pool.script["a"] = []bootScript{{bootErr: &fakeBootError{kernel: true, msg: "guest failed: Kernel panic - not syncing", console: []string{"Kernel panic"}}}}
	pool.script["b"] = []bootScript{{bootErr: errors.New("boot: guest not ready after 3m")}, {}}
	s, path := newScheduler(t, pool)
	p := plan(t, "a", "b")
	require.NoError(t, s.Run(context.Background(), p))
	got := journal(t, path)
	for _, c := range p.For("a") {
		require.Equal(t, outcome.BootFailed, got[c].Outcome.Status)
		require.Equal(t, []string{"Kernel panic"}, got[c].Outcome.Notes)
		require.Equal(t, 1, got[c].Attempt)
	}
	// A boot that failed for the infrastructure was already tried again by
	// the pool (Pool.Boot): booting it twice more here held a slot for
	// four boot deadlines.
	for _, c := range p.For("b") {
		require.Equal(t, outcome.InfraFailed, got[c].Outcome.Status, "the pool's verdict stands")
		require.Equal(t, 1, got[c].Attempt)
	}
	require.Equal(t, map[string]int{"a": 1, "b": 1}, pool.boots)
}

func TestSchedulerRefusesKernelsItCannotHaveBeforeBooting(t *testing.T) {
	pool := newFakePool()
	pool.prepErr["b"] = errors.New("kernel b: not a Linux x86 boot image")
	s, path := newScheduler(t, pool)
	err := s.Run(context.Background(), plan(t, "a", "b"))
	var ke *KernelsError
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "kernel b: not a Linux x86 boot image", err.Error())
	require.Empty(t, pool.boots, "nothing booted")
	require.Empty(t, journal(t, path))
}

func TestSchedulerStopsOnAJournalWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fail writes with")
	}
	pool := newFakePool()
	j, err := results.OpenJournal("/dev/full", func(string) {})
	require.NoError(t, err)
	defer j.Close()
	s := &Scheduler{Pool: pool, Journal: j, Progress: nopProgress{}, Log: func(string) {}}
	err = s.Run(context.Background(), plan(t, "a", "b"))
	var je *results.JournalError
	require.ErrorAs(t, err, &je)
	require.Equal(t, 0, pool.open, "guests are closed")
}

func TestSchedulerInterrupted(t *testing.T) {
	pool := newFakePool()
	pool.script["a"] = []bootScript{{blockAfter: 2}}
	s, path := newScheduler(t, pool)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, plan(t, "a")) }()
	<-pool.stopped
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	got := journal(t, path)
	require.Len(t, got, 2, "what was measured is kept, nothing else is claimed")
	require.Equal(t, 0, pool.open)
}

type stateProgress struct {
	mu     sync.Mutex
	states map[string][]string
}

func (p *stateProgress) Kernel(ref, state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states[ref] = append(p.states[ref], state)
}

func (p *stateProgress) Cell(results.Record) {}

func TestSchedulerSaysBootingOnlyOnceTheBootStarts(t *testing.T) {
	pool := newFakePool()
	s, _ := newScheduler(t, pool)
	prog := &stateProgress{states: map[string][]string{}}
	s.Progress = prog
	p := plan(t, "a")
	require.NoError(t, s.Run(context.Background(), p))
	states := prog.states["a"]
	require.GreaterOrEqual(t, len(states), 4)
	require.Equal(t, []string{"waiting for a guest slot", "booting"}, states[:2], "a queued kernel is not shown booting")
	require.True(t, strings.HasPrefix(states[2], "case 1/"), states[2])
	require.Equal(t, "done", states[len(states)-1])
}

// TestSchedulerStartsLongestCellsFirst: with durations known, a guest gets
// its cells longest first (unknown ones after, in plan order).
func TestSchedulerStartsLongestCellsFirst(t *testing.T) {
	pool := newFakePool()
	s, path := newScheduler(t, pool)
	p := plan(t, "a")
	cells := p.For("a")
	slow := cells[len(cells)-1].Case
	s.Expected = func(c Cell) time.Duration {
		if c.Case == slow {
			return 3 * time.Second
		}
		return 0
	}
	require.NoError(t, s.Run(context.Background(), p))
	recs, err := results.ReadJournal(path)
	require.NoError(t, err)
	require.Equal(t, slow, recs[0].Case, "the slowest cell ran first")
	require.Equal(t, cells[0].Case, recs[1].Case, "the unknown ones keep their order")
	require.Len(t, recs, len(cells))
}

// splitPool is a fakePool that says how many guests a kernel may have.
type splitPool struct {
	*fakePool
	guests int
}

func (p splitPool) Guests(string, int) int { return p.guests }

// TestSchedulerSplitsAKernelAmongGuests: where the pool allows several
// guests of a kernel, its cells are divided among them, each run once.
func TestSchedulerSplitsAKernelAmongGuests(t *testing.T) {
	fp := newFakePool()
	s, path := newScheduler(t, splitPool{fp, 2})
	sp := &spec.Spec{Kernels: []string{"a"}, Cases: []string{"*"}, Profiles: []string{"default", "tfo=3"}, Repeat: 1}
	p, err := NewPlan(sp, catalog.New())
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background(), p))
	require.Len(t, journal(t, path), len(p.Cells), "every cell once")
	require.Equal(t, 2, fp.boots["a"], "two guests of the kernel")
	require.Equal(t, 2, fp.maxOpen, "at once")
}

// TestSchedulerGivesFreshCellsAGuestEach: a Fresh cell runs alone on a
// guest of its own; the kernel's other cells share one, and every cell is
// measured once. A kernel whose cells are all Fresh boots once per cell.
func TestSchedulerGivesFreshCellsAGuestEach(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh func(Cell) bool
	}{
		{"some fresh", func(c Cell) bool { return strings.HasPrefix(c.Case, "flags.") }},
		{"all fresh", func(Cell) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := newFakePool()
			s, path := newScheduler(t, pool)
			s.Fresh = tc.fresh
			p := plan(t, "a")
			require.NoError(t, s.Run(context.Background(), p))
			require.Len(t, journal(t, path), len(p.Cells), "every cell once")
			fresh := 0
			for _, c := range p.Cells {
				if tc.fresh(c) {
					fresh++
				}
			}
			shared := 0
			if fresh < len(p.Cells) {
				shared = 1
			}
			require.Equal(t, fresh+shared, pool.boots["a"], "a guest per fresh cell, one for the rest")
			require.Equal(t, fresh+shared, pool.closed)
			for _, ran := range pool.ran {
				for _, id := range ran {
					if tc.fresh(Cell{Key: results.Key{Case: id}}) {
						require.Equal(t, []string{id}, ran, "a fresh cell runs alone")
					}
				}
			}
		})
	}
}

// fakeBootError is a pool's boot error that is a BootFailure.
type fakeBootError struct {
	kernel  bool
	msg     string
	console []string
}

func (e *fakeBootError) Error() string         { return e.msg }
func (e *fakeBootError) KernelFault() bool     { return e.kernel }
func (e *fakeBootError) ConsoleTail() []string { return e.console }
