package guest

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// A boot's expected time follows what this host knows of the kernel: how
// long its own cold boots took to ready, else the slowest cold boot seen
// for its architecture and accelerator. Past it, a boot whose console is
// silent is stopped (watchQuiet), so a guest that cannot become ready
// holds its slot for about a minute and a half, not the full
// --boot-timeout twice over.

// quietLimit is how long a boot past its expected time may print nothing
// before it is taken as stalled: a boot slowed by a loaded host still
// prints its kernel log, one that cannot go on does not.
const quietLimit = 20 * time.Second

// console is what watchQuiet reads of a guest (a *vm.Machine).
type console interface{ ConsoleLines() int }

// watchQuiet calls stop once the boot is past expected and its console
// has printed nothing for quiet; the returned func, called after the wait
// on ctx, reports whether that is what ended it. An expected time that
// reaches ctx's own deadline watches nothing.
func watchQuiet(ctx context.Context, m console, expected, quiet time.Duration, stop func()) func() bool {
	var stalled atomic.Bool
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(expected).Before(dl) {
		return stalled.Load
	}
	go func() {
		t := time.NewTimer(expected)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		tick := time.NewTicker(quiet)
		defer tick.Stop()
		last := m.ConsoleLines()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n := m.ConsoleLines()
			if n == last {
				stalled.Store(true)
				stop()
				return
			}
			last = n
		}
	}()
	return stalled.Load
}

// experienceFile, in the cache, keeps cold boot times.
const experienceFile = "boot-times.json"

// A boot is expected to take at most this many times the time known for
// it, and is given at least minExpected (a loaded host, a cold cache).
const (
	experienceFactor = 5
	minExpected      = 60 * time.Second
)

// bootTimes is experienceFile: the slowest cold boot to ready, in seconds,
// by kernel image digest and by architecture and accelerator.
type bootTimes struct {
	Kernels map[string]float64 `json:"kernels"`
	Arches  map[string]float64 `json:"arches"`
}

// experience reads and writes bootTimes; the zero value knows nothing.
type experience struct {
	mu   sync.Mutex
	path string
}

func (e *experience) read() bootTimes {
	t := bootTimes{Kernels: map[string]float64{}, Arches: map[string]float64{}}
	if e.path == "" {
		return t
	}
	if b, err := os.ReadFile(e.path); err == nil {
		_ = json.Unmarshal(b, &t) // a damaged file is no experience
	}
	if t.Kernels == nil {
		t.Kernels = map[string]float64{}
	}
	if t.Arches == nil {
		t.Arches = map[string]float64{}
	}
	return t
}

func archKey(k *kernels.Kernel, accel string) string { return k.Image.Arch + "/" + accel }

// expected is how long a boot of k under accel is expected to take:
// experienceFactor times what is known of it (the kernel's own boots,
// else its architecture's), at least minExpected, at most limit; limit
// when nothing is known. why says which.
func (e *experience) expected(k *kernels.Kernel, accel string, limit time.Duration) (d time.Duration, why string) {
	if e == nil {
		return limit, "--boot-timeout"
	}
	e.mu.Lock()
	t := e.read()
	e.mu.Unlock()
	known, why := t.Kernels[k.Origin.SHA256], "this kernel's own boots"
	if known <= 0 {
		known, why = t.Arches[archKey(k, accel)], "the slowest "+archKey(k, accel)+" boot seen here"
	}
	if known <= 0 {
		return limit, "--boot-timeout"
	}
	d = max(minExpected, time.Duration(experienceFactor*known*float64(time.Second)))
	if d >= limit {
		return limit, "--boot-timeout"
	}
	return d, why
}

// record keeps a cold boot's time to ready.
func (e *experience) record(k *kernels.Kernel, accel string, ready time.Duration) {
	if e == nil || e.path == "" || ready <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.read()
	s := ready.Seconds()
	t.Kernels[k.Origin.SHA256] = max(t.Kernels[k.Origin.SHA256], s)
	t.Arches[archKey(k, accel)] = max(t.Arches[archKey(k, accel)], s)
	_ = store.WriteJSON(e.path, t) // a hint: losing it costs a longer wait
}
