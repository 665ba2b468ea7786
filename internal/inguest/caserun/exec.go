package caserun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/runmatrix/runmatrix/internal/inguest/netif"
)

// ExecChildCommand is the argument that makes the agent become a program
// inside a fresh network namespace (internal to Exec).
const ExecChildCommand = "exec-child"

// ExecRequest is what `guest-agent exec` reads on stdin: one program to run
// in its own network namespace with lo up, as `go test -exec` runs a test
// binary.
type ExecRequest struct {
	// Bin is the program and Dir the directory it runs in (paths in the guest).
	Bin  string   `json:"bin"`
	Dir  string   `json:"dir"`
	Args []string `json:"args,omitempty"`
	// TimeoutS kills the program after that many seconds (0: never).
	TimeoutS int `json:"timeout_s,omitempty"`
	// Share, when set, is the 9p tag of the host folder to mount
	// read-only on Dir (a folder too big to ship in the initramfs).
	Share string `json:"share,omitempty"`
}

// mountShare mounts the host folder tagged tag on dir, read-only: 9P2000.L
// where the kernel has it (2.6.36 on), else 9P2000.u.
func mountShare(tag, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	for _, version := range []string{"9p2000.L", "9p2000.u"} {
		if err = syscall.Mount(tag, dir, "9p", syscall.MS_RDONLY, "trans=virtio,version="+version); err == nil {
			return nil
		}
	}
	return fmt.Errorf("mount the shared folder %s on %s: %w", tag, dir, err)
}

// Exec runs the program a JSON ExecRequest on in names, with its stdout and
// stderr both written to out, and returns its exit status (128+N for a
// signal, 124 for the timeout, 125 for a program that could not start).
func Exec(in io.Reader, out io.Writer) int {
	var req ExecRequest
	if err := json.NewDecoder(io.LimitReader(in, 1<<20)).Decode(&req); err != nil {
		fmt.Fprintf(out, "guest-agent exec: bad request: %v\n", err)
		return 125
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(out, "guest-agent exec: %v\n", err)
		return 125
	}
	if req.Share != "" {
		if err := mountShare(req.Share, req.Dir); err != nil {
			fmt.Fprintf(out, "guest-agent exec: %v\n", err)
			return 125
		}
	}
	// In a network namespace of its own, or the guest's on a kernel without.
	var cmd *exec.Cmd
	for _, flags := range []uintptr{syscall.CLONE_NEWNET, 0} {
		cmd = exec.Command(self, append([]string{ExecChildCommand, req.Dir, req.Bin}, req.Args...)...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
		if err = cmd.Start(); err == nil {
			break
		}
	}
	if err != nil {
		fmt.Fprintf(out, "guest-agent exec: %v\n", err)
		return 125
	}
	var timer *time.Timer
	timedOut := make(chan struct{})
	if req.TimeoutS > 0 {
		timer = time.AfterFunc(time.Duration(req.TimeoutS)*time.Second, func() {
			close(timedOut)
			cmd.Process.Kill()
		})
	}
	err = cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	select {
	case <-timedOut:
		fmt.Fprintf(out, "guest-agent exec: killed after %ds\n", req.TimeoutS)
		return 124
	default:
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			fmt.Fprintf(out, "guest-agent exec: %s killed by %v\n", req.Bin, ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(out, "guest-agent exec: %v\n", err)
		return 125
	}
	return 0
}

// ExecChild brings lo up (in the namespace Exec made), enters the
// directory and replaces itself with the program; args are DIR BIN ARGS...
func ExecChild(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: exec-child DIR BIN [ARGS...]")
		return 125
	}
	_ = netif.Up("lo", "127.0.0.1", "255.0.0.0") // already up without a namespace
	if err := os.Chdir(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "guest-agent exec: %v\n", err)
		return 125
	}
	err := syscall.Exec(args[1], args[1:], baseEnv())
	fmt.Fprintf(os.Stderr, "guest-agent exec %s: %v\n", args[1], err)
	return 125
}
