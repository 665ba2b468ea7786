// Package testcases is the API for writing runmatrix cases: socket system
// call sequences that runmatrix runs on many kernels, recording each call's
// return value, errno and the signals it raised.
//
// A case is a [Case] value whose Run function makes its kernel calls
// through a [T], the recorder. Each call returns a [Call]; [Call.Key] puts it
// in the case's summary (the text the comparison table shows, such as
// "sendto=-1 EPIPE +SIGPIPE"), [Call.OK] and [Call.Is] branch on the result.
// A call that reads a value shows the value read, not its return value:
// [T.GetsockoptInt] with Key("nodelay") gives "nodelay=1" (or
// "nodelay=-1 ENOPROTOOPT" when the kernel refused).
// A failure of the kernel is a step, never a Go error: Run returns an error
// only when the case's own setup failed (see [SetupError]), and the cell then
// says the setup failed instead of stating a kernel behaviour.
//
// Your own cases live in a package of your module, which requires
// github.com/runmatrix/runmatrix, and register themselves from init:
//
//	func init() {
//		testcases.Register(&testcases.Case{
//			ID:    "myproxy.half-close",
//			Title: "shutdown(SHUT_WR) then recv on the peer",
//			Run: func(t *testcases.T) error {
//				cfd, sfd, _, err := t.Pair()
//				if err != nil {
//					return err
//				}
//				t.Shutdown(testcases.Client, cfd, unix.SHUT_WR)
//				t.Recv(testcases.Server, sfd, 16, 0).Key("recv")
//				return nil
//			},
//		})
//	}
//
// and run with `runmatrix run --cases ./mycases --kernel debian:6.1 ...`.
// runmatrix links your package into its guest agent, so your cases run on
// the guest kernel with everything the built-in cases get: a child process
// and network namespace of their own with lo up, the profile's sysctls, a
// watchdog, steps, expectations, the table, transitions, bisect and evidence.
//
// runmatrix plans a run from your source, the way go test finds tests,
// without running your code on the host: a Case's ID, Title, About, Source,
// Timeout, Expect, Sysctls and Fresh must be constant expressions (literals,
// named constants); Run is code and may call anything. Everything in a case runs
// in the guest, on kernels back to 2.6.32 unless your module needs a newer
// Go, so stay within what golang.org/x/sys/unix offers for old kernels.
package testcases
