package caserun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/inguest/netif"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Runner runs cases, each in a child process of Exe.
type Runner struct {
	// Exe is the binary that runs a case when given Args then ChildCommand.
	Exe string
	// Args come before ChildCommand on the child's command line.
	Args []string
	// Shared runs cases in the runner's own network namespace, as on
	// kernels without CONFIG_NET_NS, each on a fresh loopback address.
	Shared bool

	netns  *bool           // whether cases get a network namespace; learnt once
	global map[string]bool // recorded sysctls the runner sets for the child
}

// NewRunner returns a Runner that re-executes the running binary.
func NewRunner(args ...string) (*Runner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	return &Runner{Exe: exe, Args: args}, nil
}

// RunAll runs every case under every profile, in order, and passes each
// result to emit as soon as it is known.
func (r *Runner) RunAll(ctx context.Context, cases []*testcases.Case, profiles []testcases.Profile, emit func(outcome.Result)) error {
	for _, c := range cases {
		for _, p := range profiles {
			if err := ctx.Err(); err != nil {
				return err
			}
			emit(outcome.Result{Case: c.ID, Profile: p.Name, Outcome: r.Run(ctx, c, p)})
		}
	}
	return nil
}

// Run runs one case under one profile in a fresh child process and
// network namespace, kills it when its timeout passes, and restores the
// sysctls the profile changed in this namespace (before Linux 4.12
// tcp_fastopen is global, so a child's write outlives its namespace).
func (r *Runner) Run(ctx context.Context, c *testcases.Case, p testcases.Profile) outcome.Outcome {
	saved := snapshot(p)
	defer restore(saved)
	start := time.Now()
	o := r.run(ctx, c, p)
	o.DurMS = float64(time.Since(start).Microseconds()) / 1000
	o.Summary = o.Summarize()
	return o
}

func (r *Runner) run(ctx context.Context, c *testcases.Case, p testcases.Profile) outcome.Outcome {
	netns, err := r.isolation(ctx)
	if err != nil {
		return outcome.Outcome{Status: outcome.Error, Error: err.Error()}
	}
	// Sysctls that are global on this kernel cannot be set from the case's
	// namespace (before 4.12 tcp_fastopen is not even visible there), so the
	// runner sets them here; the child sets the per-namespace ones.
	var here []string
	for name, v := range p.Sysctls {
		if !r.global[name] {
			continue
		}
		if err := apply(p.Name, name, v); err != nil {
			return outcome.Outcome{Status: outcome.ProfileUnavailable, Error: err.Error(), Sysctls: readSysctls()}
		}
		here = append(here, name)
	}
	o, err := r.child(ctx, c, p, netns, here)
	if err != nil {
		return outcome.Outcome{Status: outcome.Error, Error: err.Error()}
	}
	if o.Sysctls != nil {
		for name, v := range readSysctls() {
			if r.global[name] {
				o.Sysctls[name] = v
			}
		}
	}
	return o
}

// isolation decides once whether cases get their own network namespace
// and which recorded sysctls are global (visible here, absent in a fresh
// namespace).
func (r *Runner) isolation(ctx context.Context) (netns bool, err error) {
	if r.netns != nil {
		return *r.netns, nil
	}
	netns = !r.Shared
	inNS := map[string]bool{}
	if netns {
		cmd := exec.CommandContext(ctx, r.Exe, append(append([]string{}, r.Args...), ChildCommand, sysctlsProbe)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		out, err := cmd.Output()
		switch {
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM):
			netns = false // no CONFIG_NET_NS, or not allowed
		case err != nil:
			return false, fmt.Errorf("probe sysctls in a new network namespace: %w", err)
		default:
			var names []string
			if err := json.Unmarshal(out, &names); err != nil {
				return false, fmt.Errorf("probe sysctls in a new network namespace: %q: %w", out, err)
			}
			for _, n := range names {
				inNS[n] = true
			}
		}
	}
	r.global = map[string]bool{}
	for _, name := range testcases.Recorded {
		_, err := os.Stat(testcases.SysctlPath(name))
		r.global[name] = err == nil && (!netns || !inNS[name])
	}
	r.netns = &netns
	return netns, nil
}

