package testcases

import (
	"time"

	"golang.org/x/sys/unix"
)

const (
	seed000 = "seed 000: Exim bug 2518, https://bugs.exim.org/show_bug.cgi?id=2518; TFO client added in Linux 3.6 by commit cf60af03ca4e"
	seed002 = "seed 002: net.ipv4.tcp_fastopen bitmap, Documentation/networking/ip-sysctl.txt"
	seed004 = "seed 004: sendto(2) and sendmsg(2) with MSG_FASTOPEN; net/ipv4/tcp.c tcp_sendmsg_fastopen() passes msg_name to __inet_stream_connect()"

	before36 = "<3.6"
	// withTFO are kernels whose tcp_sendmsg() has tcp_sendmsg_fastopen()
	// (TFO client, 3.6), which refuses MSG_FASTOPEN with EOPNOTSUPP when bit
	// 1 is off; the server side (TCP_FASTOPEN on listeners) came in 3.7.
	withTFO   = ">=3.6"
	tfoSource = "net/ipv4/tcp.c tcp_sendmsg_fastopen(): EOPNOTSUPP unless tcp_fastopen has bit 1 (client)"
	tfoClient = "tcp_fastopen bit 1 enables the client, seed 002"
	// clientV6 says why a client expectation holds over IPv6 as well.
	clientV6 = "; the same over IPv6: tcp_sendmsg_fastopen() connects through __inet_stream_connect(), which runs tcp_v6_connect() and the shared tcp_connect()"
	// serverV6 is where TFO listeners came to IPv6.
	serverV6 = "Linux 3.16 (tcp: IPv6 support for fastopen server): before it tcp_v6_conn_request() neither issues cookies nor takes data in a SYN; measured on 3.10 and 4.2.2"
)

// clientOn are the profiles with TFO client support.
var clientOn = []string{"tfo=1", "tfo=3", "tfo=0x207"}

// clientOff expects EOPNOTSUPP from the call labelled label under tfo=0.
func clientOff(label string) Expect {
	return Expect{Kernels: withTFO, Profiles: []string{"tfo=0"}, Summary: label + "=-1 EOPNOTSUPP", Families: bothFamilies, Source: tfoSource + clientV6}
}

// preTFO are the outcomes seed 000 states for kernels without TFO client
// support: tcp_sendmsg() on an unconnected socket fails in
// sk_stream_wait_connect() with EPIPE, and sk_stream_error() raises SIGPIPE.
// Without TFO the call is plain TCP, which IPv6 shares: both families.
func preTFO(summary string) []Expect {
	return []Expect{{Kernels: before36, Summary: summary, Families: bothFamilies, Source: seed000 + "; tcp_sendmsg(), shared by TCP over IPv6"}}
}

