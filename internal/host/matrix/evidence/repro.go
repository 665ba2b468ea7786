// Package evidence writes bug-report bundles: REPORT.md with the difference
// between kernels, each kernel's exact identity, sysctls, syscall trace and
// console lines, how to re-run, and repro.c, a standalone C reproducer
// generated from the recorded steps.
package evidence

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/runmatrix/runmatrix/testcases"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// cgen accumulates the C statements for the steps.
type cgen struct {
	cell  string // the cell the steps are from, for errors
	body  strings.Builder
	fds   map[string]bool // declared descriptor variables
	ports map[int]string  // concrete port -> variable holding it
	n     int
}

func cIdent(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "fd_" + b.String()
}

// cString is b as a C string literal: printable ASCII as itself but for
// the quote, the backslash and the question mark (no trigraph can form),
// every other byte in octal (an octal escape ends after three digits,
// where a hex one would swallow the letters after it).
func cString(b []byte) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\' || c == '?':
			out.WriteByte('\\')
			out.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			out.WriteByte(c)
		default:
			fmt.Fprintf(&out, "\\%03o", c)
		}
	}
	out.WriteByte('"')
	return out.String()
}

// addr turns "127.0.0.1:PORT" into a C sockaddr expression, using the
// variable that holds PORT when an earlier getsockname learnt it.
func (g *cgen) addr(v string) (ip, port string, err error) {
	host, p, ok := strings.Cut(v, ":")
	if !ok {
		return "", "", fmt.Errorf("address %q", v)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", "", fmt.Errorf("address %q", v)
	}
	if name, ok := g.ports[n]; ok {
		return host, name, nil
	}
	return host, strconv.Itoa(n), nil
}

// port is the C expression for a port number: the variable an earlier
// getsockname learnt it into, or the number.
func (g *cgen) port(n int) string {
	if name, ok := g.ports[n]; ok {
		return name
	}
	return strconv.Itoa(n)
}

func (g *cgen) fd(name string) string {
	id := cIdent(name)
	if !g.fds[id] {
		g.fds[id] = true
	}
	return id
}

func (g *cgen) emit(format string, args ...any) {
	fmt.Fprintf(&g.body, "\t"+format+"\n", args...)
}

