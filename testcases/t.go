package testcases

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases/cnames"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// T records the steps of one case run. A case calls the kernel only through
// T's methods, so every call becomes a step with its return value, errno and
// the signals it raised. T is not safe for concurrent use: a case runs on one
// locked OS thread, which is what makes thread-directed signals such as
// SIGPIPE attributable to the exact call that raised them.
type T struct {
	// Addr is the loopback address the case's listeners bind to.
	Addr [4]byte
	// Family is the address family the case runs over: IPv4 (""), or
	// IPv6, with Addr6 (::1) as the case address.
	Family string
	Addr6  [16]byte
	// Release is the running kernel's release, for notes only.
	Release string

	start   time.Time
	steps   []outcome.Step
	flushed int
	emit    func(outcome.Step)
	note    func(string)
	names   map[int]string
	pending func() []string
}

// NewT returns a recorder that streams each finished step to emit and each
// note to note. pending returns the signals raised by the last call.
func NewT(addr [4]byte, emit func(outcome.Step), note func(string), pending func() []string) *T {
	return &T{Addr: addr, Addr6: netip.IPv6Loopback().As16(), start: time.Now(), emit: emit, note: note, names: map[int]string{}, pending: pending}
}

// Flush streams the steps not yet emitted. Call it when the case ends.
func (t *T) Flush() {
	for ; t.flushed < len(t.steps); t.flushed++ {
		t.emit(t.steps[t.flushed])
	}
}

// Notef records a fact that is not a step, such as a missing feature.
func (t *T) Notef(format string, args ...any) { t.note(fmt.Sprintf(format, args...)) }

// Call is a recorded step; its methods mark how it appears in the summary.
type Call struct {
	t   *T
	i   int
	Ret int64
	// Err is the errno the call failed with, or nil.
	Err error
}

// OK reports whether the call succeeded. Cases branch on it only to stop,
// so asking marks the step as one the case ends at when it failed; that is
// what lets a C reproducer follow the same path (see Step.StopOnFail).
func (c *Call) OK() bool {
	c.step().StopOnFail = true
	return c.Err == nil
}

// Is reports whether the call failed with errno e, which then does not end
// the case (see Step.Unless).
func (c *Call) Is(e unix.Errno) bool {
	s := c.step()
	s.Unless = append(s.Unless, errnoName(e))
	return errors.Is(c.Err, e)
}

// Fd is the descriptor the call returned.
func (c *Call) Fd() int { return int(c.Ret) }

func (c *Call) step() *outcome.Step { return &c.t.steps[c.i] }

// Key puts the step in the summary under label ("" keeps the call name).
func (c *Call) Key(label string) *Call {
	s := c.step()
	s.Key = true
	if label != "" {
		s.Label = label
	}
	return c
}

// Timed adds the call's duration in whole seconds to its summary fragment.
func (c *Call) Timed() *Call { c.step().Timed = true; return c }

// ShowDetail adds the step's detail to its summary fragment.
func (c *Call) ShowDetail() *Call { c.step().ShowDetail = true; return c }

// Detail sets decoded output of the call, such as the state it reports.
func (c *Call) Detail(format string, args ...any) *Call {
	c.step().Detail = fmt.Sprintf(format, args...)
	return c
}

// record runs fn as one step. fn returns the raw result and errno.
func (t *T) record(call, side, fd string, args []outcome.Arg, fn func() (int64, error)) *Call {
	t.Flush()
	begin := time.Now()
	ret, err := fn()
	dur := time.Since(begin)
	s := outcome.Step{
		Label:   call,
		Call:    call,
		Side:    side,
		Fd:      fd,
		Args:    args,
		Ret:     ret,
		StartMS: ms(begin.Sub(t.start)),
		DurMS:   ms(dur),
	}
	if err != nil {
		s.Ret = -1
		s.Errno = errnoName(err)
	}
	s.Signals = t.pending()
	t.steps = append(t.steps, s)
	return &Call{t: t, i: len(t.steps) - 1, Ret: s.Ret, Err: err}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// errnoName names an errno the way C headers do ("EPIPE").
func errnoName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return cnames.Errno(e)
	}
	return err.Error()
}

// name returns the symbolic name of a descriptor for the trace.
func (t *T) name(fd int) string {
	if n, ok := t.names[fd]; ok {
		return n
	}
	return fmt.Sprint(fd)
}
