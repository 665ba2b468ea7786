package testcases

import (
	"time"

	"golang.org/x/sys/unix"
)

const seed001 = "seed 001: TCP_DEFER_ACCEPT, tcp(7); Linux commit d1b99ba41d6c (tcp: accept socket after TCP_DEFER_ACCEPT period, 2.6.32)"

func deferAcceptCases() []*Case {
	return []*Case{
		{
			ID:    "defer-accept.no-data",
			Title: "TCP_DEFER_ACCEPT 1 s, client sends nothing: when accept() returns, what read() gives",
			About: "TCP_DEFER_ACCEPT only delays accept(): the listener drops the client's bare ACKs until the SYN-ACK has been " +
				"retransmitted for the given period, then accepts the connection anyway. So accept() returns a socket with no data and " +
				"a non-blocking read() fails with EAGAIN. The case times accept() (whole seconds, bounded at 15 s).",
			Source:  seed001,
			Timeout: 40 * time.Second,
			Expect: []Expect{{Kernels: ">=3.1", Profiles: nil, Summary: "accept=fd @1s read=-1 EAGAIN",
				Source: seed001 + "; the first SYN-ACK retransmission is at 1 s since 3.1 (RFC 6298 initial RTO)"}},
			Run: func(t *T) error { return deferAccept(t, false) },
		},
		{
			ID:    "defer-accept.with-data",
			Title: "TCP_DEFER_ACCEPT 1 s, client sends at once: accept() and read()",
			About: "The intended use of TCP_DEFER_ACCEPT: the client's first data segment completes the connection, accept() returns " +
				"at once and read() finds the data.",
			Source:  seed001,
			Timeout: 40 * time.Second,
			Expect:  []Expect{{Summary: "accept=fd @0s read=5", Source: seed001}},
			Run:     func(t *T) error { return deferAccept(t, true) },
		},
	}
}

func deferAccept(t *T, send bool) error {
	lfd, port, err := t.listen(func(fd int) error {
		if c := t.SetsockoptInt(server, fd, unix.SOL_TCP, TCP_DEFER_ACCEPT, 1); !c.OK() {
			return setupError(c)
		}
		// accept() waits up to 15 s, longer than any defer period.
		if c := t.SetTimeout(server, fd, unix.SO_RCVTIMEO, 15*time.Second); !c.OK() {
			return setupError(c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c := t.Socket(client, "client", false)
	if !c.OK() {
		return setupError(c)
	}
	if c := t.Connect(client, c.Fd(), port); !c.OK() {
		return setupError(c)
	}
	if send {
		if w := t.Write(client, c.Fd(), defaultPayload); !w.OK() {
			return setupError(w)
		}
	}
	a := t.Accept(server, lfd, "server").Key("accept").Timed()
	if !a.OK() {
		return nil
	}
	// A non-blocking read: MSG_DONTWAIT, since accept() gave a blocking socket.
	t.Recv(server, a.Fd(), 64, unix.MSG_DONTWAIT).Key("read")
	return nil
}