// step emits the i-th recorded call: set up, call, report, and stop where
// the case stops. Every value it writes passes a grammar (cgrammar.go); a
// value that fits none is a *FieldError.
func (g *cgen) step(i int, s outcome.Step) error {
	k := &checker{cell: g.cell, i: i, s: s}
	g.n++
	fd := g.fd(s.Fd)
	call := ""
	detail := "NULL"
	var closers []string
	block := func(open string, args ...any) {
		g.emit(open, args...)
		closers = append(closers, "}")
	}
	// buffered opens a block with b, a buffer of the call's length that
	// starts with its recorded data, freed when the block closes.
	buffered := func(data []byte, n string) {
		g.emit("{ static const char lit[] = %s; char *b = buffer(lit, sizeof lit - 1, %s);", cString(data), n)
		closers = append(closers, "free(b); }")
	}
	var sig outcome.DispositionArgs
	k.decode(&sig)
	switch s.Call {
	case "socket":
		var a outcome.SocketArgs
		k.decode(&a)
		typ, proto := k.flags(&a.Type, sockTypes), "0"
		if strings.Contains(typ, "SOCK_RAW") {
			proto = k.symbol(&a.Protocol, protocols) // an observer: what it counts can be replayed, what it injects cannot
		}
		call = fmt.Sprintf("%s = socket(AF_INET, %s, %s)", fd, typ, proto)
	case "setsockopt":
		var a outcome.SockoptArgs
		k.decode(&a)
		level, opt := k.symbol(&a.Level, levels), k.symbol(&a.Optname, optnames)
		switch opt {
		case "SO_LINGER":
			block("{ struct linger l = { %s, %s };", k.int32(&a.LOnoff), k.int32(&a.LLinger))
			call = fmt.Sprintf("setsockopt(%s, %s, %s, &l, sizeof l)", fd, level, opt)
		case "SO_RCVTIMEO", "SO_SNDTIMEO":
			block("{ struct timeval tv = { %s, %s };", k.int32(&a.TvSec), k.int32(&a.TvUsec))
			call = fmt.Sprintf("setsockopt(%s, %s, %s, &tv, sizeof tv)", fd, level, opt)
		default:
			block("{ int v = %s;", k.int32(&a.Value))
			call = fmt.Sprintf("setsockopt(%s, %s, %s, &v, sizeof v)", fd, level, opt)
		}
	case "getsockopt":
		var a outcome.SockoptArgs
		k.decode(&a)
		level, opt := k.symbol(&a.Level, levels), k.symbol(&a.Optname, optnames)
		if opt == "TCP_INFO" {
			block("{ struct tcp_info ti; socklen_t l = sizeof ti;")
			call = fmt.Sprintf("getsockopt(%s, %s, %s, &ti, &l)", fd, level, opt)
		} else {
			block("{ int v = 0; socklen_t l = sizeof v;")
			call = fmt.Sprintf("getsockopt(%s, %s, %s, &v, &l)", fd, level, opt)
			detail = "(snprintf(buf, sizeof buf, \"%d\", v), buf)"
		}
	case "getsockname":
		// "port=N" (the listener's port) or "addr=IP:N" (a socket's address).
		p := strings.TrimPrefix(s.Detail, "port=")
		if a, ok := strings.CutPrefix(s.Detail, "addr="); ok {
			_, p, _ = strings.Cut(a, ":")
		}
		if s.Detail == "" {
			return fmt.Errorf("getsockname step without its port")
		}
		n := k.port("detail", p)
		pv := "port_" + strings.TrimPrefix(fd, "fd_")
		g.ports[n] = pv
		g.emit("{ struct sockaddr_in a; socklen_t l = sizeof a;")
		call = fmt.Sprintf("getsockname(%s, (struct sockaddr *)&a, &l)", fd)
		closers = append(closers, fmt.Sprintf("if (r == 0) %s = ntohs(a.sin_port);", pv), "}")
	case "bind", "connect":
		var a outcome.AddrArgs
		k.decode(&a)
		ip, port, err := k.address(&a.Addr)
		if err != nil {
			return err
		}
		block("{ struct sockaddr_in a = addr4(%s, %s);", cQuote(ip), g.port(port))
		call = fmt.Sprintf("%s(%s, (struct sockaddr *)&a, sizeof a)", s.Call, fd)
	case "listen":
		var a outcome.ListenArgs
		k.decode(&a)
		call = fmt.Sprintf("listen(%s, %s)", fd, k.int32(&a.Backlog))
	case "accept":
		var a outcome.AcceptArgs
		k.decode(&a)
		nfd := g.fd(a.New)
		call = fmt.Sprintf("%s = accept(%s, NULL, NULL)", nfd, fd)
	case "sendto", "write":
		if s.Side == "observer" {
			return errRaw
		}
		var a outcome.SendArgs
		k.decode(&a)
		data, n := k.quoted(&a.Buf), k.integer(&a.Len, 0, 1<<31-1)
		buffered(data, n)
		if s.Call == "write" {
			call = fmt.Sprintf("write(%s, b, %s)", fd, n)
			break
		}
		flags := k.flags(&a.Flags, msgFlags)
		if a.Addr != "NULL" {
			ip, port, err := k.address(&a.Addr)
			if err != nil {
				return err
			}
			g.emit("struct sockaddr_in a = addr4(%s, %s);", cQuote(ip), g.port(port))
			call = fmt.Sprintf("sendto(%s, b, %s, %s, (struct sockaddr *)&a, sizeof a)", fd, n, flags)
		} else {
			call = fmt.Sprintf("sendto(%s, b, %s, %s, NULL, 0)", fd, n, flags)
		}
	case "sendmsg":
		var a outcome.SendmsgArgs
		k.decode(&a)
		data := k.quoted(&a.Iov)
		block("{ static char b[] = %s; struct iovec iov = { b, sizeof b - 1 }; struct msghdr m; memset(&m, 0, sizeof m); m.msg_iov = &iov; m.msg_iovlen = 1;", cString(data))
		if a.MsgName != "NULL" {
			ip, port, err := k.address(&a.MsgName)
			if err != nil {
				return err
			}
			g.emit("struct sockaddr_in a = addr4(%s, %s); m.msg_name = &a; m.msg_namelen = sizeof a;", cQuote(ip), g.port(port))
		}
		call = fmt.Sprintf("sendmsg(%s, &m, %s)", fd, k.flags(&a.Flags, msgFlags))
	case "recv", "read":
		var a outcome.RecvArgs
		k.decode(&a)
		n := k.integer(&a.Len, 0, 1<<31-1)
		buffered(nil, n)
		if s.Call == "read" {
			call = fmt.Sprintf("read(%s, b, %s)", fd, n)
		} else {
			call = fmt.Sprintf("recv(%s, b, %s, %s)", fd, n, k.flags(&a.Flags, msgFlags))
		}
	case "close":
		call = fmt.Sprintf("close(%s)", fd)
	case "poll":
		var a outcome.PollArgs
		k.decode(&a)
		block("{ struct pollfd p = { %s, %s, 0 };", fd, k.flags(&a.Events, pollEvents))
		call = fmt.Sprintf("poll(&p, 1, %s)", k.int32(&a.TimeoutMS))
	case "recvfrom":
		var a outcome.SniffArgs
		k.decode(&a)
		if a.From == "" || a.Mask == "" {
			return errRaw // a trace from before observers recorded what they counted
		}
		from, to := k.port(k.field(&a.From), a.From), k.port(k.field(&a.To), a.To)
		mask := k.integer(&a.Mask, 0, 0xff)
		m, _ := strconv.Atoi(mask)
		call = fmt.Sprintf("sniff(%s, %s, %s, %#x)", fd, g.port(from), g.port(to), m)
	default:
		return fmt.Errorf("no C for call %q", s.Call)
	}
	unless := k.unless()
	ignored := false
	switch d := sig.Sigpipe; d {
	case "", "default", "blocked", "handled":
	case "ignored":
		ignored = true
	default:
		k.fail(k.field(&sig.Sigpipe), d, "default, ignored, blocked or handled")
	}
	if k.bad != nil {
		return k.bad
	}
	if ignored {
		g.emit("sigpipe_ignored(1); /* as the program had it */")
	}
	g.emit("t0 = now_ms(); errno = 0; r = %s; e = errno;", call)
	g.emit("report(%s, r, e, t0, %d, %d, %d, %d, %d, %s);", cQuote(s.Label), b2i(s.Key), b2i(s.RetFd), b2i(s.Timed), b2i(s.ShowDetail), b2i(s.Value != ""), detail)
	if ignored {
		g.emit("sigpipe_ignored(0);")
	}
	if s.StopOnFail {
		g.emit("if (r < 0 && !(%s)) goto out;", unless)
	}
	for _, c := range closers {
		g.emit("%s", c)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errRaw marks cases that inject segments built from what they saw at run time.
var errRaw = fmt.Errorf("the case injects raw TCP segments whose sequence numbers it learns at run time, which a fixed C program cannot replay; re-run it with runmatrix")

// Sides are the two outcomes a report compares, so that repro.c can tell
// them apart by its exit status: the oldest kernel's and the newest's.
type Sides struct {
	// Old and New are outcome summaries; OldOn and NewOn the kernels
	// they were measured on.
	Old, OldOn, New, NewOn string
}

// Repro generates a standalone C program that makes the calls of the
// recorded steps, in order, stops where the case stops, and prints the
// same outcome summary the agent derives ("sendto=-1 EPIPE +SIGPIPE").
// It exits 0 when it sees the old side's outcome and 1 otherwise
// (--new-is-good swaps them), so it drives git bisect run.
func Repro(c *testcases.Case, p testcases.Profile, o outcome.Outcome, from string, sides Sides) (string, error) {
	if p.Family == testcases.IPv6 {
		// Its sockets, addresses and raw segments are written for IPv4:
		// a reproducer of an IPv6 cell would replay another question.
		return "", fmt.Errorf("%s@%s on %s ran over IPv6, and repro.c replays IPv4 cells (the same case under the profile without +ipv6 has one)", c.ID, p.Name, from)
	}
	g := &cgen{cell: c.ID + "@" + p.Name + " on " + from, fds: map[string]bool{}, ports: map[int]string{}}
	steps, mode := o.Steps, "#define PROGRAM 0\n#define EXPECTED \"\"\n#define PROGRAM_SUMMARY \"\"\n"
	if traced(o) {
		// A traced program: replay every call it made, with SIGPIPE as
		// the program took it, and print the program's own summary when
		// every call gives what the trace recorded.
		steps = nil
		var want []string
		for _, s := range o.Steps {
			s.Key, s.Timed, s.ShowDetail, s.Value = true, false, false, ""
			if len(s.Signals) > 0 && !slices.Contains(s.Signals, "SIGPIPE") {
				s.Signals = nil // the replay reports SIGPIPE only
			}
			want = append(want, s.Short())
			steps = append(steps, s)
		}
		mode = fmt.Sprintf("#define PROGRAM 1\n#define EXPECTED %s\n#define PROGRAM_SUMMARY %s\n", cQuote(strings.Join(want, " ")), cQuote(o.Summary))
		// A replay tells the trace's kernel from the others; the old side
		// is whichever the trace came from.
		if sides.NewOn == from {
			sides.Old, sides.OldOn, sides.New, sides.NewOn = sides.New, sides.NewOn, sides.Old, sides.OldOn
		}
		sides.Old = o.Summary
	}
	if sides.Old == "" {
		sides.Old, sides.OldOn = o.Summary, from
	}
	mode += fmt.Sprintf("#define OLD_SUMMARY %s\n#define OLD_ON %s\n#define NEW_SUMMARY %s\n#define NEW_ON %s\n",
		cQuote(sides.Old), cQuote(sides.OldOn), cQuote(sides.New), cQuote(sides.NewOn))
	for i, s := range steps {
		if err := g.step(i, s); err != nil {
			return "", fmt.Errorf("repro.c for %s: %w", c.ID, err)
		}
	}
	var decl strings.Builder
	var fds []string
	for fd := range g.fds {
		fds = append(fds, fd)
	}
	sort.Strings(fds)
	for _, fd := range fds {
		fmt.Fprintf(&decl, "\tint %s = -1;\n", fd)
	}
	var ports []string
	for _, v := range g.ports {
		ports = append(ports, v)
	}
	sort.Strings(ports)
	for _, v := range ports {
		fmt.Fprintf(&decl, "\tint %s = 0;\n\t(void)%s;\n", v, v)
	}
	var sysctls strings.Builder
	names := make([]string, 0, len(p.Sysctls))
	for n := range p.Sysctls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&sysctls, "\tset_sysctl(%s, %s);\n", cQuote(testcases.SysctlPath(n)), cQuote(p.Sysctls[n]))
	}
	return fmt.Sprintf(cTemplate, cComment(c.ID), cComment(p.Name), cComment(from), cComment(wrap(c.About, 74)), cComment(c.Source), mode+guards(),
		cErrnames(), decl.String(), sysctls.String(), g.body.String()), nil
}

