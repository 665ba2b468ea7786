// Package outcome is the data a case run produces: the ordered syscall
// steps, the signals they raised and how the case ended. It is shared by the
// guest agent, the local runner and the matrix, and holds no behaviour beyond
// deriving the compact summary.
package outcome

import (
	"fmt"
	"strings"
)

// Rows that are not cases have case IDs of their own: a go test row is
// GoTestPrefix + IMPORT.TestName, a program ProgramPrefix + its name.
const (
	GoTestPrefix  = "gotest:"
	ProgramPrefix = "program:"
)

// Status says how a case run ended.
type Status string

// Statuses a case run can end with.
const (
	// OK means the case ran to its end; its steps are the kernel's behaviour.
	OK Status = "ok"
	// Timeout means the watchdog killed the case; the steps so far are kept.
	Timeout Status = "timeout"
	// Crashed means the case process died without finishing.
	Crashed Status = "crashed"
	// Error means the harness could not set the case up (not kernel behaviour).
	Error Status = "error"
	// ProfileUnavailable means the sysctl profile cannot be applied on this kernel.
	ProfileUnavailable Status = "profile-unavailable"
	// FamilyUnavailable means the kernel has no IPv6 (not built, or
	// disabled) for a case run over IPv6: a fact about it, not an error.
	FamilyUnavailable Status = "family-unavailable"
	// InfraFailed means the guest could not be booted or reached (QEMU,
	// SSH or the agent failed), twice: nothing is known of the kernel.
	InfraFailed Status = "infra-failed"
	// BootFailed means the kernel itself did not boot (it panicked or
	// stopped before the init ran): a fact about the image, not a flake.
	BootFailed Status = "boot-failed"
)

// Arg is one named argument of a step, in call order.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Step is one system call the case made and what the kernel returned.
type Step struct {
	// Label names the step in the summary ("write2"); it defaults to Call.
	Label string `json:"label"`
	// Call is the system call ("sendto").
	Call string `json:"call"`
	// Side is who made the call: "client", "server" or "" for setup.
	Side string `json:"side,omitempty"`
	// Fd is the symbolic socket the call was made on ("client", "listener").
	Fd   string `json:"fd,omitempty"`
	Args []Arg  `json:"args,omitempty"`
	// Ret is the raw return value (-1 on failure).
	Ret int64 `json:"ret"`
	// Errno is the errno name when Ret is -1 ("EPIPE").
	Errno string `json:"errno,omitempty"`
	// RetFd marks calls returning a descriptor, summarised as "fd".
	RetFd bool `json:"ret_fd,omitempty"`
	// Signals are the signals the call raised ("SIGPIPE").
	Signals []string `json:"signals,omitempty"`
	// Detail is extra decoded output (bytes read, a TCP state).
	Detail string `json:"detail,omitempty"`
	// Value is what a successful call read (an option's value), which the
	// summary shows in place of the return value.
	Value string `json:"value,omitempty"`
	// StartMS is when the call began, in ms since the case started.
	StartMS float64 `json:"start_ms"`
	// DurMS is how long the call took in ms.
	DurMS float64 `json:"dur_ms"`
	// Key marks the steps that make up the summary.
	Key bool `json:"key,omitempty"`
	// Timed adds the call's duration, in whole seconds, to the summary.
	Timed bool `json:"timed,omitempty"`
	// ShowDetail adds Detail to the summary.
	ShowDetail bool `json:"show_detail,omitempty"`
	// StopOnFail says the case ends here if this call failed with an errno
	// not in Unless.
	StopOnFail bool     `json:"stop_on_fail,omitempty"`
	Unless     []string `json:"unless,omitempty"`
}

// Failed reports whether the call returned an error.
func (s Step) Failed() bool { return s.Errno != "" }

// Short is the step's summary fragment, e.g. "write2=-1 EPIPE +SIGPIPE".
func (s Step) Short() string {
	var b strings.Builder
	b.WriteString(s.Label)
	b.WriteByte('=')
	switch {
	case s.Errno != "":
		fmt.Fprintf(&b, "%d %s", s.Ret, s.Errno)
	case s.RetFd:
		b.WriteString("fd")
	case s.Value != "":
		b.WriteString(s.Value)
	default:
		fmt.Fprintf(&b, "%d", s.Ret)
	}
	for _, sig := range s.Signals {
		b.WriteString(" +" + sig)
	}
	if s.Timed {
		fmt.Fprintf(&b, " @%ds", int(s.DurMS/1000+0.5))
	}
	if s.ShowDetail && s.Detail != "" {
		b.WriteString(" " + s.Detail)
	}
	return b.String()
}

// Outcome is everything one case run on one kernel produced.
type Outcome struct {
	Status Status `json:"status"`
	// Summary is derived from the key steps and Status.
	Summary string `json:"summary"`
	Steps   []Step `json:"steps"`
	// Signals are all signals delivered to the case process, in order.
	Signals []string `json:"signals"`
	// Sysctls are the values in force while the case ran.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// AbsentSysctls are sysctls of the profile this kernel does not have
	// (tcp_fastopen before 3.6): the case ran without them.
	AbsentSysctls []string `json:"absent_sysctls,omitempty"`
	// Isolation says how the case was isolated ("netns" or "shared").
	Isolation string `json:"isolation,omitempty"`
	// Notes are facts about the run that are not steps (a missing feature).
	Notes []string `json:"notes,omitempty"`
	// Error explains a status other than ok.
	Error string `json:"error,omitempty"`
	// Stderr is the tail of the case process's stderr when it crashed.
	Stderr string `json:"stderr,omitempty"`
	// Reported is the verdict the case gave itself (a go test's PASS,
	// FAIL or SKIP), which is its summary in place of key steps.
	Reported string `json:"reported,omitempty"`
	// Output is the tail of what the case printed (a go test's log).
	Output string `json:"output,omitempty"`
	// DurMS is the case's wall time in ms.
	DurMS float64 `json:"dur_ms"`
}

// Summarize derives the compact summary from the key steps and the status.
func (o *Outcome) Summarize() string {
	var parts []string
	for _, s := range o.Steps {
		if s.Key {
			parts = append(parts, s.Short())
		}
	}
	switch o.Status {
	case OK:
		if o.Reported != "" {
			return o.Reported
		}
		if len(parts) == 0 {
			return "(no key steps)"
		}

	case ProfileUnavailable:
		return "profile unavailable"
	case FamilyUnavailable:
		return "no ipv6"
	default:
		parts = append(parts, string(o.Status))
	}
	return strings.Join(parts, " ")
}

// Marked is the summary with the facts that qualify it: the profile's
// sysctls this kernel does not have, e.g. "sendto=-1 EPIPE (no
// net.ipv4.tcp_fastopen)". Expectations judge the summary alone.
func (o *Outcome) Marked() string {
	if len(o.AbsentSysctls) == 0 || o.Status != OK {
		return o.Summary
	}
	return o.Summary + " (no " + strings.Join(o.AbsentSysctls, ", no ") + ")"
}

// Kernel identifies the kernel a result was measured on.
type Kernel struct {
	// Ref is the reference the user gave ("debian:6.1", a path, "local").
	Ref string `json:"ref"`
	// Release is what uname -r reported in the guest.
	Release string `json:"release"`
	// Arch is what uname -m reported in the guest.
	Arch string `json:"arch"`
}

// Result is one case under one sysctl profile on one kernel.
type Result struct {
	Case    string  `json:"case"`
	Profile string  `json:"profile"`
	Kernel  *Kernel `json:"kernel,omitempty"`
	Outcome Outcome `json:"outcome"`
}
