package evidence

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases/cnames"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// Every value repro.c takes from a cell passes one of the grammars below
// and is written out anew from what was parsed (a number as a number, a
// name from a fixed table, a string as an escaped C literal): nothing from
// a results file or a guest is pasted into the C source.

// FieldError is a cell's value that fits no grammar of its place in
// repro.c: the results were altered, or not written by runmatrix.
type FieldError struct {
	// Cell names the cell ("tfo.sendto.blocking@default on debian:6.1").
	Cell string
	// Field is the value's path in the cell ("steps[3].args.value").
	Field string
	// Value is what the cell holds there; Want what the place takes.
	Value, Want string
}

func (e *FieldError) Error() string {
	v := e.Value
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return fmt.Sprintf("%s: %s is %q, not %s; these results were altered or not written by runmatrix, so no repro.c is made from them",
		e.Cell, e.Field, v, e.Want)
}

// symbol is a C name a grammar accepts, with its value where it is the
// same on every architecture (the header guard repro.c defines it with
// when the C library's headers lack it); guard false leaves it to them.
type symbol struct {
	value int64
	guard bool
}

var (
	sockTypes = map[string]symbol{"SOCK_STREAM": {1, false}, "SOCK_DGRAM": {2, false}, "SOCK_RAW": {3, false},
		"SOCK_SEQPACKET": {5, false}, "SOCK_NONBLOCK": {unix.SOCK_NONBLOCK, false}, "SOCK_CLOEXEC": {unix.SOCK_CLOEXEC, false}}
	protocols  = protocolNames()
	levels     = socketLevels()
	optnames   = socketOptions()
	msgFlags   = messageFlags()
	pollEvents = map[string]symbol{"POLLIN": {1, false}, "POLLOUT": {4, false}, "POLLERR": {8, false}, "POLLHUP": {0x10, false},
		"POLLRDHUP": {0x2000, true}}
)

// protocolNames are the protocols repro.c names: cnames'; the newer ones
// are guarded for C libraries without them.
func protocolNames() map[string]symbol {
	m := map[string]symbol{}
	for v, n := range cnames.Protocols {
		m[n] = symbol{int64(v), v > unix.IPPROTO_RAW || v == unix.IPPROTO_UDPLITE}
	}
	return m
}

// messageFlags are the send/recv flags repro.c names, the ones traces
// name (cnames), each guarded with its value.
func messageFlags() map[string]symbol {
	m := map[string]symbol{}
	for _, b := range cnames.MsgFlags {
		m[b.Name] = symbol{int64(b.Bit), true}
	}
	return m
}

// socketLevels are the option levels repro.c names: strace's (cnames) and
// their IPPROTO_ spellings. SOL_SOCKET differs by architecture and is
// left to the headers; the others are guarded with their values.
func socketLevels() map[string]symbol {
	m := map[string]symbol{"IPPROTO_TCP": {6, false}, "IPPROTO_IP": {0, false}, "IPPROTO_IPV6": {41, false}, "IPPROTO_UDP": {17, false}}
	for v, n := range cnames.Levels {
		m[n] = symbol{int64(v), n != "SOL_SOCKET"}
	}
	return m
}

// socketOptions are the option names repro.c takes, cnames' table, each
// guarded with its value for C libraries whose headers lack it (musl has
// no SO_PASSPIDFD). SO_ numbers differ on mips, sparc, parisc and alpha
// and, for six options older than any header lacking them, on powerpc;
// the ones a header may lack are the same on every architecture runmatrix
// boots (asm-generic's).
func socketOptions() map[string]symbol {
	m := map[string]symbol{}
	for k, n := range cnames.Options {
		m[n] = symbol{int64(k[1]), true}
	}
	return m
}

// errnos are the errno names C's <errno.h> defines on Linux.
var errnos = func() map[string]bool {
	m := map[string]bool{"EOPNOTSUPP": true, "EWOULDBLOCK": true, "ENOTSUP": true}
	for e := unix.Errno(1); e < 134; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = true
		}
	}
	return m
}()

// cErrnames is the body of repro.c's errname(): every errno name Go knows
// for Linux, each tested where the C library defines it, and the kernel's
// internal ones (ENOTSUPP) by number, so that a replay names an errno as
// the trace did.
func cErrnames() string {
	var b strings.Builder
	seen := map[string]bool{}
	for e := unix.Errno(1); e < 134; e++ {
		n := cnames.Errno(e)
		if strings.HasPrefix(n, "errno") || seen[n] {
			continue
		}
		seen[n] = true
		fmt.Fprintf(&b, "#ifdef %s\n\tif (e == %s)\n\t\treturn \"%s\";\n#endif\n", n, n, n)
	}
	for e := unix.Errno(512); e < 532; e++ {
		if n := cnames.Errno(e); !strings.HasPrefix(n, "errno") {
			fmt.Fprintf(&b, "\tif (e == %d)\n\t\treturn \"%s\";\n", int(e), n)
		}
	}
	return b.String()
}

