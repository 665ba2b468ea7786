// Package cases is an example of your own runmatrix cases: copy it into
// your module (which requires github.com/runmatrix/runmatrix), change the
// cases, and run them on the kernels your users run:
//
//	runmatrix run --cases ./examples/cases --case 'example.*' --kernel debian:6.1 --kernel debian:6.12
package cases

import (
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases"
)

// soPassPIDFD is SO_PASSPIDFD (Linux 6.5), which old headers lack.
const soPassPIDFD = 76

func init() {
	testcases.Register(&testcases.Case{
		ID:    "example.half-close",
		Title: "shutdown(SHUT_WR) on the client: the server reads EOF and can still send",
		About: "A half-closed TCP connection: after the client's shutdown(SHUT_WR) the server's recv() returns 0 (end of stream), " +
			"and data the server sends afterwards still reaches the client, whose read() returns it.",
		Source: "shutdown(2); RFC 9293 3.6 (half-closed connections)",
		Expect: []testcases.Expect{{Summary: "recv=0 read=5", Source: "shutdown(2): SHUT_WR disallows further sends; the peer reads EOF"}},
		Run:    halfClose,
	})
	testcases.Register(&testcases.Case{
		ID:    "example.so-passpidfd",
		Title: "getsockopt(SO_PASSPIDFD) on a TCP socket: the option Linux 6.5 added",
		About: "A feature probe as a program would make it: SO_PASSPIDFD (pass the peer's pidfd with SCM_PIDFD) came in Linux 6.5 " +
			"(commit 5e2ff6704a27). Older kernels do not know the option and answer ENOPROTOOPT; newer ones report it off (0).",
		Source: "socket(7) SO_PASSPIDFD; commit 5e2ff6704a27 (Linux 6.5)",
		Expect: []testcases.Expect{
			{Kernels: "<6.5", Summary: "passpidfd=-1 ENOPROTOOPT", Source: "Linux before 6.5 has no SO_PASSPIDFD"},
			{Kernels: ">=6.5", Summary: "passpidfd=0", Source: "commit 5e2ff6704a27: SO_PASSPIDFD, off by default"},
		},
		Run: passPIDFD,
	})
}

func halfClose(t *testcases.T) error {
	cfd, sfd, _, err := t.Pair()
	if err != nil {
		return err
	}
	if c := t.SetTimeout(testcases.Client, cfd, unix.SO_RCVTIMEO, testcases.WaitLimit); !c.OK() {
		return testcases.SetupError(c)
	}
	if c := t.Shutdown(testcases.Client, cfd, unix.SHUT_WR); !c.OK() {
		return testcases.SetupError(c)
	}
	t.Recv(testcases.Server, sfd, 16, 0).Key("recv")
	t.Write(testcases.Server, sfd, "hello")
	t.Read(testcases.Client, cfd, 16).Key("read")
	return nil
}

func passPIDFD(t *testcases.T) error {
	c := t.Socket(testcases.Client, "sock", false)
	if !c.OK() {
		return testcases.SetupError(c)
	}
	t.GetsockoptInt(testcases.Client, c.Fd(), unix.SOL_SOCKET, soPassPIDFD).Key("passpidfd")
	return nil
}