func tfoCases() []*Case {
	cs := []*Case{
		{
			ID:    "tfo.sendto.blocking",
			Title: "sendto(MSG_FASTOPEN) on a fresh blocking socket to a listener",
			About: "Exim 4.88 opens outgoing SMTP connections with sendto(MSG_FASTOPEN) on a socket that was never connected. " +
				"Kernels before 3.6 do not know the flag, treat the call as a send on an unconnected socket and fail with EPIPE and SIGPIPE, " +
				"which broke every remote delivery. Since 3.6 the call connects, blocks until the handshake completes and sends the data.",
			Source:  seed000,
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendto=-1 EPIPE +SIGPIPE"), clientOff("sendto"),
				Expect{Kernels: withTFO, Profiles: clientOn, Summary: "sendto=5 recv=5", Families: bothFamilies, Source: seed000 + "; " + tfoClient + clientV6}),
			Run: func(t *T) error { return tfoSendto(t, false, 0, true) },
		},
		{
			ID:    "tfo.sendto.nonblocking",
			Title: "sendto(MSG_FASTOPEN) on a fresh non-blocking socket (the Exim call)",
			About: "The non-blocking form of the Exim call. With TFO client support and no cached cookie the kernel sends a SYN with a cookie request, " +
				"no data, and returns EINPROGRESS; with a cookie (or tfo bit 4) the data goes in the SYN and the byte count is returned. " +
				"Before 3.6 it fails with EPIPE and SIGPIPE. Each case runs in a fresh network namespace, so no cookie is cached at the start.",
			Source:  seed000,
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendto=-1 EPIPE +SIGPIPE"), clientOff("sendto"),
				Expect{Kernels: withTFO, Profiles: []string{"tfo=1", "tfo=3"}, Summary: "sendto=-1 EINPROGRESS", Families: bothFamilies, Source: seed000 + clientV6},
				Expect{Kernels: withTFO, Profiles: []string{"tfo=0x207"}, Summary: "sendto=5 recv=5", Families: bothFamilies, Source: seed002 + ": bit 4 sends data in the SYN without a cookie" + clientV6}),
			Run: func(t *T) error { return tfoSendto(t, true, 0, true) },
		},
		{
			ID:    "tfo.sendto.nosignal",
			Title: "sendto(MSG_FASTOPEN|MSG_NOSIGNAL) on a fresh blocking socket",
			About: "The Exim call with MSG_NOSIGNAL: on kernels before 3.6 it still fails with EPIPE, but no SIGPIPE is raised, " +
				"which is what a portable caller should pass to survive those kernels.",
			Source:  seed000 + "; send(2) MSG_NOSIGNAL",
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendto=-1 EPIPE"), clientOff("sendto"),
				Expect{Kernels: withTFO, Profiles: clientOn, Summary: "sendto=5 recv=5", Families: bothFamilies, Source: seed000 + "; " + tfoClient + clientV6}),
			Run: func(t *T) error { return tfoSendto(t, false, unix.MSG_NOSIGNAL, true) },
		},
		{
			ID:    "tfo.sendto.no-listener",
			Title: "sendto(MSG_FASTOPEN) to a port where nothing listens",
			About: "The Exim call against a closed port. With TFO the SYN is answered by a reset and the call reports ECONNREFUSED " +
				"(blocking); before 3.6 it never gets that far and fails with EPIPE and SIGPIPE.",
			Source:  seed000,
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendto=-1 EPIPE +SIGPIPE"), clientOff("sendto"),
				Expect{Kernels: withTFO, Profiles: clientOn, Summary: "sendto=-1 ECONNREFUSED", Families: bothFamilies, Source: "connect(2) ECONNREFUSED: nobody listening; " + tfoClient + clientV6}),
			Run: func(t *T) error { return tfoSendto(t, false, 0, false) },
		},
		{
			ID:    "tfo.sendmsg.no-name",
			Title: "sendmsg(MSG_FASTOPEN) on a fresh socket with msg_name NULL",
			About: "Seed 004 found sendmsg(MSG_FASTOPEN) failing with EINVAL where sendto(MSG_FASTOPEN) worked, and blamed the flag. " +
				"The real difference is the destination: its sendmsg passed msg_name NULL, and tcp_sendmsg_fastopen() hands that empty address " +
				"to __inet_stream_connect(), which rejects an address shorter than sa_family with EINVAL. Compare tfo.sendmsg.with-name.",
			Source:  seed004,
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendmsg=-1 EPIPE +SIGPIPE"), clientOff("sendmsg"),
				Expect{Kernels: withTFO, Profiles: clientOn, Summary: "sendmsg=-1 EINVAL", Families: bothFamilies, Source: seed004 + clientV6}),
			Run: func(t *T) error { return tfoSendmsg(t, false) },
		},
		{
			ID:    "tfo.sendmsg.with-name",
			Title: "sendmsg(MSG_FASTOPEN) on a fresh socket with msg_name set",
			About: "The same sendmsg(MSG_FASTOPEN) as tfo.sendmsg.no-name but with the listener's address in msg_name. " +
				"With TFO client support it connects and sends like sendto(MSG_FASTOPEN): the flag was never the problem.",
			Source:  seed004,
			Timeout: 20 * time.Second,
			Expect: append(preTFO("sendmsg=-1 EPIPE +SIGPIPE"), clientOff("sendmsg"),
				Expect{Kernels: withTFO, Profiles: clientOn, Summary: "sendmsg=5 recv=5", Families: bothFamilies, Source: seed004 + "; " + tfoClient + clientV6}),
			Run: func(t *T) error { return tfoSendmsg(t, true) },
		},
		{
			ID:    "tfo.connected",
			Title: "send with MSG_FASTOPEN on an already connected socket",
			About: "A caller that connect()s first and then passes MSG_FASTOPEN anyway. Kernels without TFO ignore the unknown flag " +
				"and send; kernels with TFO route the call through tcp_sendmsg_fastopen(), which may refuse an already connected socket.",
			Source:  seed004 + "; tcp(7) MSG_FASTOPEN",
			Timeout: 20 * time.Second,
			Run:     tfoConnected,
		},
		{
			ID:    "tfo.listener-option",
			Title: "setsockopt(TCP_FASTOPEN) on a listener, read back, then listen",
			About: "The server side opt-in: TCP_FASTOPEN (23) sets the listener's queue of pending TFO requests. " +
				"Kernels before 3.7 do not know the option and answer ENOPROTOOPT; that is an outcome, not a failure.",
			Source:  seed002 + "; tcp(7) TCP_FASTOPEN",
			Timeout: 20 * time.Second,
			Expect:  []Expect{{Kernels: "<3.7", Summary: "setsockopt=-1 ENOPROTOOPT", Families: bothFamilies, Source: "tcp(7): TCP_FASTOPEN since Linux 3.7; unknown TCP options fail with ENOPROTOOPT (do_tcp_setsockopt(), shared by TCP over IPv6)"}},
			Run:     tfoListenerOption,
		},
		{
			ID:    "tfo.connect-option",
			Title: "setsockopt(TCP_FASTOPEN_CONNECT), connect(), write()",
			About: "TCP_FASTOPEN_CONNECT (30, Linux 4.11) lets a client use TFO through plain connect() and write(): connect() returns 0 " +
				"at once and the SYN leaves with the first write. Older kernels answer ENOPROTOOPT.",
			Source:  "Linux commit 19f6d3f3c842 (tcp: fast open connect, 4.11)",
			Timeout: 20 * time.Second,
			Run:     tfoConnectOption,
		},
		{
			ID:    "tfo.no-cookie-option",
			Title: "setsockopt(TCP_FASTOPEN_NO_COOKIE) then non-blocking sendto(MSG_FASTOPEN)",
			About: "TCP_FASTOPEN_NO_COOKIE (34, Linux 4.15) is the per-socket form of tfo bit 4: the client puts data in the SYN without " +
				"a cookie, so a non-blocking sendto(MSG_FASTOPEN) returns the byte count instead of EINPROGRESS.",
			Source:  "Linux commit 71c02379c762 (tcp: Configure TFO without cookie per socket and/or per route, 4.15)",
			Timeout: 20 * time.Second,
			Run:     tfoNoCookieOption,
		},
		{
			ID:    "tfo.server.data-in-syn",
			Title: "is the SYN's data readable right after accept(), without and with a cookie",
			About: "A TFO listener passes data carried in the SYN to the application before the handshake completes. Round 1 has no cookie: " +
				"the client's SYN only asks for one, so nothing is readable at accept(). Round 2 reuses the cookie round 1 obtained, so the data " +
				"is in the SYN and readable at once. The tcp_fastopen bitmap decides which rounds carry data (0x207: both, without cookies).",
			Source:  seed002,
			Timeout: 30 * time.Second,
			Expect: []Expect{
				{Kernels: ">=3.7", Profiles: []string{"tfo=1"}, Summary: "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=-1 EINPROGRESS recv2=-1 EAGAIN", Families: bothFamilies,
					Source: seed002 + ": without bit 2 the server issues no cookie and takes no data in the SYN, over IPv4 and IPv6 alike"},
				{Kernels: ">=3.7", Profiles: []string{"tfo=3"}, Summary: "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=6 recv2=6",
					Source: seed002 + ": bits 1 and 2, the second connection carries the cookie the first obtained"},
				{Kernels: ">=3.16", Profiles: []string{"tfo=3"}, Summary: "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=6 recv2=6", Families: []string{IPv6},
					Source: seed002 + "; " + serverV6},
				{Kernels: ">=3.7 <3.16", Profiles: []string{"tfo=3"}, Summary: "listener-tfo=0 sendto1=-1 EINPROGRESS recv1=-1 EAGAIN sendto2=-1 EINPROGRESS recv2=-1 EAGAIN", Families: []string{IPv6},
					Source: serverV6 + ": the first connection gets no cookie, so the second has none to send"},
				{Kernels: ">=3.7", Profiles: []string{"tfo=0x207"}, Summary: "listener-tfo=0 sendto1=5 recv1=5 sendto2=6 recv2=6", Families: bothFamilies,
					Source: seed002 + ": bit 4 sends and 0x200 accepts data in the SYN without any cookie; before 3.16 an IPv6 listener drops the SYN's data (" + serverV6 +
						") and the client resends it with the ACK that completes the handshake, so it is readable at accept() all the same"},
			},
			Run: tfoServerDataInSYN,
		},
	}
	for _, c := range cs {
		c.Sysctls = []string{SysctlTCPFastOpen}
	}
	return cs
}

