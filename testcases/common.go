package testcases

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Sides of a case, as shown in traces: pass one as a call's side.
const (
	Client = "client"
	Server = "server"
)

// WaitLimit bounds every blocking call the helpers set up (as SO_RCVTIMEO),
// so a kernel that never answers shows as EAGAIN after it instead of a hang.
const WaitLimit = 3 * time.Second

// SetupError is the error a case returns when a call its setup needs, one
// every kernel must allow, failed: the cell then says the setup failed and
// states no kernel behaviour.
func SetupError(c *Call) error {
	s := c.step()
	return fmt.Errorf("setup %s on %s: %s", s.Call, s.Fd, s.Errno)
}

// Listener creates a listener named "listener" on the case address with a
// receive timeout (which bounds accept), runs before on it ahead of bind
// (for options such as TCP_DEFER_ACCEPT; nil for none), and returns it
// with its port. Its error is a setup error.
func (t *T) Listener(before func(fd int) error) (fd, port int, err error) {
	c := t.Socket(Server, "listener", false)
	if !c.OK() {
		return 0, 0, SetupError(c)
	}
	fd = c.Fd()
	if c := t.SetsockoptInt(Server, fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); !c.OK() {
		return 0, 0, SetupError(c)
	}
	if c := t.SetTimeout(Server, fd, unix.SO_RCVTIMEO, WaitLimit); !c.OK() {
		return 0, 0, SetupError(c)
	}
	if before != nil {
		if err := before(fd); err != nil {
			return 0, 0, err
		}
	}
	if c := t.Bind(Server, fd, 0); !c.OK() {
		return 0, 0, SetupError(c)
	}
	if c := t.Listen(Server, fd, 16); !c.OK() {
		return 0, 0, SetupError(c)
	}
	port, c = t.Port(Server, fd)
	if !c.OK() {
		return 0, 0, SetupError(c)
	}
	return fd, port, nil
}

// ListenerAndClient sets up a Listener and a fresh, unconnected client
// socket named "client"; nonblock makes the client non-blocking.
func (t *T) ListenerAndClient(nonblock bool) (cfd, port int, err error) {
	if _, port, err = t.Listener(nil); err != nil {
		return 0, 0, err
	}
	c := t.Socket(Client, "client", nonblock)
	if !c.OK() {
		return 0, 0, SetupError(c)
	}
	return c.Fd(), port, nil
}

// Pair sets up a Listener and a connected, accepted pair: cfd is the
// client socket ("client"), sfd the accepted one ("server", with a receive
// timeout), port the listener's port. Its error is a setup error.
func (t *T) Pair() (cfd, sfd, port int, err error) {
	_, port, err = t.Listener(nil)
	if err != nil {
		return 0, 0, 0, err
	}
	c := t.Socket(Client, "client", false)
	if !c.OK() {
		return 0, 0, 0, SetupError(c)
	}
	cfd = c.Fd()
	if c := t.Connect(Client, cfd, port); !c.OK() {
		return 0, 0, 0, SetupError(c)
	}
	a := t.Accept(Server, t.fdOf("listener"), "server")
	if !a.OK() {
		return 0, 0, 0, SetupError(a)
	}
	sfd = a.Fd()
	if c := t.SetTimeout(Server, sfd, unix.SO_RCVTIMEO, WaitLimit); !c.OK() {
		return 0, 0, 0, SetupError(c)
	}
	return cfd, sfd, port, nil
}

// fdOf returns the descriptor with this symbolic name, or -1.
func (t *T) fdOf(name string) int {
	for fd, n := range t.names {
		if n == name {
			return fd
		}
	}
	return -1
}

// errStop ends a case early because a step's outcome makes the rest moot
// (a missing option, say); the steps so far are the outcome.
var errStop = errors.New("case stopped by its outcome")

// errSYNACKNotSeen means the raw observer missed the handshake.
var errSYNACKNotSeen = errors.New("setup: the raw socket saw no SYN-ACK for the connection")
