package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/outcome"
	"github.com/runmatrix/runmatrix/testcases"
)

// Progress receives what each guest is doing; implementations draw it.
type Progress interface {
	// Kernel reports a guest's state: "resolving", "booting", "case k/n ID",
	// "done", or a failure.
	Kernel(ref, state string)
	// Cell reports one more finished cell.
	Cell(r Record)
}

// Runner runs a plan on guests.
type Runner struct {
	Env      *guest.Env
	Resolver *kernels.Resolver
	Spec     *Spec
	// Accel is "kvm", "tcg" or "auto".
	Accel string
	// Jobs bounds the guests running at once.
	Jobs     int
	Journal  *Journal
	Progress Progress
	// Log receives plain lines (accelerator choice, retries).
	Log func(string)
}

// DefaultJobs bounds parallel guests by cores (a TCG guest keeps one core
// busy) and by available memory (guest memory plus QEMU's own overhead).
func DefaultJobs(guestMB int) int {
	jobs := runtime.NumCPU()
	if avail := memAvailableMB(); avail > 0 {
		byMem := int((avail - 512) / int64(guestMB+256))
		jobs = min(jobs, byMem)
	}
	return max(1, jobs)
}

func memAvailableMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemAvailable: %d kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// Run measures every cell of the plan, one boot per kernel, and journals
// each record as it arrives. It returns ctx's error if interrupted; cells
// not measured by then are simply absent, for --resume to pick up.
func (r *Runner) Run(ctx context.Context, p *Plan) error {
	type job struct {
		ref   string
		k     *kernels.Kernel
		err   error
		cells []Cell
	}
	jobs := make([]*job, len(p.Kernels))
	for i, ref := range p.Kernels {
		r.Progress.Kernel(ref, "resolving")
		k, err := r.Resolver.Resolve(ctx, ref)
		jobs[i] = &job{ref: ref, k: k, err: err, cells: p.For(ref)}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	accel := r.Accel
	for _, j := range jobs {
		if j.k == nil {
			continue
		}
		a, why, err := guest.ChooseAccel(ctx, r.Env, r.Accel, j.k)
		if err != nil {
			return err
		}
		accel = a
		r.Log(fmt.Sprintf("accelerator: %s (%s)", a, why))
		break
	}
	sem := make(chan struct{}, max(1, r.Jobs))
	var wg sync.WaitGroup
	errc := make(chan error, len(jobs))
	for _, j := range jobs {
		if j.err != nil {
			r.Progress.Kernel(j.ref, "failed: "+j.err.Error())
			info := KernelInfo{Ref: j.ref}
			for _, c := range j.cells {
				if err := r.record(c, info, infraFailed(j.err), 1, nil); err != nil {
					return err
				}
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := r.kernel(ctx, j.ref, j.k, accel, j.cells); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := ctx.Err(); err != nil {
		return err
	}
	return <-errc // a journal write error, or nil
}

func infraFailed(err error) outcome.Outcome {
	o := outcome.Outcome{Status: outcome.InfraFailed, Error: firstLine(err.Error()), Steps: []outcome.Step{}, Signals: []string{}}
	var ge *guest.Error
	if errors.As(err, &ge) {
		o.Notes = ge.Console
	}
	o.Summary = o.Summarize()
	return o
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// kernel boots one kernel and runs its cells; an infrastructure failure
// (boot, SSH, agent lost) is retried once on a fresh guest, then the
// remaining cells are recorded as infra-failed.
func (r *Runner) kernel(ctx context.Context, ref string, k *kernels.Kernel, accel string, cells []Cell) error {
	info := KernelInfo{Ref: ref, ImageRelease: k.Image.Release, Origin: k.Origin, Accel: accel}
	pending := cells
	var lastErr error
	for attempt := 1; attempt <= 2 && len(pending) > 0; attempt++ {
		if attempt == 2 {
			r.Log(fmt.Sprintf("%s: retrying %d cells on a fresh guest after: %s", ref, len(pending), firstLine(lastErr.Error())))
		}
		var err error
		pending, err = r.attempt(ctx, ref, k, accel, info, pending, attempt)
		if ctx.Err() != nil {
			return nil
		}
		var je *journalError
		if errors.As(err, &je) {
			return je.err
		}
		lastErr = err
	}
	for _, c := range pending {
		if err := r.record(c, info, infraFailed(lastErr), 2, nil); err != nil {
			return err
		}
	}
	if len(pending) > 0 {
		r.Progress.Kernel(ref, "failed: "+firstLine(lastErr.Error()))
	} else {
		r.Progress.Kernel(ref, "done")
	}
	return nil
}

type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }

// attempt boots a guest and runs cells on it; it returns the cells it did
// not get results for and why.
func (r *Runner) attempt(ctx context.Context, ref string, k *kernels.Kernel, accel string, info KernelInfo, cells []Cell, attempt int) ([]Cell, error) {
	r.Progress.Kernel(ref, "booting")
	g, err := guest.Boot(ctx, r.Env, k, accel)
	if err != nil {
		return cells, err
	}
	defer g.Close()
	info.Release, info.Arch = g.Probe.Release, g.Probe.Machine
	info.Transport = g.Ready.Transport
	info.UnameVersion, info.ImageVersion = g.Probe.Version, k.Image.Version
	info.QEMU, info.AgentSHA256 = g.Machine.CommandLine(), g.AgentSHA256
	_, mark := g.Machine.ConsoleSince(0)
	var args []string
	for _, c := range cells {
		args = append(args, "-cell", c.Case+"@"+c.Profile)
	}
	pending := append([]Cell(nil), cells...)
	n := 0
	r.Progress.Kernel(ref, fmt.Sprintf("case 1/%d %s", len(cells), cells[0].Case))
	err = g.RunCases(ctx, func(res outcome.Result) error {
		if len(pending) == 0 || pending[0].Case != res.Case || pending[0].Profile != res.Profile {
			return nil // not the cell asked for next; the agent runs them in order
		}
		c := pending[0]
		pending = pending[1:]
		var console []string
		console, mark = g.Machine.ConsoleSince(mark)
		if err := r.record(c, info, res.Outcome, attempt, console); err != nil {
			return &journalError{err}
		}
		n++
		if len(pending) > 0 {
			r.Progress.Kernel(ref, fmt.Sprintf("case %d/%d %s", n+1, len(cells), pending[0].Case))
		}
		return nil
	}, args...)
	if err != nil {
		return pending, err
	}
	if len(pending) > 0 {
		return pending, fmt.Errorf("agent ended without results for %d cells", len(pending))
	}
	return nil, nil
}

// record applies the expectation and journals one cell.
func (r *Runner) record(c Cell, info KernelInfo, o outcome.Outcome, attempt int, console []string) error {
	if len(console) > 50 {
		console = console[len(console)-50:]
	}
	rec := Record{Cell: c, KernelInfo: info, Status: o.Status, Outcome: o, Attempt: attempt, Time: time.Now().UTC(), Console: console}
	if o.Status == outcome.OK && info.Release != "" {
		tc, err := testcases.Lookup(c.Case)
		if err == nil {
			if e, err := r.Spec.Expectation(tc, info.Release, info.Arch, c.Profile); err == nil && e != nil {
				rec.Expect = &Verdict{Summary: e.Summary, Source: e.Source, Pass: e.Summary == o.Summary}
			}
		}
	}
	if err := r.Journal.Add(rec); err != nil {
		return err
	}
	r.Progress.Cell(rec)
	return nil
}
