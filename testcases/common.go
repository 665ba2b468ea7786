package testcases

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Sides of a case, as shown in traces.
const (
	client = "client"
	server = "server"
)

// waitLimit bounds every blocking call a case makes, so a kernel that never
// answers shows as EAGAIN after it instead of a hang.
const waitLimit = 3 * time.Second

// setupError is a harness failure: a call every kernel must allow failed.
func setupError(c *Call) error {
	s := c.step()
	return fmt.Errorf("setup %s on %s: %s", s.Call, s.Fd, s.Errno)
}

// listen creates a listener named "listener" on the case address with a
// receive timeout (which bounds accept), runs before on it ahead of bind
// (for options such as TCP_DEFER_ACCEPT), and returns it with its port.
func (t *T) listen(before func(fd int) error) (fd, port int, err error) {
	c := t.Socket(server, "listener", false)
	if !c.OK() {
		return 0, 0, setupError(c)
	}
	fd = c.Fd()
	if c := t.SetsockoptInt(server, fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); !c.OK() {
		return 0, 0, setupError(c)
	}
	if c := t.SetTimeout(server, fd, unix.SO_RCVTIMEO, waitLimit); !c.OK() {
		return 0, 0, setupError(c)
	}
	if before != nil {
		if err := before(fd); err != nil {
			return 0, 0, err
		}
	}
	if c := t.Bind(server, fd, 0); !c.OK() {
		return 0, 0, setupError(c)
	}
	if c := t.Listen(server, fd, 16); !c.OK() {
		return 0, 0, setupError(c)
	}
	port, c = t.Port(server, fd)
	if !c.OK() {
		return 0, 0, setupError(c)
	}
	return fd, port, nil
}

// listenerAndClient sets up a listener and a fresh, unconnected client
// socket named "client".
func (t *T) listenerAndClient(nonblock bool) (cfd, port int, err error) {
	if _, port, err = t.listen(nil); err != nil {
		return 0, 0, err
	}
	c := t.Socket(client, "client", nonblock)
	if !c.OK() {
		return 0, 0, setupError(c)
	}
	return c.Fd(), port, nil
}

// pair sets up a listener and a connected, accepted client/server pair;
// the server socket has a receive timeout.
func (t *T) pair() (cfd, sfd, port int, err error) {
	_, port, err = t.listen(nil)
	if err != nil {
		return 0, 0, 0, err
	}
	c := t.Socket(client, "client", false)
	if !c.OK() {
		return 0, 0, 0, setupError(c)
	}
	cfd = c.Fd()
	if c := t.Connect(client, cfd, port); !c.OK() {
		return 0, 0, 0, setupError(c)
	}
	a := t.Accept(server, t.fdOf("listener"), "server")
	if !a.OK() {
		return 0, 0, 0, setupError(a)
	}
	sfd = a.Fd()
	if c := t.SetTimeout(server, sfd, unix.SO_RCVTIMEO, waitLimit); !c.OK() {
		return 0, 0, 0, setupError(c)
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
