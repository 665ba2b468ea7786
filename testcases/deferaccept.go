package testcases

import (
	"time"

	"golang.org/x/sys/unix"
)

const seed001 = "seed 001: TCP_DEFER_ACCEPT, tcp(7); Linux commit d1b99ba41d6c (tcp: accept socket after TCP_DEFER_ACCEPT period, 2.6.32)"

// deferV6 says why the expectations hold over IPv6 as well.
const deferV6 = "; the same over IPv6: TCP_DEFER_ACCEPT lives in the shared request-sock code (inet_csk_reqsk_queue_prune(), later tcp_check_req())"

func deferAcceptCases() []*Case {
	return []*Case{
		{
			ID:    "defer-accept.no-data",
			Title: "TCP_DEFER_ACCEPT 1 s, client sends nothing: when accept() returns, what read() gives",
			About: "TCP_DEFER_ACCEPT only delays accept(): the listener drops the client's bare ACKs until the SYN-ACK has been " +
				"retransmitted for the given period (1 s is one retransmission), then accepts the connection anyway. So accept() " +
				"returns a socket with no data and a non-blocking read() fails with EAGAIN. A raw observer counts the SYN-ACKs sent " +
				"by the time accept() returns (it must see the first, or the case cannot tell). accept()'s time is in the trace, not " +
				"the summary: it shows the initial RTO (1 s since 3.1 and in RHEL 6's 2.6.32, 3 s before) but jitters by up to a " +
				"second under emulation.",
			Source:  seed001,
			Timeout: 40 * time.Second,
			Expect: []Expect{{Summary: "accept=fd synacks=2 read=-1 EAGAIN", Families: bothFamilies,
				Source: seed001 + "; the defer period is converted to SYN-ACK retransmissions (secs_to_retrans: 1 s is one)" + deferV6}},
			Run: func(t *T) error { return deferAccept(t, false) },
		},
		{
			ID:    "defer-accept.with-data",
			Title: "TCP_DEFER_ACCEPT 1 s, client sends at once: accept() and read()",
			About: "The intended use of TCP_DEFER_ACCEPT: the client's first data segment completes the connection, accept() returns " +
				"at once and read() finds the data.",
			Source:  seed001,
			Timeout: 40 * time.Second,
			Expect:  []Expect{{Summary: "accept=fd @0s read=5", Families: bothFamilies, Source: seed001 + deferV6}},
			Run:     func(t *T) error { return deferAccept(t, true) },
		},
	}
}

func deferAccept(t *T, send bool) error {
	lfd, port, err := t.Listener(func(fd int) error {
		if c := t.SetsockoptInt(Server, fd, unix.SOL_TCP, TCP_DEFER_ACCEPT, 1); !c.OK() {
			return SetupError(c)
		}

		if c := t.SetTimeout(Server, fd, unix.SO_RCVTIMEO, 15*time.Second); !c.OK() {
			return SetupError(c)
		}
		return nil
	})

	if err != nil {
		return err
	}
	raw := -1
	if !send {
		r := t.RawSocket("raw")
		if !r.OK() {
			return SetupError(r)
		}
		raw = r.Fd()
	}
	c := t.Socket(Client, "client", false)
	if !c.OK() {
		return SetupError(c)
	}
	if c := t.Connect(Client, c.Fd(), port); !c.OK() {
		return SetupError(c)
	}
	if send {
		if w := t.Write(Client, c.Fd(), defaultPayload); !w.OK() {
			return SetupError(w)
		}
		a := t.Accept(Server, lfd, "server").Key("accept").Timed()
		if !a.OK() {
			return nil
		}
		// A non-blocking read: MSG_DONTWAIT, since accept() gave a blocking socket.
		t.Recv(Server, a.Fd(), 64, unix.MSG_DONTWAIT).Key("read")
		return nil
	}
	local, p := t.LocalAddr(Client, c.Fd())
	if !p.OK() {
		return SetupError(p)
	}
	a := t.Accept(Server, lfd, "server").Key("accept")
	if !a.OK() {
		return nil
	}
	// The SYN-ACKs sent by now: the first one proves the observer sees
	// this connection; the others are the retransmissions the defer
	// period was worth.
	_, sn := t.SniffFlags(raw, uint16(port), local.Port(), tcpSYN|tcpACK)
	if sn.Ret < 1 {
		return errSYNACKNotSeen
	}
	sn.Key("synacks")
	t.Recv(Server, a.Fd(), 64, unix.MSG_DONTWAIT).Key("read")
	return nil
}
