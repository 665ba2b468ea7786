package outcome

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArgsNames pins the names and order results carry for each call, which
// results files written before the typed arguments also used.
func TestArgsNames(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want []Arg
	}{
		{SocketArgs{"AF_INET6", "SOCK_STREAM", "IPPROTO_IP"}, []Arg{{"domain", "AF_INET6"}, {"type", "SOCK_STREAM"}, {"protocol", "IPPROTO_IP"}}},
		{SockoptArgs{Level: "SOL_SOCKET", Optname: "SO_LINGER", LOnoff: "1", LLinger: "0"}, []Arg{{"level", "SOL_SOCKET"}, {"optname", "SO_LINGER"}, {"l_onoff", "1"}, {"l_linger", "0"}}},
		{SockoptArgs{Level: "SOL_TCP", Optname: "TCP_FASTOPEN", Value: "0"}, []Arg{{"level", "SOL_TCP"}, {"optname", "TCP_FASTOPEN"}, {"value", "0"}}},
		{SendArgs{Buf: `"hello"`, Len: "5", Flags: "MSG_FASTOPEN", Addr: "NULL"}, []Arg{{"buf", `"hello"`}, {"len", "5"}, {"flags", "MSG_FASTOPEN"}, {"addr", "NULL"}}},
		{SendArgs{Buf: `"x"`, Len: "1"}, []Arg{{"buf", `"x"`}, {"len", "1"}}}, // write(2)
		{SendmsgArgs{MsgName: "NULL", Iov: `""`, Flags: "0"}, []Arg{{"msg_name", "NULL"}, {"iov", `""`}, {"flags", "0"}}},
		{AcceptArgs{}, []Arg{{"new", ""}}}, // a trace names the new socket at the call's exit
		{RecvArgs{Flags: "MSG_DONTWAIT"}, []Arg{{"flags", "MSG_DONTWAIT"}}},
		{PollArgs{Events: "POLLIN", TimeoutMS: "100"}, []Arg{{"events", "POLLIN"}, {"timeout_ms", "100"}}},
		{SniffArgs{From: "80", To: "4000", Mask: "0x12", Segments: []string{"a", "b"}}, []Arg{{"from", "80"}, {"to", "4000"}, {"mask", "0x12"}, {"segment", "a"}, {"segment", "b"}}},
		{InjectArgs{"4000>80 SYN", "::1"}, []Arg{{"segment", "4000>80 SYN"}, {"from", "::1"}}},
		{DispositionArgs{}, nil},
		{AddrArgs{"[::1]:80"}, []Arg{{"addr", "[::1]:80"}}},
		{ListenArgs{"16"}, []Arg{{"backlog", "16"}}},
		{ShutdownArgs{"SHUT_WR"}, []Arg{{"how", "SHUT_WR"}}},
		{MmsgArgs{"2", "0"}, []Arg{{"vlen", "2"}, {"flags", "0"}}},
		{EpollCtlArgs{"3", "EPOLL_CTL_ADD"}, []Arg{{"epfd", "3"}, {"op", "EPOLL_CTL_ADD"}}},
	} {
		require.Equal(t, tc.want, ArgsOf(tc.v), "%T", tc.v)
	}
}

// TestDecode reads arguments back into their struct, with each field's
// name for messages, whatever order they come in.
func TestDecode(t *testing.T) {
	s := Step{Call: "recvfrom", Args: []Arg{{"mask", "0x12"}, {"segment", "a"}, {"from", "80"}, {"segment", "b"}, {"sigpipe", "ignored"}}}
	var a SniffArgs
	names := s.Decode(&a)
	require.Equal(t, SniffArgs{From: "80", Mask: "0x12", Segments: []string{"a", "b"}}, a)
	require.Equal(t, "mask", names[&a.Mask])
	require.Equal(t, "to", names[&a.To])
	var d DispositionArgs
	s.Decode(&d)
	require.Equal(t, "ignored", d.Sigpipe)
	require.Panics(t, func() { ArgsOf(struct{ X int }{}) }, "not an *Args struct")
}
