// Package sshserver is the guest's minimal SSH server: exec requests and a
// compressed-upload built-in, for one authorised key or one per-guest
// secret; no shell.
package sshserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// The identification string and built-in commands are the boot protocol's.
const (
	Version     = bootproto.SSHVersion
	CmdPoweroff = bootproto.CmdPoweroff
)

// urandom reads /dev/urandom, which never blocks, on any kernel.
//
// The SSH server needs randomness for every handshake. Go's crypto/rand
// calls getrandom(2), which on Linux 3.17 to 5.3 blocks until the kernel's
// crng is initialised, and an idle emulated guest may not credit enough
// entropy for that in minutes ("crypto/rand: blocked for 60 seconds"). Before
// 3.17 there is no getrandom, and from 5.4 the crng initialises at once, so
// only that decade of kernels hangs. /dev/urandom has existed and never
// blocked since 2.6.32; the init has mixed the host's 64-byte seed into the
// pool (RNDADDENTROPY) before the server starts, so the stream is not
// predictable either.
type urandom struct{}

func (urandom) Read(b []byte) (int, error) {
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.ReadFull(f, b)
}

// Server serves exec sessions.
type Server struct {
	config   *ssh.ServerConfig
	logf     func(format string, args ...any)
	poweroff func()
}

// Admit is whom a server lets in: the holder of Key, and a client that
// presents Secret as its password (either may be unset; neither admits
// nobody).
//
// A run's guests admit a Secret: password authentication is one round
// trip and a comparison, where a key costs the guest a second round trip
// and a signature check, right after its restore, when all of that code
// is new to TCG. The secret is fresh for each guest and only sent once
// the client has checked the guest's host key, so no one else learns it.
type Admit struct {
	Key    ssh.PublicKey
	Secret []byte
}

// New returns a server with the given host key that admits only whom admit names.
func New(hostKey ssh.Signer, admit Admit, logf func(string, ...any), poweroff func()) *Server {
	cfg := &ssh.ServerConfig{
		Config:        ssh.Config{Rand: urandom{}},
		ServerVersion: Version,
	}
	if admit.Key != nil {
		want := admit.Key.Marshal()
		cfg.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), want) {
				return nil, nil
			}
			return nil, errors.New("key not authorised")
		}
	}
	if len(admit.Secret) > 0 {
		want := admit.Secret
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if subtle.ConstantTimeCompare(password, want) == 1 {
				return nil, nil
			}
			return nil, errors.New("wrong secret")
		}
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