// guards are the #ifndef lines that define the names repro.c may use and
// an old C library's headers may lack, from the tables above.
func guards() string {
	var names []string
	all := map[string]symbol{}
	for _, t := range []map[string]symbol{levels, optnames, msgFlags, pollEvents} {
		for n, s := range t {
			if s.guard {
				names = append(names, n)
				all[n] = s
			}
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "#ifndef %s\n#define %s %#x\n#endif\n", n, n, all[n].value)
	}
	return b.String()
}

// checker reads one step's arguments through the grammars, keeping the
// first value that fits none.
type checker struct {
	cell  string
	i     int
	s     outcome.Step
	bad   *FieldError
	names map[*string]string
}

func (k *checker) fail(field, value, want string) {
	if k.bad == nil {
		k.bad = &FieldError{Cell: k.cell, Field: fmt.Sprintf("steps[%d].%s", k.i, field), Value: value, Want: want}
	}
}

// decode fills v, one of outcome's *Args structs, from the step.
func (k *checker) decode(v any) {
	if k.names == nil {
		k.names = map[*string]string{}
	}
	for p, n := range k.s.Decode(v) {
		k.names[p] = n
	}
}

// field names the argument p was decoded into, for a FieldError.
func (k *checker) field(p *string) string { return "args." + k.names[p] }

// integer is the argument as a C integer in [lo, hi].
func (k *checker) integer(p *string, lo, hi int64) string {
	v := *p
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil || n < lo || n > hi || strings.Contains(v, "_") {
		k.fail(k.field(p), v, fmt.Sprintf("an integer from %d to %d", lo, hi))
		return "0"
	}
	return strconv.FormatInt(n, 10)
}

// int32 is the argument as a C int.
func (k *checker) int32(p *string) string { return k.integer(p, -1<<31, 1<<31-1) }

// flags is the argument as names of table and numbers joined by "|", as
// the agent and the tracer spell bit sets ("MSG_NOSIGNAL|0x80000000").
func (k *checker) flags(p *string, table map[string]symbol) string {
	v := *p
	var out []string
	for _, part := range strings.Split(v, "|") {
		if _, ok := table[part]; ok {
			out = append(out, part)
			continue
		}
		n, err := strconv.ParseUint(part, 0, 32)
		if err != nil || strings.Contains(part, "_") {
			k.fail(k.field(p), v, "names of "+tableNames(table)+" or numbers joined by |")
			return "0"
		}
		out = append(out, fmt.Sprintf("%#x", n))
	}
	return strings.Join(out, "|")
}

// symbol is the argument as one name of table or an int.
func (k *checker) symbol(p *string, table map[string]symbol) string {
	v := *p
	if _, ok := table[v]; ok {
		return v
	}
	n, err := strconv.ParseInt(v, 0, 32)
	if err != nil || strings.Contains(v, "_") {
		k.fail(k.field(p), v, "one of "+tableNames(table)+" or a number")
		return "0"
	}
	return strconv.FormatInt(n, 10)
}

// quoted is a string argument (Go-quoted in the cell) as its bytes.
func (k *checker) quoted(p *string) []byte {
	v := *p
	s, err := strconv.Unquote(v)
	if err != nil || len(v) == 0 || v[0] != '"' {
		k.fail(k.field(p), v, "a quoted string")
		return nil
	}
	return []byte(s)
}

// errIPv6 says a well-formed address is one repro.c cannot replay.
var errIPv6 = fmt.Errorf("repro.c replays IPv4 calls only")

// address is an "IP:PORT" argument as an IPv4 address and port.
func (k *checker) address(p *string) (ip string, port int, err error) {
	v := *p
	ap, perr := netip.ParseAddrPort(v)
	switch {
	case perr != nil:
		k.fail(k.field(p), v, "an address IP:PORT")
		return "0.0.0.0", 0, nil
	case !ap.Addr().Is4():
		return "", 0, errIPv6
	}
	return ap.Addr().String(), int(ap.Port()), nil
}

// unless is the step's errno list as a C condition on e.
func (k *checker) unless() string {
	if len(k.s.Unless) == 0 {
		return "0"
	}
	var conds []string
	for j, e := range k.s.Unless {
		if !errnos[e] {
			k.fail(fmt.Sprintf("unless[%d]", j), e, "an errno name")
			return "0"
		}
		conds = append(conds, "e == "+e)
	}
	return strings.Join(conds, " || ")
}

// port is a port number from a cell's text.
func (k *checker) port(field, v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		k.fail(field, v, "a port number")
		return 0
	}
	return n
}

func tableNames(t map[string]symbol) string {
	var names []string
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// cComment is s as text inside a C block comment: printable ASCII and
// line breaks, and neither "*/" to end the comment early nor "/*"
// (compilers warn of it).
func cComment(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			b[i] = '?'
		}
	}
	return strings.NewReplacer("*/", "* /", "/*", "/ *").Replace(string(b))
}
