package testcases_test

import (
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases"
)

// A case of your own: a half-closed connection. Register it from your
// package's init and run it with `runmatrix run --cases DIR --kernel K...`;
// it runs in the guest, on each kernel, never on your host.
func ExampleRegister() {
	testcases.Register(&testcases.Case{
		ID:     "mine.half-close",
		Title:  "shutdown(SHUT_WR) on the client: the server reads EOF",
		Source: "shutdown(2)",
		Expect: []testcases.Expect{{Summary: "recv=0", Source: "shutdown(2): the peer reads end of stream"}},
		Run: func(t *testcases.T) error {
			cfd, sfd, _, err := t.Pair() // listener, connect, accept
			if err != nil {
				return err // the setup failed: no kernel behaviour is claimed
			}
			if c := t.Shutdown(testcases.Client, cfd, unix.SHUT_WR); !c.OK() {
				return testcases.SetupError(c)
			}
			t.Recv(testcases.Server, sfd, 16, 0).Key("recv") // the summary: recv=0
			return nil
		},
	})
}

// An option read back: the summary shows the value the kernel kept
// ("nodelay=1"), not getsockopt's return value.
func ExampleT_GetsockoptInt() {
	testcases.Register(&testcases.Case{
		ID:     "mine.nodelay-kept",
		Title:  "TCP_NODELAY set, then read back",
		Expect: []testcases.Expect{{Summary: "nodelay=1", Source: "tcp(7): TCP_NODELAY"}},
		Run: func(t *testcases.T) error {
			c := t.Socket(testcases.Client, "sock", false)
			if !c.OK() {
				return testcases.SetupError(c)
			}
			if c := t.SetsockoptInt(testcases.Client, c.Fd(), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); !c.OK() {
				return testcases.SetupError(c)
			}
			t.GetsockoptInt(testcases.Client, c.Fd(), unix.IPPROTO_TCP, unix.TCP_NODELAY).Key("nodelay")
			return nil
		},
	})
}

// A kernel's answer steers the case: here a missing option ends it, and
// the summary says which errno the kernel gave.
func ExampleCall_Is() {
	testcases.Register(&testcases.Case{
		ID:    "mine.fastopen-connect",
		Title: "TCP_FASTOPEN_CONNECT, where the kernel has it (4.11)",
		Run: func(t *testcases.T) error {
			cfd, port, err := t.ListenerAndClient(false)
			if err != nil {
				return err
			}
			c := t.SetsockoptInt(testcases.Client, cfd, unix.SOL_TCP, testcases.TCP_FASTOPEN_CONNECT, 1).Key("setsockopt")
			if c.Is(unix.ENOPROTOOPT) {
				return nil // before 4.11: the summary is setsockopt=-1 ENOPROTOOPT
			}
			t.Connect(testcases.Client, cfd, port).Key("connect")
			return nil
		},
	})
}
