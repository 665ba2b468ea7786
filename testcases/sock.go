package testcases

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases/cnames"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// NoAddr as the port of Sendto or Sendmsg passes a NULL address.
const NoAddr = -1

// Socket option and flag values missing from old headers or from x/sys.
const (
	MSG_FASTOPEN            = 0x20000000
	TCP_FASTOPEN            = 23
	TCP_FASTOPEN_CONNECT    = 30
	TCP_FASTOPEN_NO_COOKIE  = 34
	TCP_REPAIR              = 19
	TCP_DEFER_ACCEPT        = 9
	TCPI_OPT_SYN_DATA       = 32
	defaultPayload          = "hello"
	tcpInfoStateSynRecv     = 3
	tcpInfoStateEstablished = 1
)

// msgFlagNames are the send/recv flags the cases name.
var msgFlagNames = []cnames.Bit{
	{Bit: unix.MSG_OOB, Name: "MSG_OOB"},
	{Bit: unix.MSG_PEEK, Name: "MSG_PEEK"},
	{Bit: unix.MSG_DONTWAIT, Name: "MSG_DONTWAIT"},
	{Bit: unix.MSG_NOSIGNAL, Name: "MSG_NOSIGNAL"},
	{Bit: MSG_FASTOPEN, Name: "MSG_FASTOPEN"},
}

// flagString renders send/recv flags as C would spell them.
func flagString(flags int) string { return cnames.Flags(flags, msgFlagNames) }

// rawSockaddr is the case address and port as sendto(2) takes it: a
// struct sockaddr_in, or a sockaddr_in6 over IPv6.
func (t *T) rawSockaddr(port int) (unsafe.Pointer, uintptr) {
	if t.Family == IPv6 {
		sa := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: t.Addr6}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], uint16(port))
		return unsafe.Pointer(sa), unsafe.Sizeof(*sa)
	}
	sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: t.Addr}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], uint16(port))
	return unsafe.Pointer(sa), unsafe.Sizeof(*sa)
}

// sockaddr is the case address and port for x/sys/unix.
func (t *T) sockaddr(port int) unix.Sockaddr {
	return sockaddrOf(netip.AddrPortFrom(t.caseAddr(), uint16(port)))
}

// sockaddrOf is ap for x/sys/unix.
func sockaddrOf(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

// addrPortOf is what x/sys/unix says a socket is bound to (zero for a
// family other than IPv4 and IPv6).
func addrPortOf(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// caseAddr is the case address: Addr, or Addr6 over IPv6.
func (t *T) caseAddr() netip.Addr {
	if t.Family == IPv6 {
		return netip.AddrFrom16(t.Addr6)
	}
	return netip.AddrFrom4(t.Addr)
}

// domain is the case's address family, as socket(2) takes it and as a
// step names it.
func (t *T) domain() (int, string) {
	if t.Family == IPv6 {
		return unix.AF_INET6, "AF_INET6"
	}
	return unix.AF_INET, "AF_INET"
}

// addrString is the case address and port as steps spell it:
// "127.0.0.1:80", "[::1]:80".
func (t *T) addrString(port int) string {
	return netip.AddrPortFrom(t.caseAddr(), uint16(port)).String()
}

// Socket creates a TCP socket named name; nonblock adds SOCK_NONBLOCK.
func (t *T) Socket(side, name string, nonblock bool) *Call {
	typ, typName := unix.SOCK_STREAM, "SOCK_STREAM"
	if nonblock {
		typ, typName = typ|unix.SOCK_NONBLOCK, typName+"|SOCK_NONBLOCK"
	}
	dom, domName := t.domain()
	c := t.record("socket", side, name, outcome.ArgsOf(outcome.SocketArgs{Domain: domName, Type: typName, Protocol: "IPPROTO_IP"}), func() (int64, error) {
		fd, err := unix.Socket(dom, typ, 0)
		return int64(fd), err
	})
	t.step(c).RetFd = true
	if c.Err == nil {
		t.names[c.Fd()] = name
	}
	return c
}

func (t *T) step(c *Call) *outcome.Step { return &t.steps[c.i] }

// SetsockoptInt sets an integer socket option.
func (t *T) SetsockoptInt(side string, fd, level, opt, val int) *Call {
	lv, on := cnames.Sockopt(level, opt)
	return t.record("setsockopt", side, t.name(fd), outcome.ArgsOf(outcome.SockoptArgs{Level: lv, Optname: on, Value: strconv.Itoa(val)}), func() (int64, error) {
		return 0, unix.SetsockoptInt(fd, level, opt, val)
	})
}

// GetsockoptInt reads an integer socket option; a summary shows the value
// read ("x=1"), an errno if the call failed ("x=-1 ENOPROTOOPT").
func (t *T) GetsockoptInt(side string, fd, level, opt int) *Call {
	lv, on := cnames.Sockopt(level, opt)
	var v int
	c := t.record("getsockopt", side, t.name(fd), outcome.ArgsOf(outcome.SockoptArgs{Level: lv, Optname: on}), func() (int64, error) {
		var err error
		v, err = unix.GetsockoptInt(fd, level, opt)
		return 0, err
	})
	if c.Err == nil {
		c.step().Value = strconv.Itoa(v)
	}
	return c
}

// SetLinger sets SO_LINGER.
func (t *T) SetLinger(side string, fd int, onoff, secs int32) *Call {
	return t.record("setsockopt", side, t.name(fd), outcome.ArgsOf(outcome.SockoptArgs{Level: "SOL_SOCKET", Optname: "SO_LINGER", LOnoff: fmt.Sprint(onoff), LLinger: fmt.Sprint(secs)}), func() (int64, error) {
		return 0, unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: onoff, Linger: secs})
	})
}