// child starts one case process; err is only for a process that could not
// be started.
func (r *Runner) child(ctx context.Context, c *testcases.Case, p testcases.Profile, netns bool, setHere []string) (outcome.Outcome, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	iso, addr := "netns", "127.0.0.1"
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if netns {
		attr.Cloneflags = syscall.CLONE_NEWNET
	} else {
		// Without a namespace, a fresh loopback address per case keeps TFO
		// cookies, which are cached per destination, from leaking between
		// cases. IPv6 has one loopback address, so an IPv6 case gets a
		// unique local address of its own on lo for its run.
		iso = "shared"
		addr = fmt.Sprintf("127.%d.%d.%d", 1+rand.Intn(250), rand.Intn(256), 1+rand.Intn(250))
		if p.Family == testcases.IPv6 && noIPv6() == nil { // else the case says "no ipv6" itself
			a := freshULA()
			if err := netif.AddAddr6("lo", a); err != nil {
				return outcome.Outcome{}, fmt.Errorf("give the case an IPv6 address of its own: %w", err)
			}
			defer netif.DelAddr6("lo", a)
			addr = a.String()
		}
	}
	set := "-"
	if len(setHere) > 0 {
		set = strings.Join(setHere, ",")
	}
	args := append(append([]string{}, r.Args...), ChildCommand, c.ID, p.Name, iso, addr, set)
	cmd := exec.Command(r.Exe, args...)
	cmd.SysProcAttr = attr
	cmd.Env = childEnv(os.Environ())
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return outcome.Outcome{}, err
	}
	if err := cmd.Start(); err != nil {
		return outcome.Outcome{}, fmt.Errorf("start case process: %w", err)
	}
	o := outcome.Outcome{Isolation: iso, Steps: []outcome.Step{}, Signals: []string{}}
	if !netns {
		o.Notes = append(o.Notes, "no network namespace on this kernel: the case shared the guest's and used an address of its own on lo, "+addr)
	}
	lines := make(chan message)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var m message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = message{Note: "unparsable line from the case process: " + sc.Text()}
			}
			lines <- m
		}
	}()
	var ended *end
loop:
	for {
		select {
		case m, ok := <-lines:
			if !ok {
				break loop
			}
			switch {
			case m.Step != nil:
				o.Steps = append(o.Steps, *m.Step)
				o.Signals = append(o.Signals, m.Step.Signals...)
			case m.Sysctls != nil:
				o.Sysctls = m.Sysctls
			case m.Absent != "":
				o.AbsentSysctls = append(o.AbsentSysctls, m.Absent)
			case m.End != nil:
				ended = m.End
			case m.Note != "":
				o.Notes = append(o.Notes, m.Note)
			}
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			for range lines {
			}
			_ = cmd.Wait()
			o.Status = outcome.Timeout
			o.Error = fmt.Sprintf("killed after %s", timeout)
			if ctx.Err() == context.Canceled {
				o.Error = "run interrupted"
			}
			return o, nil
		}
	}
	werr := cmd.Wait()
	switch {
	case ended != nil:
		o.Status, o.Error = ended.Status, ended.Error
		o.Reported, o.Output = ended.Reported, ended.Output
		o.Notes = append(o.Notes, ended.Notes...)
		if ended.Stderr != "" {
			o.Stderr = ended.Stderr
		}
		o.Signals = append(o.Signals, ended.Late...)
		if len(ended.Late) > 0 {
			o.Notes = append(o.Notes, "signals delivered to the process, not to the case's thread: "+strings.Join(ended.Late, ", "))
		}
	default:
		o.Status = outcome.Crashed
		o.Error = fmt.Sprintf("case process ended without a result: %v", werr)
		o.Stderr = stderr.String()
	}
	return o, nil
}

// tailBuffer keeps the last max bytes written to it (4 KiB when max is 0).
type tailBuffer struct {
	b   bytes.Buffer
	max int
}