// tfoSendto makes the Exim call: sendto(MSG_FASTOPEN) on a socket that was
// never connected, to a listener (or to a bound port nobody listens on).
func tfoSendto(t *T, nonblock bool, extra int, listening bool) error {
	var port int
	if listening {
		var err error
		if _, port, err = t.Listener(nil); err != nil {
			return err
		}
	} else {
		c := t.Socket(Server, "closed", false)
		if !c.OK() {
			return SetupError(c)
		}
		if c := t.Bind(Server, c.Fd(), 0); !c.OK() {
			return SetupError(c)
		}
		var p *Call
		if port, p = t.Port(Server, c.Fd()); !p.OK() {
			return SetupError(p)
		}
	}
	c := t.Socket(Client, "client", nonblock)
	if !c.OK() {
		return SetupError(c)
	}
	s := t.Sendto(Client, c.Fd(), defaultPayload, MSG_FASTOPEN|extra, port).Key("sendto")
	if listening && s.OK() {
		receive(t)
	}
	return nil
}

// receive accepts the connection the client made and reads what arrived.
func receive(t *T) {
	a := t.Accept(Server, t.fdOf("listener"), "server")
	if !a.OK() {
		return
	}
	t.SetTimeout(Server, a.Fd(), unix.SO_RCVTIMEO, WaitLimit)
	t.Recv(Server, a.Fd(), 64, 0).Key("recv")
}

