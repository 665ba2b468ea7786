// Package caserun runs test cases on the kernel it runs on: each case in its
// own child process and network namespace, under a watchdog, with its
// sysctl profile applied and restored. The guest agent and the CLI's local
// mode both use it; it must run on Linux 2.6.32.
package caserun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/inguest/netif"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// ChildCommand is the argument that makes a binary run one case as a child.
const ChildCommand = "case-child"

// message is one JSON line from the child to its parent.
type message struct {
	Step    *outcome.Step     `json:"step,omitempty"`
	Note    string            `json:"note,omitempty"`
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Absent names a sysctl of the profile this kernel does not have.
	Absent string `json:"absent,omitempty"`
	End    *end   `json:"end,omitempty"`
}

type end struct {
	Status outcome.Status `json:"status"`
	Error  string         `json:"error,omitempty"`
	// Late are signals delivered to the process rather than to the case's
	// thread, which no step can be blamed for.
	Late []string `json:"late,omitempty"`
	// Reported and Output are a go test's or a program's verdict and the
	// tail of its output; Stderr a program's stderr tail.
	Reported string   `json:"reported,omitempty"`
	Output   string   `json:"output,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Child runs one case; args are the case ID, the profile name, the isolation
// ("netns" or "shared") and the loopback address. It streams messages to w
// and returns the process exit status.
func Child(args []string, w io.Writer) int {
	if len(args) == 1 && args[0] == sysctlsProbe {
		var present []string
		for _, name := range testcases.Recorded {
			if _, err := os.Stat(testcases.SysctlPath(name)); err == nil {
				present = append(present, name)
			}
		}
		if err := json.NewEncoder(w).Encode(present); err != nil {
			return 3
		}
		return 0
	}
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: case-child CASE PROFILE netns|shared ADDR SET-BY-PARENT")
		return 2
	}
	// Every call of the case runs on this thread, with SIGPIPE blocked, so a
	// SIGPIPE stays pending on it until the step that raised it collects it.
	runtime.LockOSThread()
	enc := json.NewEncoder(w)
	send := func(m message) {
		if err := enc.Encode(m); err != nil {
			os.Exit(3) // the parent is gone; nobody to report to
		}
	}
	finish := func(st outcome.Status, err error) int {
		e := &end{Status: st}
		if err != nil {
			e.Error = err.Error()
		}
		send(message{End: e})
		return 0
	}

	c, err := Lookup(args[0])
	if err != nil {
		return finish(outcome.Error, err)
	}
	p, err := testcases.ParseProfile(args[1])
	if err != nil {
		return finish(outcome.Error, err)
	}
	if p.Family == testcases.IPv6 {
		if !c.RunsOver(testcases.IPv6) {
			return finish(outcome.Error, fmt.Errorf("case %s runs over IPv4 alone", c.ID))
		}
		// A kernel built without IPv6, or booted with ipv6.disable=1.
		if err := noIPv6(); err != nil {
			return finish(outcome.FamilyUnavailable, fmt.Errorf("no IPv6 on this kernel: %w", err))
		}
	}
	addr, err := parseAddr(args[3])
	if err != nil {
		return finish(outcome.Error, err)
	}
	late := make(chan os.Signal, 16)
	signal.Notify(late, unix.SIGPIPE)
	if err := testcases.BlockSIGPIPE(); err != nil {
		return finish(outcome.Error, fmt.Errorf("block SIGPIPE: %w", err))
	}
	if args[2] == "netns" {
		if err := netif.Up("lo", "127.0.0.1", "255.0.0.0"); err != nil {
			return finish(outcome.Error, fmt.Errorf("bring up lo in the case's network namespace: %w", err))
		}
	}
	absent, err := applyProfile(p, strings.Split(args[4], ","))
	if err != nil {
		send(message{Sysctls: readSysctls(c.Sysctls...)})
		return finish(outcome.ProfileUnavailable, err)
	}
	for _, name := range absent {
		send(message{Absent: name})
	}
	send(message{Sysctls: readSysctls(c.Sysctls...)})

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	addr4 := [4]byte{127, 0, 0, 1}
	if addr.Is4() {
		addr4 = addr.As4()
	}
	t := testcases.NewT(addr4,
		func(s outcome.Step) { send(message{Step: &s}) },
		func(n string) { send(message{Note: n}) },
		func() []string {
			if testcases.TakeSIGPIPE() {
				return []string{"SIGPIPE"}
			}
			return nil
		})
	t.Release = unix.ByteSliceToString(uts.Release[:])
	t.Family = p.Family
	if addr.Is6() {
		t.Addr6 = addr.As16()
	}
	e := &end{Status: outcome.OK}
	if gt, name, ok := goTestFor(c.ID); ok {
		*e = runGoTest(gt, name, func(s outcome.Step) { send(message{Step: &s}) })
	} else if pr, ok := programFor(c.ID); ok {
		*e = runProgram(pr, func(s outcome.Step) { send(message{Step: &s}) })
	} else if runErr := c.Run(t); runErr != nil {
		e.Status, e.Error = outcome.Error, runErr.Error()
	}
	t.Flush()
	signal.Stop(late)
	for len(late) > 0 {
		e.Late = append(e.Late, signalName((<-late).(unix.Signal)))
	}
	send(message{End: e})
	return 0
}

// sysctlsProbe makes the child print which recorded sysctls its namespace has.
const sysctlsProbe = "--sysctls"

// applyProfile writes the profile's sysctls except those the parent set.
// applyProfile sets the profile's sysctls that the parent did not. A
// sysctl the kernel does not have is no reason not to run the case (the
// kernel lacks the feature: that is a fact to show); it is returned in
// absent. A value the kernel refuses makes the profile unavailable.
func applyProfile(p testcases.Profile, setByParent []string) (absent []string, err error) {
	for name, v := range p.Sysctls {
		skip := false
		for _, s := range setByParent {
			skip = skip || s == name
		}
		if skip {
			continue
		}
		if err := apply(p.Name, name, v); errors.Is(err, errAbsent) {
			absent = append(absent, name)
		} else if err != nil {
			return nil, err
		}
	}
	sort.Strings(absent)
	return absent, nil
}

// errAbsent is a sysctl the kernel does not have.
var errAbsent = errors.New("this kernel has no such sysctl")

// apply writes one sysctl of profile and reads it back; a sysctl the kernel
// lacks or a value it refuses makes the profile unavailable on this kernel.
func apply(profile, name, v string) error {
	path := testcases.SysctlPath(name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("profile %s: %s: %w", profile, name, errAbsent)
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("profile %s: set %s=%s: %w", profile, name, v, unwrapPath(err))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("profile %s: read back %s: %w", profile, name, unwrapPath(err))
	}
	if strings.TrimSpace(string(got)) != v {
		return fmt.Errorf("profile %s: %s reads %s after writing %s", profile, name, strings.TrimSpace(string(got)), v)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readSysctls returns the recorded sysctls and the case's own; a missing
// one reads "absent".
func readSysctls(also ...string) map[string]string {
	m := map[string]string{}
	for _, name := range append(append([]string{}, testcases.Recorded...), also...) {
		b, err := os.ReadFile(testcases.SysctlPath(name))
		if err != nil {
			m[name] = "absent"
			continue
		}
		m[name] = strings.TrimSpace(string(b))
	}
	return m
}

// parseAddr reads the case address: an IPv4 loopback address, or over
// IPv6 in a shared namespace the case's own address.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("case address %q: %w", s, err)
	}
	return a, nil
}

func signalName(s unix.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