// SetTimeout sets SO_RCVTIMEO or SO_SNDTIMEO, bounding blocking calls.
func (t *T) SetTimeout(side string, fd, opt int, d time.Duration) *Call {
	_, on := cnames.Sockopt(unix.SOL_SOCKET, opt)
	tv := unix.NsecToTimeval(d.Nanoseconds())
	return t.record("setsockopt", side, t.name(fd), outcome.ArgsOf(outcome.SockoptArgs{Level: "SOL_SOCKET", Optname: on, TvSec: fmt.Sprint(tv.Sec), TvUsec: fmt.Sprint(tv.Usec)}), func() (int64, error) {
		return 0, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv)
	})
}

// Bind binds fd to the case address and port (0 = any port).
func (t *T) Bind(side string, fd, port int) *Call {
	return t.record("bind", side, t.name(fd), outcome.ArgsOf(outcome.AddrArgs{Addr: t.addrString(port)}), func() (int64, error) {
		return 0, unix.Bind(fd, t.sockaddr(port))
	})
}

// Listen marks fd as a listener.
func (t *T) Listen(side string, fd, backlog int) *Call {
	return t.record("listen", side, t.name(fd), outcome.ArgsOf(outcome.ListenArgs{Backlog: strconv.Itoa(backlog)}), func() (int64, error) {
		return 0, unix.Listen(fd, backlog)
	})
}

// Port returns the local port of fd (getsockname), recorded as a step.
func (t *T) Port(side string, fd int) (int, *Call) {
	port := 0
	c := t.record("getsockname", side, t.name(fd), nil, func() (int64, error) {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return 0, err
		}
		port = int(addrPortOf(sa).Port())
		return 0, nil
	})
	c.Detail("port=%d", port)
	return port, c
}

// LocalAddr returns the address and port fd is bound to (getsockname).
func (t *T) LocalAddr(side string, fd int) (netip.AddrPort, *Call) {
	var ap netip.AddrPort
	c := t.record("getsockname", side, t.name(fd), nil, func() (int64, error) {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return 0, err
		}
		ap = addrPortOf(sa)
		return 0, nil
	})
	c.Detail("addr=%s", ap)
	return ap, c
}

// BindAddr binds fd to addr (not the case address: a socket that must
// take over another's 4-tuple binds to that socket's own address).
func (t *T) BindAddr(side string, fd int, addr netip.AddrPort) *Call {
	return t.record("bind", side, t.name(fd), outcome.ArgsOf(outcome.AddrArgs{Addr: addr.String()}), func() (int64, error) {
		return 0, unix.Bind(fd, sockaddrOf(addr))
	})
}

// Connect connects fd to the case address and port.
func (t *T) Connect(side string, fd, port int) *Call {
	return t.record("connect", side, t.name(fd), outcome.ArgsOf(outcome.AddrArgs{Addr: t.addrString(port)}), func() (int64, error) {
		return 0, unix.Connect(fd, t.sockaddr(port))
	})
}

// Accept accepts a connection on fd and names the new socket name.
func (t *T) Accept(side string, fd int, name string) *Call {
	c := t.record("accept", side, t.name(fd), outcome.ArgsOf(outcome.AcceptArgs{New: name}), func() (int64, error) {
		nfd, _, err := unix.Accept(fd)
		return int64(nfd), err
	})
	t.step(c).RetFd = true
	if c.Err == nil {
		t.names[c.Fd()] = name
	}
	return c
}

// Sendto sends data with flags to the case address and port, or with a
// NULL address when port is NoAddr.
func (t *T) Sendto(side string, fd int, data string, flags, port int) *Call {
	var sa unsafe.Pointer
	var size uintptr
	addr := "NULL"
	if port != NoAddr {
		sa, size = t.rawSockaddr(port)
		addr = t.addrString(port)
	}
	return t.record("sendto", side, t.name(fd), outcome.ArgsOf(outcome.SendArgs{Buf: strconv.Quote(data), Len: strconv.Itoa(len(data)), Flags: flagString(flags), Addr: addr}), func() (int64, error) {
		n, err := sendto(fd, []byte(data), flags, sa, size)
		return int64(n), err
	})
}

