// Package sshserver is the guest's minimal SSH server: exec requests and a
// compressed-upload built-in, for one authorised key; no shell, no passwords.
package sshserver

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// Version is the identification string the server sends; clients use it to
// know that the guest speaks the built-ins below.
const Version = "SSH-2.0-runmatrix-init"

// Built-in commands understood in exec requests.
const (
	// CmdPut ("rmx-put PATH MODE [SRC]") writes the gzip stream on stdin,
	// or in the file SRC (then removed), to PATH.
	CmdPut = "rmx-put"
	// CmdAppend ("rmx-append PATH") appends stdin to PATH: uploads over a
	// serial line go in small pieces, since a tty drops what its reader
	// has not taken once its buffers are full.
	CmdAppend = "rmx-append"
	// CmdPoweroff powers the guest off.
	CmdPoweroff = "rmx-poweroff"
)

// Server serves exec sessions.
type Server struct {
	config   *ssh.ServerConfig
	logf     func(format string, args ...any)
	poweroff func()
}

// New returns a server with the given host key that admits only the authorised key.
func New(hostKey ssh.Signer, authorized ssh.PublicKey, logf func(string, ...any), poweroff func()) *Server {
	want := authorized.Marshal()
	cfg := &ssh.ServerConfig{
		ServerVersion: Version,
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), want) {
				return nil, nil
			}
			return nil, errors.New("key not authorised")
		},
	}
	cfg.AddHostKey(hostKey)
	return &Server{config: cfg, logf: logf, poweroff: poweroff}
}

// Serve accepts connections until the listener fails.
func (s *Server) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go s.ServeConn(c)
	}
}

// ServeConn serves one transport connection until it closes.
func (s *Server) ServeConn(c net.Conn) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.logf("ssh handshake: %v", err)
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := os.Environ()
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ K, V string }
			if ssh.Unmarshal(req.Payload, &kv) == nil {
				env = append(env, kv.K+"="+kv.V)
			}
			req.Reply(true, nil)
		case "exec":
			var p struct{ Cmd string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			code := s.exec(ch, p.Cmd, env)
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			ch.SendRequest("exit-status", false, status)
			return
		default:
			req.Reply(false, nil)
		}
	}
}

func (s *Server) exec(ch ssh.Channel, cmdline string, env []string) int {
	argv := strings.Fields(cmdline)
	if len(argv) == 0 {
		fmt.Fprintln(ch.Stderr(), "empty command")
		return 127
	}
	switch argv[0] {
	case CmdPut:
		if err := put(ch, argv[1:]); err != nil {
			fmt.Fprintf(ch.Stderr(), "%s: %v\n", CmdPut, err)
			return 1
		}
		return 0
	case CmdAppend:
		if err := appendTo(ch, argv[1:]); err != nil {
			fmt.Fprintf(ch.Stderr(), "%s: %v\n", CmdAppend, err)
			return 1
		}
		return 0
	case CmdPoweroff:
		s.poweroff()
		return 0
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	// Not waited for: a client that never closes stdin must not hold the session.
	go func() { io.Copy(stdin, ch); stdin.Close() }()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 1
	}
	return 0
}

func appendTo(r io.Reader, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: rmx-append PATH")
	}
	if err := os.MkdirAll(filepath.Dir(args[0]), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(args[0], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func put(r io.Reader, args []string) error {
	if len(args) == 3 {
		src, err := os.Open(args[2])
		if err != nil {
			return err
		}
		defer os.Remove(args[2])
		defer src.Close()
		r, args = src, args[:2]
	}
	if len(args) != 2 {
		return errors.New("usage: rmx-put PATH MODE [SRC]")
	}
	mode, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		return fmt.Errorf("mode %q: %w", args[1], err)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	path := args[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(mode))
	if err != nil {
		return err
	}
	_, err = io.Copy(f, zr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
