package evidence

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// hostileSteps is a plausible recorded case: a client that connects to a
// listener, sends with flags and polls, every value in the agent's spelling.
func hostileSteps() []outcome.Step {
	a := func(kv ...string) []outcome.Arg {
		var out []outcome.Arg
		for i := 0; i < len(kv); i += 2 {
			out = append(out, outcome.Arg{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	return []outcome.Step{
		{Label: "socket", Call: "socket", Fd: "listener", Args: a("domain", "AF_INET", "type", "SOCK_STREAM", "protocol", "0"), Ret: 3, RetFd: true},
		{Label: "setsockopt", Call: "setsockopt", Fd: "listener", Args: a("level", "SOL_SOCKET", "optname", "SO_REUSEADDR", "value", "1")},
		{Label: "bind", Call: "bind", Fd: "listener", Args: a("addr", "127.0.0.1:0")},
		{Label: "getsockname", Call: "getsockname", Fd: "listener", Detail: "port=40000"},
		{Label: "listen", Call: "listen", Fd: "listener", Args: a("backlog", "8")},
		{Label: "socket", Call: "socket", Fd: "client", Args: a("domain", "AF_INET", "type", "SOCK_STREAM|SOCK_NONBLOCK", "protocol", "0"), Ret: 4, RetFd: true},
		{Label: "connect", Call: "connect", Fd: "client", Args: a("addr", "127.0.0.1:40000"), Ret: -1, Errno: "EINPROGRESS", StopOnFail: true, Unless: []string{"EINPROGRESS"}},
		{Label: "poll", Call: "poll", Fd: "client", Args: a("events", "POLLOUT", "timeout_ms", "1000"), Ret: 1},
		{Label: "sendto", Call: "sendto", Fd: "client", Args: a("buf", `"hello"`, "len", "5", "flags", "MSG_NOSIGNAL|0x80000000", "addr", "NULL"), Ret: 5, Key: true},
		{Label: "recv", Call: "recv", Fd: "client", Args: a("len", "16", "flags", "MSG_DONTWAIT"), Ret: -1, Errno: "EAGAIN", Key: true},
		{Label: "close", Call: "close", Fd: "client"},
	}
}

func setArg(s *outcome.Step, name, value string) {
	for i := range s.Args {
		if s.Args[i].Name == name {
			s.Args[i].Value = value
			return
		}
	}
	s.Args = append(s.Args, outcome.Arg{Name: name, Value: value})
}

// TestReproRefusesValuesOutsideTheGrammar: each value a tampered results
// file (or a guest rewriting what the agent reports) could carry into
// repro.c is refused, naming the step and the field, and no source is made.
func TestReproRefusesValuesOutsideTheGrammar(t *testing.T) {
	c, err := testcases.Lookup("tfo.sendto.blocking")
	require.NoError(t, err)
	p, err := testcases.ParseProfile("default")
	require.NoError(t, err)
	o := outcome.Outcome{Status: outcome.OK, Steps: hostileSteps()}
	_, err = Repro(c, p, o, "debian:6.1 (6.1.0)", Sides{})
	require.NoError(t, err, "the untouched steps fit")

	code := `1; puts("X"); exit(42); (void)0`
	for _, tc := range []struct {
		step         int
		arg, value   string
		field        string
		unless, note string
	}{
		{step: 1, arg: "value", value: code, field: "steps[1].args.value"},
		{step: 1, arg: "level", value: `SOL_SOCKET, 2, &v, 4); system("id"); (void)(0`, field: "steps[1].args.level"},
		{step: 1, arg: "optname", value: "SO_REUSEADDR+system(0)", field: "steps[1].args.optname"},
		{step: 1, arg: "value", value: "1_0", field: "steps[1].args.value", note: "Go's digit separators are no C"},
		{step: 0, arg: "type", value: "SOCK_STREAM|system(0)", field: "steps[0].args.type"},
		{step: 2, arg: "addr", value: `127.0.0.1:80", 1); system("id`, field: "steps[2].args.addr"},
		{step: 3, field: "steps[3].detail", note: "getsockname's port"},
		{step: 4, arg: "backlog", value: "8); system(0", field: "steps[4].args.backlog"},
		{step: 6, unless: `EINPROGRESS || system("id")`, field: "steps[6].unless[0]"},
		{step: 7, arg: "events", value: "POLLOUT|puts", field: "steps[7].args.events"},
		{step: 7, arg: "timeout_ms", value: "99999999999", field: "steps[7].args.timeout_ms"},
		{step: 8, arg: "buf", value: `hello"); system("id"); ("`, field: "steps[8].args.buf", note: "not a quoted string"},
		{step: 8, arg: "len", value: "5); system(0", field: "steps[8].args.len"},
		{step: 8, arg: "len", value: "3000000000", field: "steps[8].args.len", note: "a length past a C int"},
		{step: 8, arg: "flags", value: "MSG_NOSIGNAL|exit(1)", field: "steps[8].args.flags"},
		{step: 9, arg: "len", value: "-1", field: "steps[9].args.len"},
		{step: 9, arg: "flags", value: "0x1|MSG_BOGUS", field: "steps[9].args.flags"},
	} {
		t.Run(tc.field+" "+tc.note, func(t *testing.T) {
			steps := hostileSteps()
			switch {
			case tc.unless != "":
				steps[tc.step].Unless = []string{tc.unless}
			case tc.arg == "":
				steps[tc.step].Detail = "port=1); system(0"
			default:
				setArg(&steps[tc.step], tc.arg, tc.value)
			}
			src, err := Repro(c, p, outcome.Outcome{Status: outcome.OK, Steps: steps}, "debian:6.1 (6.1.0)", Sides{})
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Empty(t, src)
			require.Equal(t, tc.field, fe.Field)
			require.Equal(t, "tfo.sendto.blocking@default on debian:6.1 (6.1.0)", fe.Cell)
			require.Contains(t, err.Error(), "not written by runmatrix")
		})
	}
}

// TestReproKeepsHostileTextInert builds repro.c from steps whose free text
// (labels, buffers, descriptor names, the kernel's release and the sides'
// summaries) is C, a comment end, a trigraph or a newline, compiles it with
// trigraphs on and warnings as errors, and runs it: it prints only its two
// lines, with the recorded outcome, and nothing the text tried to run
// (its puts would print INJECTED alone on a line, its exit give 42).
func TestReproKeepsHostileTextInert(t *testing.T) {
	needRoot(t)
	c, err := testcases.Lookup("tfo.sendto.blocking")
	require.NoError(t, err)
	p, err := testcases.ParseProfile("default")
	require.NoError(t, err)
	steps := hostileSteps()
	hostile := `??/"); puts("INJECTED"); exit(42); /* */ ("`
	setArg(&steps[8], "buf", `"`+strings.ReplaceAll(hostile, `"`, `\"`)+`\n\x00\xff"`)
	setArg(&steps[8], "len", "5")
	steps[8].Label = `x"); puts("INJECTED"); ("` + "\n"
	steps[5].Fd = `client; puts("INJECTED");`
	for i := 6; i < len(steps); i++ {
		steps[i].Fd = steps[5].Fd
	}
	steps[9].Key = false
	from := "debian:6.1 (6.1.0 */ int x = puts(\"INJECTED\"); /*\n??/)"
	o := outcome.Outcome{Status: outcome.OK, Steps: steps}
	want := steps[8].Label + "=5"
	src, err := Repro(c, p, o, from, Sides{Old: want, OldOn: from + `"); puts("INJECTED`, New: "x", NewOn: "??/"})
	require.NoError(t, err)

	dir := t.TempDir()
	cfile := filepath.Join(dir, "repro.c")
	require.NoError(t, os.WriteFile(cfile, []byte(src), 0o644))
	bin := filepath.Join(dir, "repro")
	out, err := exec.Command("cc", "-std=c99", "-trigraphs", "-static", "-Wall", "-Werror", "-o", bin, cfile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := exec.Command("unshare", "-n", bin).Output()
	require.NoError(t, err, "the recorded outcome is the old one: exit 0\n%s", got)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	require.True(t, strings.HasPrefix(string(got), "RUNMATRIX-SUMMARY: "+want+"\nRUNMATRIX-VERDICT: the old outcome, as on "+from), "%q", got)
	for _, l := range lines {
		require.NotEqual(t, "INJECTED", l, "the text's puts ran")
	}
}

// TestReproNamesCompile: options strace names (SOL_IPV6/IPV6_V6ONLY,
// TCP_INQ, SO_ZEROCOPY, SO_PASSPIDFD, which musl's headers lack) and a
// kernel-internal errno in a trace make a repro.c that compiles with
// warnings as errors, with cc and musl-gcc; a traced write longer than the
// data its trace kept replays with its own length.
func TestReproNamesCompile(t *testing.T) {
	c, err := testcases.Lookup("tfo.sendto.blocking")
	require.NoError(t, err)
	p, _ := testcases.ParseProfile("default")
	a := func(kv ...string) []outcome.Arg {
		var out []outcome.Arg
		for i := 0; i < len(kv); i += 2 {
			out = append(out, outcome.Arg{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	steps := []outcome.Step{
		{Label: "socket", Call: "socket", Fd: "3", Args: a("domain", "AF_INET", "type", "SOCK_STREAM", "protocol", "0"), Ret: 3, RetFd: true},
		{Label: "setsockopt", Call: "setsockopt", Fd: "3", Args: a("level", "SOL_IPV6", "optname", "IPV6_V6ONLY", "value", "1"), Ret: -1, Errno: "ENOPROTOOPT"},
		{Label: "setsockopt", Call: "setsockopt", Fd: "3", Args: a("level", "SOL_TCP", "optname", "TCP_INQ", "value", "1")},
		{Label: "setsockopt", Call: "setsockopt", Fd: "3", Args: a("level", "SOL_SOCKET", "optname", "SO_ZEROCOPY", "value", "1"), Ret: -1, Errno: "ENOTSUPP"},
		{Label: "getsockopt", Call: "getsockopt", Fd: "3", Args: a("level", "SOL_IP", "optname", "IP_TOS"), Detail: "0"},
		{Label: "getsockopt", Call: "getsockopt", Fd: "3", Args: a("level", "SOL_SOCKET", "optname", "SO_PASSPIDFD"), Ret: -1, Errno: "ENOPROTOOPT"},
		// A program's 4 MiB write, of which the trace kept 5 bytes.
		{Label: "write", Call: "write", Fd: "3", Args: a("buf", `"hello"`, "len", "4194304", "sigpipe", "ignored"), Ret: -1, Errno: "EPIPE"},
	}
	src, err := Repro(c, p, outcome.Outcome{Status: outcome.OK, Steps: steps, Reported: "exit=0", Summary: "exit=0"}, "k", Sides{})
	require.NoError(t, err)
	require.Contains(t, src, "return \"ENOTSUPP\"")
	require.Contains(t, src, `static const char lit[] = "hello"; char *b = buffer(lit, sizeof lit - 1, 4194304);`, "the call's length, on the heap")
	cfile := filepath.Join(t.TempDir(), "repro.c")
	require.NoError(t, os.WriteFile(cfile, []byte(src), 0o644))
	for _, cc := range []string{"cc", "musl-gcc"} {
		if _, err := exec.LookPath(cc); err != nil {
			continue
		}
		out, err := exec.Command(cc, "-static", "-Wall", "-Werror", "-o", cfile+"."+cc, cfile).CombinedOutput()
		require.NoError(t, err, "%s:\n%s", cc, out)
	}
}

// TestNoReproForIPv6Cells: repro.c's sockets and addresses are IPv4's, so
// a cell run over IPv6 gets no reproducer (REPORT.md says why) rather than
// one that replays another question.
func TestNoReproForIPv6Cells(t *testing.T) {
	c, err := testcases.Lookup("tfo.sendto.blocking")
	require.NoError(t, err)
	p, err := testcases.ParseProfile("tfo=3+ipv6")
	require.NoError(t, err)
	_, err = Repro(c, p, outcome.Outcome{Status: outcome.OK}, "debian:6.12", Sides{})
	require.ErrorContains(t, err, "ran over IPv6, and repro.c replays IPv4 cells")
}
