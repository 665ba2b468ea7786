package testcases

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

const (
	seed003 = "seed 003: CentOS 6.5 to 6.6 socket behaviour change (centos mailing list, 2015-01-21); RFC 5961 section 4 (challenge ACK for SYN on an established connection)"
	rfc5961 = "RFC 5961 section 4.2, Linux commit 0c24604b68fc (tcp: implement RFC 5961 4.2, 3.6): a SYN on an established connection gets a challenge ACK"
	// synDropped: measured silent on 3.15.0 (and answered on 3.6.2 and 4.2.2 to 4.8.16); stable
	// and distro kernels of 3.8 to 3.19 may carry the 4.0 fix, and then this expectation flags them.
	synDropped = "Linux 3.8 (tcp: should drop incoming frames without ACK flag set) drops a SYN without ACK on an established " +
		"connection before the RFC 5961 check: no reply, the connection survives; measured on 3.10 (both families) and 3.15.0"
	rfc5961Restored = "Linux 4.0 (tcp: Restore RFC5961-compliant behavior for SYN packets): the SYN gets a challenge ACK again; " +
		"measured on 4.2.2, 4.7.2 and 4.8.16"
	// sharedV6 says why an expectation holds over IPv6 as well.
	sharedV6 = "; the same over IPv6: tcp_v6_do_rcv() runs the shared tcp_rcv_established() and tcp_validate_incoming()"
	// outOfWindow moves a sequence number far beyond any receive window.
	outOfWindow = 1 << 30
)

