// Package tfocase is a user's own case in a module of its own: the Exim
// call, written against the public testcases API only.
package tfocase

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases"
)

const msgFastOpen = 0x20000000

func init() {
	testcases.Register(&testcases.Case{
		ID:      "usermod.fastopen-sendto",
		Title:   "my mailer's sendto(MSG_FASTOPEN) to a listener on a fresh socket",
		Source:  "Exim bug 2518",
		Timeout: 20 * time.Second,
		Expect: []testcases.Expect{
			{Kernels: "<3.6", Summary: "sendto=-1 EPIPE +SIGPIPE", Source: "no TFO client before 3.6"},
		},
		Run: func(t *testcases.T) error {
			cfd, port, err := t.ListenerAndClient(false)
			if err != nil {
				return err
			}
			if c := t.SetTimeout(testcases.Client, cfd, unix.SO_RCVTIMEO, testcases.WaitLimit); !c.OK() {
				return testcases.SetupError(c)
			}
			if !t.Sendto(testcases.Client, cfd, "hello", msgFastOpen, port).Key("sendto").OK() {
				return nil
			}
			t.Recv(testcases.Client, cfd, 1, unix.MSG_DONTWAIT)
			return nil
		},
	})
}