func (t *tailBuffer) limit() int {
	if t.max == 0 {
		return 4096
	}
	return t.max
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	limit := t.limit()
	t.b.Write(p)
	if t.b.Len() > 2*limit {
		keep := t.b.Bytes()[t.b.Len()-limit:]
		t.b = *bytes.NewBuffer(append([]byte{}, keep...))
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	limit := t.limit()
	b := t.b.Bytes()
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}

// snapshot reads the current values of the sysctls p sets.
func snapshot(p testcases.Profile) map[string]string {
	saved := map[string]string{}
	for name := range p.Sysctls {
		if b, err := os.ReadFile(testcases.SysctlPath(name)); err == nil {
			saved[name] = strings.TrimSpace(string(b))
		}
	}
	return saved
}

// restore writes back sysctls that no longer hold their saved values.
func restore(saved map[string]string) {
	for name, v := range saved {
		path := testcases.SysctlPath(name)
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != v {
			_ = os.WriteFile(path, []byte(v+"\n"), 0o644)
		}
	}
}

// Cell is one case under one profile, for RunCells.
type Cell struct {
	Case    *testcases.Case
	Profile testcases.Profile
	// Err, when set, is why the cell cannot run (a case this binary does
	// not have): it becomes the cell's error outcome.
	Err error
}

// RunCells runs cells and passes each outcome to emit in cell order, as
// soon as it and every cell before it are known. Up to parallel cells run
// at once, but only where that cannot change an outcome: each case in its
// own network namespace and every recorded sysctl private to it (Linux
// 4.12 and later). Where a sysctl is global (tcp_fastopen before 4.12) or
// there are no namespaces, cells run one at a time, exactly as Run would.
func (r *Runner) RunCells(ctx context.Context, cells []Cell, parallel int, emit func(i int, o outcome.Outcome) error) error {
	netns, err := r.isolation(ctx)
	if err != nil {
		return err
	}
	if !netns || parallel < 1 {
		parallel = 1
	}
	for _, g := range r.global {
		if g {
			parallel = 1
		}
	}
	for _, c := range cells {
		if _, ok := programFor(c.Case.ID); ok {
			parallel = 1 // a program may load the guest: it runs alone
		}
	}
	done := make([]chan outcome.Outcome, len(cells))
	for i := range done {
		done[i] = make(chan outcome.Outcome, 1)
	}
	slots := make(chan struct{}, parallel)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for i, c := range cells {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-slots }()
				if c.Err != nil {
					o := outcome.Outcome{Status: outcome.Error, Error: c.Err.Error(), Steps: []outcome.Step{}, Signals: []string{}}
					o.Summary = o.Summarize()
					done[i] <- o
					return
				}
				done[i] <- r.Run(ctx, c.Case, c.Profile)
			}()
		}
	}()
	for i := range cells {
		select {
		case o := <-done[i]:
			if err := emit(i, o); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// childEnv is env for a case process, with the Go runtime's asynchronous
// preemption off: its SIGURG, sent to a thread the moment it enters a
// blocking call, turns a connect() or recv() bounded by SO_SNDTIMEO or
// SO_RCVTIMEO into EINTR (seen under TCG on 3.6.2: "connect=-1 EINTR
// @0s" where every other run gave "connect=0 @1s"), an outcome of the
// harness, not of the kernel.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	debug := "asyncpreemptoff=1"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			if v != "" {
				debug = v + "," + debug // the last setting of a name wins
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GODEBUG="+debug)
}

// noIPv6 is why this kernel has no IPv6 (not built, its module missing,
// or booted with ipv6.disable=1), nil when it has.
func noIPv6() error {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_INET6): %w", err)
	}
	unix.Close(fd)
	return nil
}

// freshULA is a random address in fd00::/8 (RFC 4193).
func freshULA() netip.Addr {
	var b [16]byte
	b[0] = 0xfd
	for i := 1; i < 15; i++ {
		b[i] = byte(rand.Intn(256))
	}
	b[15] = 1
	return netip.AddrFrom16(b)
}