func reconnectCases() []*Case {
	return []*Case{
		{
			ID:    "reconnect.syn-in-window",
			Title: "a SYN for an established 5-tuple, in window: what the server's recv() returns",
			About: "A client that crashed and reconnects from the same source port sends a SYN that matches the server's established " +
				"connection. Before RFC 5961 Linux reset the connection on an in-window SYN, so the server's recv() ended at once; with RFC 5961 " +
				"(mainline 3.6, backported to CentOS 6.6's 2.6.32) the server answers a challenge ACK and keeps the connection. The SYN is injected " +
				"with a raw socket at the server's rcv_nxt while the client socket stays silent, so nothing answers the challenge ACK; recv() waits up to 3 s.",
			Source:  seed003,
			Timeout: 30 * time.Second,
			Expect: []Expect{
				// Red Hat backported the challenge ACK into 2.6.32 (RHEL and
				// CentOS 6.6): seed 003's change inside one version number.
				{Lineage: "el6", Kernels: ">=2.6.32-504", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=1 ACK",
					Source: seed003 + "; RHEL 6.6 (kernel-2.6.32-504.el6) carries RFC 5961's challenge ACK (Linux commit 0c24604b68fc)" + sharedV6},
				{Kernels: "<3.6", Families: bothFamilies, Summary: "recv=-1 ECONNRESET @0s replies=1 RST|ACK",
					Source: "Linux before 0c24604b68fc (3.6): tcp_validate_incoming() resets the connection on an in-window SYN (RFC 793 page 71) and answers it with a RST" + sharedV6},
				{Kernels: ">=3.6 <3.8", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=1 ACK", Source: rfc5961 + sharedV6},
				{Kernels: ">=3.8 <4.0", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=0 none", Source: synDropped + sharedV6},
				{Kernels: ">=4.0", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=1 ACK", Source: rfc5961Restored + sharedV6},
			},
			Run: func(t *T) error { return reconnectSYN(t, 0) },
		},
		{
			ID:    "reconnect.syn-out-of-window",
			Title: "a SYN for an established 5-tuple, far out of window: what the server's recv() returns",
			About: "As reconnect.syn-in-window, with the SYN's sequence number 2^30 beyond the server's rcv_nxt. Kernels without RFC 5961 " +
				"answer an out-of-window SYN with a duplicate ACK and keep the connection, so old and new kernels should agree here.",
			Source:  seed003,
			Timeout: 30 * time.Second,
			Expect: []Expect{
				{Kernels: "<3.8", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=1 ACK",
					Source: "RFC 793 page 69: an unacceptable segment is answered with an ACK and dropped (RFC 5961: a challenge ACK)" + sharedV6},
				{Kernels: ">=3.8 <4.0", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=0 none", Source: synDropped + sharedV6},
				{Kernels: ">=4.0", Families: bothFamilies, Summary: "recv=-1 EAGAIN @3s replies=1 ACK", Source: rfc5961Restored + sharedV6},
			},
			Run: func(t *T) error { return reconnectSYN(t, outOfWindow) },
		},
		{
			ID:    "reconnect.silent-close",
			Title: "client vanishes silently (TCP_REPAIR close) and reconnects from the same port",
			About: "The seed 003 scenario end to end: the client's socket disappears without FIN or RST (TCP_REPAIR, Linux 3.5, then close), " +
				"and a new socket binds the same source port with SO_REUSEADDR and connects. The server's old connection sees a SYN for its " +
				"5-tuple. The case records the client's connect() result and time and the server's recv() within 3 s.",
			Source:  seed003 + "; Linux commit ee9952831cfd (tcp: Initial repair mode, 3.5)",
			Timeout: 40 * time.Second,
			Run:     reconnectSilentClose,
		},
	}
}

// conn is an established connection with a raw observer that has seen
// its handshake.
type conn struct {
	raw, cfd, sfd int
	// cip is the client's address on the wire (127.0.0.1 when the client
	// is unbound and the case address is another 127/8 one; ::1 over IPv6).
	cip          netip.Addr
	cport, sport uint16
	// clientNxt is the client's next sequence number.
	clientNxt uint32
}

// established sets up a listener, a raw observer and a connected pair; the observer must have seen the
// handshake's SYN-ACK, or nothing it sees later means anything.
func (t *T) established() (*conn, error) {
	r := t.RawSocket("raw")
	if !r.OK() {
		return nil, SetupError(r)
	}
	k := &conn{raw: r.Fd()}
	cfd, sfd, port, err := t.Pair()
	if err != nil {
		return nil, err
	}
	k.cfd, k.sfd = cfd, sfd
	local, c := t.LocalAddr(Client, cfd)
	if !c.OK() {
		return nil, SetupError(c)
	}
	// The raw socket stays unbound (bound, it would no longer see segments
	// to other addresses); sending to the case address, it gets the same
	// source address the unbound client got. tookInjected checks that.
	k.cip, k.cport, k.sport = local.Addr(), local.Port(), uint16(port)
	segs, _ := t.Sniff(k.raw, k.sport, k.cport)
	for _, s := range segs {
		if s.Src == k.sport && s.Flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK {
			// The SYN-ACK acknowledges the client's ISN + 1, which is the
			// client's next sequence number while it sends nothing.
			k.clientNxt = s.Ack
			return k, nil
		}
	}
	return nil, errSYNACKNotSeen
}

func reconnectSYN(t *T, offset uint32) error {
	k, err := t.established()
	if err != nil {
		return err
	}
	syn := Segment{Src: k.cport, Dst: k.sport, Seq: k.clientNxt + offset, Flags: tcpSYN, SrcIP: k.cip}
	if c := t.Inject(k.raw, syn); !c.OK() {
		return SetupError(c)
	}
	t.Recv(Server, k.sfd, 64, 0).Key("recv").Timed()
	segs, c := t.Sniff(k.raw, k.sport, k.cport)
	if err := tookInjected(segs, syn); err != nil {
		return err
	}
	c.Key("replies").ShowDetail()
	return nil
}

func reconnectSilentClose(t *T) error {
	r := t.RawSocket("raw")
	if !r.OK() {
		return SetupError(r)
	}
	raw := r.Fd()
	lfd, port, err := t.Listener(nil)
	if err != nil {
		return err
	}
	c := t.Socket(Client, "client", false)
	if !c.OK() {
		return SetupError(c)
	}
	cfd := c.Fd()
	if c := t.SetsockoptInt(Client, cfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); !c.OK() {
		return SetupError(c)
	}
	if c := t.Connect(Client, cfd, port); !c.OK() {
		return SetupError(c)
	}
	local, p := t.LocalAddr(Client, cfd)
	if !p.OK() {
		return SetupError(p)
	}
	a := t.Accept(Server, lfd, "server")
	if !a.OK() {
		return SetupError(a)
	}
	sfd := a.Fd()
	if c := t.SetTimeout(Server, sfd, unix.SO_RCVTIMEO, WaitLimit); !c.OK() {
		return SetupError(c)
	}
	// The observer must have seen the handshake, or what it sees later
	// (the SYN of the reconnect) means nothing.
	segs, _ := t.Sniff(raw, uint16(port), local.Port())
	sawHandshake := false
	for _, s := range segs {
		sawHandshake = sawHandshake || s.Src == uint16(port) && s.Flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK
	}
	if !sawHandshake {
		return errSYNACKNotSeen
	}
	if !t.SetsockoptInt(Client, cfd, unix.SOL_TCP, TCP_REPAIR, 1).Key("repair").OK() {
		return nil
	}
	t.Close(Client, cfd)
	n := t.Socket(Client, "client2", false)
	if !n.OK() {
		return SetupError(n)
	}
	nfd := n.Fd()
	if c := t.SetsockoptInt(Client, nfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); !c.OK() {
		return SetupError(c)
	}
	if c := t.SetTimeout(Client, nfd, unix.SO_SNDTIMEO, 10*time.Second); !c.OK() {
		return SetupError(c)
	}
	// Take over the old socket's own address and port: the same 4-tuple.
	if !t.BindAddr(Client, nfd, local).Key("bind").OK() {
		return nil
	}
	t.Connect(Client, nfd, port).Key("connect").Timed()
	t.Recv(Server, sfd, 64, 0).Key("recv").Timed()
	t.Sniff(raw, uint16(port), local.Port())
	return nil
}