func tfoSendmsg(t *T, withName bool) error {
	cfd, port, err := t.ListenerAndClient(false)
	if err != nil {
		return err
	}
	to := NoAddr
	if withName {
		to = port
	}
	s := t.Sendmsg(Client, cfd, defaultPayload, MSG_FASTOPEN, to).Key("sendmsg")
	if s.OK() {
		receive(t)
	}
	return nil
}

func tfoConnected(t *T) error {
	cfd, sfd, _, err := t.Pair()
	if err != nil {
		return err
	}
	if s := t.Sendto(Client, cfd, defaultPayload, MSG_FASTOPEN, NoAddr).Key("send"); s.OK() {
		t.Recv(Server, sfd, 64, 0).Key("recv")
	}
	return nil
}

func tfoListenerOption(t *T) error {
	c := t.Socket(Server, "listener", false)
	if !c.OK() {
		return SetupError(c)
	}
	fd := c.Fd()
	if !t.SetsockoptInt(Server, fd, unix.SOL_TCP, TCP_FASTOPEN, 5).Key("setsockopt").OK() {
		return nil
	}
	t.GetsockoptInt(Server, fd, unix.SOL_TCP, TCP_FASTOPEN).Key("getsockopt")
	if c := t.Bind(Server, fd, 0); !c.OK() {
		return SetupError(c)
	}
	t.Listen(Server, fd, 16).Key("listen")
	return nil
}

func tfoConnectOption(t *T) error {
	cfd, port, err := t.ListenerAndClient(false)
	if err != nil {
		return err
	}
	if !t.SetsockoptInt(Client, cfd, unix.SOL_TCP, TCP_FASTOPEN_CONNECT, 1).Key("setsockopt").OK() {
		return nil
	}
	if !t.Connect(Client, cfd, port).Key("connect").OK() {
		return nil
	}
	if t.Write(Client, cfd, defaultPayload).Key("write").OK() {
		receive(t)
	}
	return nil
}

func tfoNoCookieOption(t *T) error {
	cfd, port, err := t.ListenerAndClient(true)
	if err != nil {
		return err
	}
	if !t.SetsockoptInt(Client, cfd, unix.SOL_TCP, TCP_FASTOPEN_NO_COOKIE, 1).Key("setsockopt").OK() {
		return nil
	}
	t.Sendto(Client, cfd, defaultPayload, MSG_FASTOPEN, port).Key("sendto")
	return nil
}

// tfoServerDataInSYN runs two rounds against a TFO listener and reads with
// MSG_DONTWAIT right after accept(): only data that came in the SYN can be
// there, because a client whose sendto returned EINPROGRESS queued nothing.
func tfoServerDataInSYN(t *T) error {
	lfd, port, err := t.Listener(func(fd int) error {
		if !t.SetsockoptInt(Server, fd, unix.SOL_TCP, TCP_FASTOPEN, 5).Key("listener-tfo").OK() {
			return errStop
		}
		return nil
	})

	if err == errStop {
		return nil
	}
	if err != nil {
		return err
	}
	for i, data := range []string{"first", "second"} {
		n := string(rune('1' + i))
		c := t.Socket(Client, "client"+n, true)
		if !c.OK() {
			return SetupError(c)
		}
		cfd := c.Fd()
		s := t.Sendto(Client, cfd, data, MSG_FASTOPEN, port).Key("sendto" + n)
		if !s.OK() && !s.Is(unix.EINPROGRESS) {
			return nil
		}
		a := t.Accept(Server, lfd, "server"+n)
		if !a.OK() {
			a.Key("accept" + n)
			return nil
		}
		t.Recv(Server, a.Fd(), 64, unix.MSG_DONTWAIT).Key("recv" + n)
		t.TCPInfo(Server, a.Fd())
		// Wait for the client's side of the handshake, which carries the
		// cookie round 2 uses.
		t.Poll(Client, cfd, unix.POLLOUT, WaitLimit)
	}
	return nil
}
