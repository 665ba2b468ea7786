package caserun

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
	"github.com/runmatrix/runmatrix/internal/testkit/casetest"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// The test binary doubles as the case process: the runner re-executes it
// with ChildCommand, or with a helperEnv mode that misbehaves on purpose.
const helperEnv = "RUNMATRIX_CASERUN_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "socket":
		// A program a traced script execs: one socket call, and its summary.
		// It ignores SIGPIPE, as most network programs do, and sends on an
		// unconnected TCP socket: EPIPE, and no SIGPIPE raised.
		signal.Ignore(syscall.SIGPIPE)
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); err == nil {
			err := unix.Sendto(fd, []byte("x"), 0, nil)
			unix.Close(fd)
			fmt.Printf("%ssocket=fd sendto=%v\n", bootproto.SummaryPrefix, err)
		}
		os.Exit(0)
	case "hang":
		// One step, then hang like a case stuck in a blocking call.
		fmt.Println(`{"step":{"label":"accept","call":"accept","ret":-1,"errno":"EAGAIN","key":true}}`)
		select {}
	case "crash":
		fmt.Println(`{"step":{"label":"write1","call":"write","ret":1,"key":true}}`)
		panic("case process crashed on purpose")
	}
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		os.Exit(Child(os.Args[2:], os.Stdout))
	}
	if len(os.Args) > 1 && os.Args[1] == ProgChildCommand {
		os.Exit(ProgChild(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == TraceExecCommand {
		os.Exit(TraceExec(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: local case runs use network namespaces, sysctls and raw sockets")
	}
}

func uname(t *testing.T) (release, machine string) {
	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	return unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Machine[:])
}

// TestHostKernel runs every case on the host kernel: all TFO cases under
// each TFO profile, the others under the kernel's default, and checks them
// against the kernel's documented behaviour.
func TestHostKernel(t *testing.T) {
	requireRoot(t)
	r := &Runner{Exe: os.Args[0]}
	tfo, err := testcases.Select([]string{"tfo.*"})
	require.NoError(t, err)
	others, err := testcases.Select([]string{"defer-accept.*", "reconnect.*", "linger0.*", "epipe.*", "flags.*"})
	require.NoError(t, err)
	var recs []results.Record
	collect := func(res outcome.Result) {
		recs = append(recs, results.Record{Cell: results.Cell{Key: results.Key{Case: res.Case, Profile: res.Profile, Kernel: "local"}}, Outcome: res.Outcome})
	}
	ctx := context.Background()
	require.NoError(t, r.RunAll(ctx, tfo, profiles(t, "default", "tfo=0", "tfo=1", "tfo=3", "tfo=0x207"), collect))
	require.NoError(t, r.RunAll(ctx, others, profiles(t, "default"), collect))
	require.Len(t, recs, len(tfo)*5+len(others))
	rel, arch := uname(t)
	casetest.CheckDocumented(t, rel, arch, casetest.HostConfig(rel), recs)
	for _, res := range recs {
		require.Equal(t, "netns", res.Outcome.Isolation, res.Case)
		require.Contains(t, res.Outcome.Sysctls, testcases.SysctlTCPFastOpen, res.Case)
	}
}

// TestSignalAttribution checks SIGPIPE lands on the call that raised it and
// on no other.
func TestSignalAttribution(t *testing.T) {
	requireRoot(t)
	r := &Runner{Exe: os.Args[0]}
	c, err := testcases.Lookup("epipe.write-after-close")
	require.NoError(t, err)
	o := r.Run(context.Background(), c, profiles(t, "default")[0])
	require.Equal(t, outcome.OK, o.Status, o.Error)
	for _, s := range o.Steps {
		if s.Label == "write2" {
			require.Equal(t, []string{"SIGPIPE"}, s.Signals)
		} else {
			require.Empty(t, s.Signals, s.Label)
		}
	}
	require.Equal(t, []string{"SIGPIPE"}, o.Signals)
}

// TestValueReadInSummary: getsockopt read back shows the value the kernel
// kept ("getsockopt=5"), not the call's return value ("getsockopt=0").
func TestValueReadInSummary(t *testing.T) {
	requireRoot(t)
	r := &Runner{Exe: os.Args[0]}
	c, err := testcases.Lookup("tfo.listener-option")
	require.NoError(t, err)
	o := r.Run(context.Background(), c, profiles(t, "default")[0])
	require.Equal(t, outcome.OK, o.Status, o.Error)
	require.Equal(t, "setsockopt=0 getsockopt=5 listen=0", o.Summary)
}

// TestIPv6OnTheHost runs the cases made of ordinary socket calls over
// IPv6 on the host kernel: the sockets are AF_INET6, the address ::1, and
// the outcomes those IPv4 gives (loopback TFO, EPIPE, flags).
func TestIPv6OnTheHost(t *testing.T) {
	requireRoot(t)
	r := &Runner{Exe: os.Args[0]}
	for _, tc := range []struct{ id, profile string }{
		{"tfo.sendto.blocking", "tfo=3"}, {"epipe.write-after-close", "default"}, {"flags.unknown.sendto", "default"}, {"tfo.server.data-in-syn", "tfo=3"},
	} {
		c, err := testcases.Lookup(tc.id)
		require.NoError(t, err)
		v4 := r.Run(context.Background(), c, profiles(t, tc.profile)[0])
		v6 := r.Run(context.Background(), c, profiles(t, tc.profile+"+ipv6")[0])
		require.Equal(t, outcome.OK, v6.Status, "%s: %s", tc.id, v6.Error)
		require.Equal(t, v4.Summary, v6.Summary, tc.id)
		require.Contains(t, v6.Steps[0].Args, outcome.Arg{Name: "domain", Value: "AF_INET6"}, tc.id)
		for _, s := range v6.Steps {
			for _, a := range s.Args {
				if a.Name == "addr" && a.Value != "NULL" {
					require.True(t, strings.HasPrefix(a.Value, "[::1]:"), "%s: %s", tc.id, a.Value)
				}
			}
		}
	}
}

// TestProfileRestoredWithoutNamespace runs a TFO case in the runner's own
// namespace, as on kernels without network namespaces, and checks the
// profile's sysctl is back to its old value afterwards.
func TestProfileRestoredWithoutNamespace(t *testing.T) {
	requireRoot(t)
	path := testcases.SysctlPath(testcases.SysctlTCPFastOpen)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	r := &Runner{Exe: os.Args[0], Shared: true}
	c, err := testcases.Lookup("tfo.sendto.nonblocking")
	require.NoError(t, err)
	p := profiles(t, "tfo=0x207")[0]
	require.NotEqual(t, "519", strings.TrimSpace(string(before)), "host already at the test profile's value; the test would prove nothing")
	o := r.Run(context.Background(), c, p)
	require.Equal(t, outcome.OK, o.Status, o.Error)
	require.Equal(t, "shared", o.Isolation)
	require.Equal(t, "519", o.Sysctls[testcases.SysctlTCPFastOpen], "the profile was in force during the case")
	require.Equal(t, "sendto=5 recv=5", o.Summary, "bit 4 puts the data in the SYN without a cookie")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after))
}

// TestIPv6CookiesWithoutNamespace runs TFO cases over IPv6 in the
// runner's own namespace, as on kernels without network namespaces: a
// cookie one case obtained must not reach the next. Over ::1, the one
// IPv6 loopback address, tfo.sendto.nonblocking under tfo=1 found the
// cookie tfo.server.data-in-syn had cached and sent its data in the SYN
// ("sendto=5 recv=5", seen on OpenWrt 4.9); each case now has an address
// of its own on lo, gone again when it ends.
func TestIPv6CookiesWithoutNamespace(t *testing.T) {
	requireRoot(t)
	r := &Runner{Exe: os.Args[0], Shared: true}
	for _, tc := range []struct{ id, profile, want string }{
		{"tfo.server.data-in-syn", "tfo=3+ipv6", "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=6 recv2=6"},
		{"tfo.sendto.nonblocking", "tfo=1+ipv6", "sendto=-1 EINPROGRESS"},
	} {
		c, err := testcases.Lookup(tc.id)
		require.NoError(t, err)
		o := r.Run(context.Background(), c, profiles(t, tc.profile)[0])
		require.Equal(t, outcome.OK, o.Status, "%s: %s", tc.id, o.Error)
		require.Equal(t, "shared", o.Isolation)
		require.Equal(t, tc.want, o.Summary, tc.id)
		require.Contains(t, o.Notes[0], "an address of its own on lo, fd", tc.id)
	}
	lo, err := net.InterfaceByName("lo")
	require.NoError(t, err)
	addrs, err := lo.Addrs()
	require.NoError(t, err)
	for _, a := range addrs {
		require.False(t, strings.HasPrefix(a.String(), "fd"), "left on lo: %s", a)
	}
}

func TestWatchdogAndCrash(t *testing.T) {
	tests := []struct {
		mode     string
		status   outcome.Status
		summary  string
		inStderr string
	}{
		{"hang", outcome.Timeout, "accept=-1 EAGAIN timeout", ""},
		{"crash", outcome.Crashed, "write1=1 crashed", "crashed on purpose"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv(helperEnv, tt.mode)
			r := &Runner{Exe: os.Args[0], Shared: true}
			c := &testcases.Case{ID: "helper." + tt.mode, Timeout: 2 * time.Second}
			start := time.Now()
			o := r.Run(context.Background(), c, testcases.Profile{Name: "default"})
			require.Less(t, time.Since(start), 20*time.Second)
			require.Equal(t, tt.status, o.Status, o.Error)
			require.Equal(t, tt.summary, o.Summary, "steps measured before the end are kept")
			require.Contains(t, o.Stderr, tt.inStderr)
		})
	}
}

