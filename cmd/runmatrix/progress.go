package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// PlainProgress prints one timestamped line per event, for CI logs.
type PlainProgress struct {
	mu    sync.Mutex
	w     io.Writer
	total int
	done  int
	now   func() time.Time
}

// NewPlainProgress returns line-per-event progress for total cells.
func NewPlainProgress(w io.Writer, total int) *PlainProgress {
	return &PlainProgress{w: w, total: total, now: time.Now}
}

// Kernel implements Progress.
func (p *PlainProgress) Kernel(ref, state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s: %s\n", p.now().Format("15:04:05"), ref, state)
}

// Cell implements Progress.
func (p *PlainProgress) Cell(r results.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	mark := ""
	if r.Outcome.Status != outcome.OK && r.Outcome.Error != "" && r.Outcome.Status != outcome.ProfileUnavailable && r.Outcome.Status != outcome.FamilyUnavailable {
		mark = "  (" + r.Outcome.Error + ")"
	}
	fmt.Fprintf(p.w, "%s [%d/%d] %s %s %s: %s%s\n", p.now().Format("15:04:05"), p.done, p.total, r.Kernel, r.Case, r.Profile, r.Outcome.Summary, mark)
}

// Close implements io.Closer; plain progress has nothing to flush.
func (p *PlainProgress) Close() error { return nil }

// BarProgress draws one live line per guest and an overall bar on a terminal.
type BarProgress struct {
	p       *mpb.Progress
	overall *mpb.Bar
	mu      sync.Mutex
	states  map[string]*string
	bars    map[string]*mpb.Bar
}

// NewBarProgress returns terminal progress for the plan's kernels.
func NewBarProgress(w io.Writer, plan *matrix.Plan) *BarProgress {
	b := &BarProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), states: map[string]*string{}, bars: map[string]*mpb.Bar{}}
	for _, k := range plan.Kernels {
		state := "waiting"
		b.states[k] = &state
		st := &state
		b.bars[k] = b.p.AddBar(int64(len(plan.For(k))),
			mpb.PrependDecorators(decor.Name(k, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				b.mu.Lock()
				defer b.mu.Unlock()
				return *st
			})),
		)
	}
	b.overall = b.p.AddBar(int64(len(plan.Cells)),
		mpb.PrependDecorators(decor.Name("all cells", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)),
	)
	return b
}

// Kernel implements Progress.
func (b *BarProgress) Kernel(ref, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.states[ref]; ok {
		*s = state
	}
	if bar, ok := b.bars[ref]; ok && (state == "done" || len(state) > 7 && state[:7] == "failed:") {
		bar.SetTotal(-1, true)
	}
}

// Cell implements Progress.
func (b *BarProgress) Cell(r results.Record) {
	if bar, ok := b.bars[r.Kernel]; ok {
		bar.Increment()
	}
	b.overall.Increment()
}

// Close stops drawing.
func (b *BarProgress) Close() error {
	b.overall.SetTotal(-1, true)
	for _, bar := range b.bars {
		bar.SetTotal(-1, true)
	}
	b.p.Wait()
	return nil
}
