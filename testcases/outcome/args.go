package outcome

import (
	"fmt"
	"reflect"
	"strings"
)

// The arguments of each call a step records, one struct per call: the
// case API and the tracer write them with ArgsOf, and repro.c reads them
// back with Decode, so renaming a field breaks every side at compile time.
// An argument's name in results is its field's arg tag; ",omitempty" leaves
// an empty one out, a []string field is an argument repeated. Every value
// is text, spelled as C and strace spell it (SOL_TCP, MSG_NOSIGNAL|0x4,
// "127.0.0.1:80", a Go-quoted buffer).
type (
	// SocketArgs are socket(2)'s and socketpair(2)'s.
	SocketArgs struct {
		Domain   string `arg:"domain"`
		Type     string `arg:"type"`
		Protocol string `arg:"protocol"`
	}
	// AddrArgs are bind(2)'s and connect(2)'s: "IP:PORT" or "[IP6]:PORT".
	AddrArgs struct {
		Addr string `arg:"addr"`
	}
	// ListenArgs are listen(2)'s.
	ListenArgs struct {
		Backlog string `arg:"backlog"`
	}
	// AcceptArgs are accept(2)'s: New names the socket it returns.
	AcceptArgs struct {
		New   string `arg:"new"`
		Flags string `arg:"flags,omitempty"`
	}
	// SendArgs are sendto(2)'s and write(2)'s: Addr is "NULL" for none.
	SendArgs struct {
		Buf   string `arg:"buf"`
		Len   string `arg:"len"`
		Flags string `arg:"flags,omitempty"`
		Addr  string `arg:"addr,omitempty"`
	}
	// SendmsgArgs are sendmsg(2)'s, its one iovec's bytes in Iov.
	SendmsgArgs struct {
		MsgName string `arg:"msg_name"`
		Iov     string `arg:"iov"`
		Flags   string `arg:"flags"`
	}
	// RecvArgs are recv(2)'s, read(2)'s and recvmsg(2)'s.
	RecvArgs struct {
		Len   string `arg:"len,omitempty"`
		Flags string `arg:"flags,omitempty"`
	}
	// MmsgArgs are sendmmsg(2)'s and recvmmsg(2)'s.
	MmsgArgs struct {
		Vlen  string `arg:"vlen"`
		Flags string `arg:"flags"`
	}
	// SockoptArgs are setsockopt(2)'s and getsockopt(2)'s; setsockopt's
	// value is Value (an int), LOnoff and LLinger (SO_LINGER), TvSec and
	// TvUsec (a timeout), or else Optval in hex and Optlen.
	SockoptArgs struct {
		Level   string `arg:"level"`
		Optname string `arg:"optname"`
		Value   string `arg:"value,omitempty"`
		LOnoff  string `arg:"l_onoff,omitempty"`
		LLinger string `arg:"l_linger,omitempty"`
		TvSec   string `arg:"tv_sec,omitempty"`
		TvUsec  string `arg:"tv_usec,omitempty"`
		Optval  string `arg:"optval,omitempty"`
		Optlen  string `arg:"optlen,omitempty"`
	}
	// PollArgs are poll(2)'s: one socket's Events and TimeoutMS from a
	// case, every descriptor's "FD:EVENTS" in Fds from a trace.
	PollArgs struct {
		Events    string `arg:"events,omitempty"`
		TimeoutMS string `arg:"timeout_ms,omitempty"`
		Fds       string `arg:"fds,omitempty"`
	}
	// ShutdownArgs are shutdown(2)'s.
	ShutdownArgs struct {
		How string `arg:"how"`
	}
	// EpollCtlArgs are epoll_ctl(2)'s.
	EpollCtlArgs struct {
		Epfd string `arg:"epfd"`
		Op   string `arg:"op"`
	}
	// SniffArgs are a raw observer's read: the segments between ports From
	// and To it drained, counting those From sent with every flag of Mask.
	SniffArgs struct {
		From     string   `arg:"from"`
		To       string   `arg:"to"`
		Mask     string   `arg:"mask"`
		Segments []string `arg:"segment"`
	}
	// InjectArgs are a raw observer's write: the segment and the address
	// it left from.
	InjectArgs struct {
		Segment string `arg:"segment"`
		From    string `arg:"from"`
	}
	// DispositionArgs are what a trace adds to a call that can raise
	// SIGPIPE: the program's disposition of it (default, ignored, blocked
	// or handled).
	DispositionArgs struct {
		Sigpipe string `arg:"sigpipe,omitempty"`
	}
)

// ArgsOf lists the fields of v, one of the *Args structs, as a step's
// arguments.
func ArgsOf(v any) []Arg {
	rv := reflect.ValueOf(v)
	var out []Arg
	for i, f := range argFields(rv.Type()) {
		fv := rv.Field(i)
		if fv.Kind() == reflect.Slice {
			for _, s := range fv.Interface().([]string) {
				out = append(out, Arg{Name: f.name, Value: s})
			}
			continue
		}
		if s := fv.String(); s != "" || !f.omitEmpty {
			out = append(out, Arg{Name: f.name, Value: s})
		}
	}
	return out
}

// Decode fills the *Args struct v points to from the step's arguments. It
// returns each field's argument name by the field's address, for messages
// that name an argument.
func (s Step) Decode(v any) map[*string]string {
	rv := reflect.ValueOf(v).Elem()
	names := map[*string]string{}
	for i, f := range argFields(rv.Type()) {
		fv := rv.Field(i)
		if fv.Kind() == reflect.Slice {
			var all []string
			for _, a := range s.Args {
				if a.Name == f.name {
					all = append(all, a.Value)
				}
			}
			fv.Set(reflect.ValueOf(all))
			continue
		}
		names[fv.Addr().Interface().(*string)] = f.name
		for _, a := range s.Args {
			if a.Name == f.name {
				fv.SetString(a.Value)
				break
			}
		}
	}
	return names
}

type argField struct {
	name      string
	omitEmpty bool
}

// argFields reads t's arg tags; t must be a struct of string and []string
// fields, each tagged.
func argFields(t reflect.Type) []argField {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("outcome: %s is not an *Args struct", t))
	}
	out := make([]argField, t.NumField())
	for i := range out {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("arg")
		if !ok || (f.Type.Kind() != reflect.String && f.Type != reflect.TypeOf([]string(nil))) {
			panic(fmt.Sprintf("outcome: %s.%s is not an argument", t, f.Name))
		}
		name, opt, _ := strings.Cut(tag, ",")
		out[i] = argField{name: name, omitEmpty: opt == "omitempty"}
	}
	return out
}