func profiles(t *testing.T, names ...string) []testcases.Profile {
	var ps []testcases.Profile
	for _, n := range names {
		p, err := testcases.ParseProfile(n)
		require.NoError(t, err)
		ps = append(ps, p)
	}
	return ps
}

// TestAbsentSysctlIsAFact: a profile sysctl the kernel does not have does
// not stop the case; it is reported as absent. A refused value would.
func TestAbsentSysctlIsAFact(t *testing.T) {
	p := testcases.Profile{Name: "test", Sysctls: map[string]string{"net.ipv4.runmatrix_no_such_sysctl": "1"}}
	absent, err := applyProfile(p, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"net.ipv4.runmatrix_no_such_sysctl"}, absent)
	o := outcome.Outcome{Status: outcome.OK, AbsentSysctls: absent,
		Steps: []outcome.Step{{Label: "sendto", Ret: -1, Errno: "EPIPE", Key: true}}}
	o.Summary = o.Summarize()
	require.Equal(t, "sendto=-1 EPIPE", o.Summary, "expectations judge the kernel's behaviour alone")
	require.Equal(t, "sendto=-1 EPIPE (no net.ipv4.runmatrix_no_such_sysctl)", o.Marked())
}

// TestProgramsOnTheHost runs a script that forks, execs a command and then
// execs a program that makes a socket call, with and without a PID
// namespace of its own, traced and not:
//   - as on a kernel without PID namespaces (OpenWrt's builds) it runs, in
//     a mount namespace and a process group of its own, and the cell says
//     what it shared; before, every program failed with "mount /proc:
//     device or resource busy";
//   - traced, its summary is the untraced one and the exec'd program's
//     socket call is in the trace; before, the SIGTRAP the kernel sends
//     after execve was passed on and killed it.
func TestProgramsOnTheHost(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/runmatrix"); err != nil {
		t.Cleanup(func() { os.RemoveAll("/runmatrix") }) // the programs' working directory, made by the init
	}
	dir := archivetest.ScratchDir(t) // not under /tmp, which the init mounts anew
	self, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "helper"), self, 0o755)) // shipped beside the script, as a program's files are
	script := "#!/bin/sh\n" +
		"/bin/true\n" + // a fork and an exec
		"GODEBUG=asyncpreemptoff=1 RUNMATRIX_CASERUN_HELPER=socket exec ./helper\n" // no SIGURG to tell the traces apart
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prog.sh"), []byte(script), 0o755))
	pr := bootproto.Program{ID: "program:prog.sh", Dir: dir, Bin: "prog.sh", Interp: "/bin/sh", TimeoutS: 30}
	run := func(t *testing.T, trace, every bool, namespaces []uintptr) (end, []outcome.Step) {
		pr.Trace, pr.TraceEvery = trace, every
		var steps []outcome.Step
		e := runProgramIn(pr, func(s outcome.Step) { steps = append(steps, s) }, namespaces)
		require.Equal(t, outcome.OK, e.Status, "%s %s", e.Error, e.Stderr)
		return e, steps
	}
	for _, tc := range []struct {
		name       string
		namespaces []uintptr
		note       bool
	}{
		{"own PID namespace", programNamespaces, false},
		{"no PID namespace", []uintptr{syscall.CLONE_NEWNS}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, _ := run(t, false, false, tc.namespaces)
			require.Equal(t, "socket=fd sendto=broken pipe", plain.Reported)
			require.Equal(t, tc.note, slices.Contains(plain.Notes, noPIDNamespace), "%q", plain.Notes)
			var traces [][]string
			for _, every := range []bool{false, true} {
				traced, steps := run(t, true, every, tc.namespaces)
				require.Equal(t, plain.Reported, traced.Reported, "traced as untraced")
				how := "a seccomp filter stopped only the calls traced"
				if every {
					how = "every system call stopped (asked for)"
				}
				require.True(t, slices.ContainsFunc(traced.Notes, func(n string) bool { return strings.HasPrefix(n, "trace: "+how+"; ") }), "%q", traced.Notes)
				var calls []string
				for _, s := range steps {
					calls = append(calls, fmt.Sprintf("%s %s %d %s %v", s.Call, s.Fd, s.Ret, s.Errno, s.Signals))
				}
				require.True(t, slices.ContainsFunc(steps, func(s outcome.Step) bool { return s.Call == "socket" }), "the exec'd program's call is traced: %q", calls)
				send := steps[slices.IndexFunc(steps, func(s outcome.Step) bool { return s.Call == "sendto" })]
				require.Equal(t, "EPIPE", send.Errno)
				require.Empty(t, send.Signals, "an ignored SIGPIPE is not raised")
				require.Contains(t, send.Args, outcome.Arg{Name: "sigpipe", Value: "ignored"}, "the disposition is part of the step")
				traces = append(traces, calls)
			}
			require.Equal(t, traces[1], traces[0], "the filtered trace is the full one, call for call")
		})
	}
}

// TestChildEnv: a case process runs without the runtime's preemption
// signal, keeping the rest of the environment and any GODEBUG given.
func TestChildEnv(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=asyncpreemptoff=1"}},
		{[]string{"GODEBUG=", "A=1"}, []string{"A=1", "GODEBUG=asyncpreemptoff=1"}},
		{[]string{"GODEBUG=gctrace=1,asyncpreemptoff=0"}, []string{"GODEBUG=gctrace=1,asyncpreemptoff=0,asyncpreemptoff=1"}},
	} {
		require.Equal(t, tc.want, childEnv(tc.in))
	}
}