// Sendmsg sends data with flags in one iovec, with msg_name set to port or
// NULL when port is NoAddr.
func (t *T) Sendmsg(side string, fd int, data string, flags, port int) *Call {
	var to unix.Sockaddr
	addr := "NULL"
	if port != NoAddr {
		to, addr = t.sockaddr(port), t.addrString(port)
	}
	return t.record("sendmsg", side, t.name(fd), outcome.ArgsOf(outcome.SendmsgArgs{MsgName: addr, Iov: strconv.Quote(data), Flags: flagString(flags)}), func() (int64, error) {
		n, err := unix.SendmsgN(fd, []byte(data), nil, to, flags)
		return int64(n), err
	})
}

// Write writes data to fd.
func (t *T) Write(side string, fd int, data string) *Call {
	return t.record("write", side, t.name(fd), outcome.ArgsOf(outcome.SendArgs{Buf: strconv.Quote(data), Len: strconv.Itoa(len(data))}), func() (int64, error) {
		n, err := unix.Write(fd, []byte(data))
		return int64(n), err
	})
}

// Recv receives up to n bytes with flags; the bytes read are the detail.
func (t *T) Recv(side string, fd, n, flags int) *Call {
	buf := make([]byte, n)
	c := t.record("recv", side, t.name(fd), outcome.ArgsOf(outcome.RecvArgs{Len: strconv.Itoa(n), Flags: flagString(flags)}), func() (int64, error) {
		m, _, err := unix.Recvfrom(fd, buf, flags)
		return int64(m), err
	})
	if c.Err == nil && c.Ret > 0 {
		c.Detail("%q", buf[:c.Ret])
	}
	return c
}

// Read reads up to n bytes; the bytes read are the detail.
func (t *T) Read(side string, fd, n int) *Call {
	buf := make([]byte, n)
	c := t.record("read", side, t.name(fd), outcome.ArgsOf(outcome.RecvArgs{Len: strconv.Itoa(n)}), func() (int64, error) {
		m, err := unix.Read(fd, buf)
		return int64(m), err
	})
	if c.Err == nil && c.Ret > 0 {
		c.Detail("%q", buf[:c.Ret])
	}
	return c
}

// Close closes fd.
func (t *T) Close(side string, fd int) *Call {
	c := t.record("close", side, t.name(fd), nil, func() (int64, error) {
		return 0, unix.Close(fd)
	})
	delete(t.names, fd)
	return c
}

// Poll waits up to timeout for events on fd; the returned events are the detail.
func (t *T) Poll(side string, fd int, events int16, timeout time.Duration) *Call {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	c := t.record("poll", side, t.name(fd), outcome.ArgsOf(outcome.PollArgs{Events: cnames.Poll(events), TimeoutMS: strconv.Itoa(int(timeout.Milliseconds()))}), func() (int64, error) {
		for {
			n, err := unix.Poll(fds, int(timeout.Milliseconds()))
			if err == unix.EINTR {
				continue
			}
			return int64(n), err
		}
	})
	if c.Err == nil {
		c.Detail("revents=%s", cnames.Poll(fds[0].Revents))
	}
	return c
}

var tcpStates = []string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// TCPInfo reads TCP_INFO; the detail is the TCP state and whether the SYN
// carried data that was acknowledged (TCPI_OPT_SYN_DATA).
func (t *T) TCPInfo(side string, fd int) (state string, synData bool, c *Call) {
	var info *unix.TCPInfo
	c = t.record("getsockopt", side, t.name(fd), outcome.ArgsOf(outcome.SockoptArgs{Level: "SOL_TCP", Optname: "TCP_INFO"}), func() (int64, error) {
		var err error
		info, err = unix.GetsockoptTCPInfo(fd, unix.SOL_TCP, unix.TCP_INFO)
		return 0, err
	})
	if c.Err != nil {
		return "", false, c
	}
	state = strconv.Itoa(int(info.State))
	if int(info.State) < len(tcpStates) && info.State != 0 {
		state = tcpStates[info.State]
	}
	synData = info.Options&TCPI_OPT_SYN_DATA != 0
	c.Detail("state=%s syn_data=%v", state, synData)
	return state, synData, c
}

// Shutdown shuts down part of a full-duplex connection (how is unix.SHUT_RD,
// SHUT_WR or SHUT_RDWR).
func (t *T) Shutdown(side string, fd, how int) *Call {
	names := map[int]string{unix.SHUT_RD: "SHUT_RD", unix.SHUT_WR: "SHUT_WR", unix.SHUT_RDWR: "SHUT_RDWR"}
	h, ok := names[how]
	if !ok {
		h = strconv.Itoa(how)
	}
	return t.record("shutdown", side, t.name(fd), outcome.ArgsOf(outcome.ShutdownArgs{How: h}), func() (int64, error) {
		return 0, unix.Shutdown(fd, how)
	})
}