// cQuote writes s as a C string literal.
func cQuote(s string) string { return cString([]byte(s)) }

// traced reports whether o is a traced program's: its own summary, and
// steps that no case marked as key.
func traced(o outcome.Outcome) bool {
	if o.Reported == "" || len(o.Steps) == 0 {
		return false
	}
	for _, s := range o.Steps {
		if s.Key || s.Call == "go test" {
			return false
		}
	}
	return true
}

// wrap breaks s into lines of at most width for a C comment.
func wrap(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, line)
	return strings.Join(lines, "\n * ")
}

const cTemplate = `/* repro.c - runmatrix case %s, profile %s, generated from the trace on %s.
 *
 * %s
 *
 * Source: %s
 *
 * Build:  cc -static -o repro repro.c     (or: musl-gcc -static -o repro repro.c)
 * Run:    unshare -n ./repro              (as root: a fresh network namespace,
 *                                          its own TFO cookies and sysctls)
 * Exit:   0 when it sees the old outcome (OLD_SUMMARY below, as on OLD_ON),
 *         1 on any other (NEW_SUMMARY is the one the report saw on NEW_ON);
 *         ./repro --new-is-good swaps them. In a kernel tree booted per step,
 *         git bisect run ./repro finds the first commit with the new outcome.
 * It prints the outcome the way runmatrix summarises it, for example
 * "RUNMATRIX-SUMMARY: sendto=-1 EPIPE +SIGPIPE": each key call's return
 * value, errno name and the SIGPIPE it raised. SIGPIPE is blocked and
 * collected with sigtimedwait() right after each call, so it is attributed to
 * the call that raised it. Replaying a traced program (PROGRAM 1), it makes
 * every call the program made, with SIGPIPE as the program took it at each
 * call: ignored where it ignored it, else blocked and collected (where the
 * program had it at its default, or handled it, it was raised all the same),
 * so a replay is never killed by it; it prints the program's own summary
 * when each call gives what the trace recorded, else what differed, and
 * exits 1 (for git bisect run).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

%s
static char summary[8192];
static char buf[64];

static const char *errname(int e)
{
	static char other[32];
%s	snprintf(other, sizeof other, "errno%%d", e);
	return other;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int take_sigpipe(void)
{
	sigset_t s;
	struct timespec zero = { 0, 0 };
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	return sigtimedwait(&s, NULL, &zero) == SIGPIPE;
}

/* buffer is a buffer of n bytes (at least the recorded data's) that
 * starts with the data a trace recorded (its first bytes); a replay that
 * cannot have it cannot test, and says so to git bisect run (125). */
static __attribute__((unused)) char *buffer(const char *data, size_t len, size_t n)
{
	char *b = calloc((n > len ? n : len) + 1, 1);
	if (!b) {
		printf("RUNMATRIX-VERDICT: cannot test: no memory for a %%zu-byte buffer (exit 125)\n", n);
		exit(125);
	}
	memcpy(b, data, len);
	return b;
}

/* sigpipe_ignored ignores SIGPIPE (unblocked: Linux queues a blocked
 * signal even when it is ignored), or blocks it again at its default. */
static __attribute__((unused)) void sigpipe_ignored(int on)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	signal(SIGPIPE, on ? SIG_IGN : SIG_DFL);
	sigprocmask(on ? SIG_UNBLOCK : SIG_BLOCK, &s, NULL);
}

/* report adds a key call to the summary: label=ret [ERRNO] [+SIGPIPE] [@Ns]
 * [detail], or label=value for a call whose value read (detail) is shown. */
static void report(const char *label, long r, int e, double t0, int key, int retfd, int timed, int showdetail, int showvalue, const char *detail)
{
	double dur = now_ms() - t0;
	int sigpipe = take_sigpipe();
	char part[256];
	size_t n;
	if (!key)
		return;
	n = strlen(summary);
	if (r < 0)
		snprintf(part, sizeof part, "%%s%%s=%%ld %%s", n ? " " : "", label, r, errname(e));
	else if (retfd)
		snprintf(part, sizeof part, "%%s%%s=fd", n ? " " : "", label);
	else if (showvalue && detail)
		snprintf(part, sizeof part, "%%s%%s=%%s", n ? " " : "", label, detail);
	else
		snprintf(part, sizeof part, "%%s%%s=%%ld", n ? " " : "", label, r);
	strncat(summary, part, sizeof summary - strlen(summary) - 1);
	if (sigpipe)
		strncat(summary, " +SIGPIPE", sizeof summary - strlen(summary) - 1);
	if (timed) {
		snprintf(part, sizeof part, " @%%ds", (int)(dur / 1000 + 0.5));
		strncat(summary, part, sizeof summary - strlen(summary) - 1);
	}
	if (showdetail && detail && r >= 0) {
		snprintf(part, sizeof part, " %%s", detail);
		strncat(summary, part, sizeof summary - strlen(summary) - 1);
	}
}

/* sniff drains the raw socket fd and counts the IPv4 TCP segments from
 * port from to port to that carry every flag of mask (0x12: SYN-ACKs). */
__attribute__((unused)) static long sniff(int fd, int from, int to, int mask)
{
	static unsigned char p[65536];
	long n = 0;
	for (;;) {
		ssize_t m = recvfrom(fd, p, sizeof p, MSG_DONTWAIT, NULL, NULL);
		int ihl, sp, dp;
		if (m < 0)
			return errno == EAGAIN ? n : -1;
		if (m < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
			continue;
		ihl = (p[0] & 15) * 4;
		if (m < ihl + 20)
			continue;
		sp = p[ihl] << 8 | p[ihl + 1];
		dp = p[ihl + 2] << 8 | p[ihl + 3];
		if (sp == from && dp == to && (p[ihl + 13] & mask) == mask)
			n++;
	}
}

static __attribute__((unused)) struct sockaddr_in addr4(const char *ip, int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static __attribute__((unused)) void set_sysctl(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	if (!f || fprintf(f, "%%s\n", value) < 0 || fclose(f) != 0)
		fprintf(stderr, "repro: cannot set %%s=%%s (%%s); the outcome may differ\n", path, value, strerror(errno));
}

/* lo_up brings the loopback up, as a fresh network namespace has it down. */
static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
}

int main(int argc, char **argv)
{
	int new_is_good = argc > 1 && strcmp(argv[1], "--new-is-good") == 0;
	const char *got;
	sigset_t block;
	double t0;
	long r;
	int e;
%s
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	sigprocmask(SIG_BLOCK, &block, NULL);
	lo_up();
%s
%s
	goto out; /* a replay with no stopping step still uses the label */
out:
	(void)t0; (void)e; (void)buf;
	if (PROGRAM && strcmp(summary, EXPECTED) != 0) {
		printf("RUNMATRIX-SUMMARY: differs from the trace: %%s\n", summary);
		got = NULL;
	} else {
		got = PROGRAM ? PROGRAM_SUMMARY : summary;
		printf("RUNMATRIX-SUMMARY: %%s\n", got);
	}
	if (got && strcmp(got, OLD_SUMMARY) == 0) {
		printf("RUNMATRIX-VERDICT: the old outcome, as on %%s (exit %%d)\n", OLD_ON, new_is_good);
		return new_is_good;
	}
	if (got && NEW_ON[0] && strcmp(got, NEW_SUMMARY) == 0)
		printf("RUNMATRIX-VERDICT: the new outcome, as on %%s (exit %%d)\n", NEW_ON, !new_is_good);
	else
		printf("RUNMATRIX-VERDICT: not the old outcome, nor one the report saw (exit %%d)\n", !new_is_good);
	return !new_is_good;
}
`
