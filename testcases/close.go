package testcases

import (
	"time"

	"golang.org/x/sys/unix"
)

func closeCases() []*Case {
	return []*Case{
		{
			ID:    "linger0.reset",
			Title: "SO_LINGER {1,0} close: the peer's recv() and a following send()",
			About: "Closing with SO_LINGER on and a zero timeout aborts the connection with a RST instead of a FIN. The peer's blocking " +
				"recv() fails with ECONNRESET; the error is then consumed, the socket is closed for sending and the next send() fails with " +
				"EPIPE and raises SIGPIPE. Seed 003 discusses SO_LINGER 0 as a way around TIME_WAIT.",
			Source:  "socket(7) SO_LINGER; tcp(7) ECONNRESET; seed 003",
			Timeout: 20 * time.Second,
			Expect: []Expect{{Summary: "recv=-1 ECONNRESET send=-1 EPIPE +SIGPIPE", Families: bothFamilies,
				Source: "socket(7), tcp(7): a RST makes the next call fail with ECONNRESET; send(2): EPIPE and SIGPIPE once the local end is shut down (net/ipv4/tcp.c, shared by TCP over IPv6)"}},
			Run: linger0Reset,
		},
		{
			ID:    "epipe.write-after-close",
			Title: "two writes after the peer closed: the first succeeds, the second fails with EPIPE",
			About: "After the peer close()s, the first write is accepted locally (the peer answers it with a RST), and the write after " +
				"that RST fails with EPIPE and raises SIGPIPE. The case waits for the RST with poll() so the order is deterministic.",
			Source:  "send(2) EPIPE; tcp(7); seed 003 (the server finds a dead client only by writing)",
			Timeout: 20 * time.Second,
			Expect:  []Expect{{Summary: "write1=1 write2=-1 EPIPE +SIGPIPE", Families: bothFamilies, Source: "send(2): EPIPE, and SIGPIPE unless MSG_NOSIGNAL, when the connection is gone (tcp_sendmsg(), shared by TCP over IPv6)"}},
			Run:     epipeWriteAfterClose,
		},
	}
}

func linger0Reset(t *T) error {
	cfd, sfd, _, err := t.Pair()
	if err != nil {
		return err
	}
	if c := t.SetLinger(Client, cfd, 1, 0); !c.OK() {
		return SetupError(c)
	}
	t.Close(Client, cfd)
	t.Recv(Server, sfd, 64, 0).Key("recv")
	t.Sendto(Server, sfd, defaultPayload, 0, NoAddr).Key("send")
	return nil
}

func epipeWriteAfterClose(t *T) error {
	cfd, sfd, _, err := t.Pair()
	if err != nil {
		return err
	}
	t.Close(Server, sfd)
	t.Write(Client, cfd, "x").Key("write1")
	// The peer's RST for that byte sets POLLHUP/POLLERR; waiting for it makes
	// write2 see the reset on every kernel instead of racing it.
	t.Poll(Client, cfd, unix.POLLIN, WaitLimit)
	t.Write(Client, cfd, "y").Key("write2")
	return nil
}
