// Package remote is the runner's SSH client to a guest: pinned host key,
// the guest's secret (or a client key), command execution and compressed
// uploads.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Keys are SSH keys of a run: a guest's host key and the runner's client
// key, each with the bytes a guest is handed (ed25519 seed and public
// key: 32 bytes each, so the run line stays short on a serial port).
type Keys struct {
	Host     ssh.Signer
	HostSeed []byte
	Client   ssh.Signer
	// ClientPub is the client's ed25519 public key.
	ClientPub []byte
	// ClientPEM is the client's private key in OpenSSH form, for a key
	// handed to a person (an evidence bundle's); runs never write it.
	ClientPEM []byte
}

// NewKeys generates fresh ed25519 host and client keys.
func NewKeys() (*Keys, error) {
	host, hseed, err := NewHostKey()
	if err != nil {
		return nil, err
	}
	cpub, cpriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	client, err := ssh.NewSignerFromKey(cpriv)
	if err != nil {
		return nil, err
	}
	cblock, err := ssh.MarshalPrivateKey(cpriv, "runmatrix guest client key")
	if err != nil {
		return nil, err
	}
	return &Keys{Host: host, HostSeed: hseed, Client: client, ClientPub: cpub, ClientPEM: pemEncode(cblock)}, nil
}

// NewHostKey generates a fresh ed25519 host key for one guest: its signer
// (whose public key the client pins) and its seed for the guest.
func NewHostKey() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return signer, priv.Seed(), nil
}

// Client is an SSH connection to one guest.
type Client struct {
	c *ssh.Client
}

// Dial runs the SSH handshake over conn, accepting only hostKey, and
// authenticates with auth (ssh.Password with a guest's secret, or
// ssh.PublicKeys).
func Dial(ctx context.Context, conn net.Conn, hostKey ssh.PublicKey, auth ssh.AuthMethod) (*Client, error) {
	cfg := &ssh.ClientConfig{
		// Guests are emulated (TCG) and old: plain X25519 and ChaCha20 cost
		// them far less CPU than the hybrid post-quantum exchange and the
		// software AES an emulated CPU without AES-NI would otherwise get.
		Config: ssh.Config{
			KeyExchanges: []string{"curve25519-sha256"},
			Ciphers:      []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"},
		},
		User:            "root",
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	}
	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewClientConn(syncBanner(conn), "guest", cfg)
		if err != nil {
			done <- result{nil, err}
			return
		}
		c := ssh.NewClient(sc, chans, reqs)
		done <- result{&Client{c: c}, nil}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			conn.Close()
			return nil, fmt.Errorf("ssh handshake: %w", r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("ssh handshake: %w", ctx.Err())
	}
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// ExitError is a command that ran and exited non-zero.
type ExitError struct {
	Status int
	Stderr string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("exit status %d: %s", e.Status, strings.TrimSpace(e.Stderr))
}

// Bounds on what the runner keeps of a guest command's output: Run's
// stdout, and the stderr an *ExitError carries. Nothing a guest sends is
// held without limit.
const (
	MaxOutput = 16 << 20
	MaxStderr = 64 << 10
)

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	b   bytes.Buffer
	max int
	cut int64
}

func (c *capped) Write(p []byte) (int, error) {
	keep := min(len(p), max(0, c.max-c.b.Len()))
	c.b.Write(p[:keep])
	c.cut += int64(len(p) - keep)
	return len(p), nil
}

// String is what was kept, with a note of what was cut.
func (c *capped) String() string {
	if c.cut == 0 {
		return c.b.String()
	}
	return fmt.Sprintf("%s [output cut: %d more bytes]", c.b.String(), c.cut)
}

// Run runs cmd with stdin and returns its stdout; a non-zero exit is an
// *ExitError, and stdout of more than MaxOutput bytes an error.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) ([]byte, error) {
	stdout := &capped{max: MaxOutput}
	err := c.Stream(ctx, cmd, stdin, stdout)
	if err == nil && stdout.cut > 0 {
		return nil, fmt.Errorf("%s: printed more than %d MiB, which the runner does not keep", cmd, MaxOutput>>20)
	}
	return stdout.b.Bytes(), err
}

// Stream runs cmd with stdin, writing its stdout to w as it arrives; a
// non-zero exit is an *ExitError. w is not written after Stream returns.
func (c *Client) Stream(ctx context.Context, cmd string, stdin io.Reader, w io.Writer) error {
	s, err := c.c.NewSession()
	if err != nil {
		return fmt.Errorf("ssh session: %w", err)
	}
	defer s.Close()
	stderr := &capped{max: MaxStderr}
	s.Stdout, s.Stderr = w, stderr
	if stdin != nil {
		s.Stdin = stdin
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Closing only the session waits for the guest to confirm, which a
		// frozen guest never does: drop the whole connection instead.
		c.c.Close()
		<-done // w is quiet after this
		return fmt.Errorf("%s: %w", cmd, ctx.Err())
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Status: ee.ExitStatus(), Stderr: stderr.String()}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// maxNoise bounds the bytes skipped before the guest's banner.
const maxNoise = 64 << 10

// bannerConn drops whatever the line carries before the guest's SSH
// identification ("SSH-"): a serial line may deliver a stray byte (RHEL 6's
// ttyS1 sends 0xff) or console noise first. Only bytes before the banner
// are skipped; anything after it is protocol, and garbage there fails the
// handshake rather than being taken for protocol.
type bannerConn struct {
	net.Conn
	r      *bufio.Reader
	synced bool
}

func syncBanner(c net.Conn) net.Conn { return &bannerConn{Conn: c, r: bufio.NewReader(c)} }

func (c *bannerConn) Read(b []byte) (int, error) {
	if !c.synced {
		for skipped := 0; ; skipped++ {
			if skipped > maxNoise {
				return 0, fmt.Errorf("no SSH banner in the first %d bytes from the guest", maxNoise)
			}
			head, err := c.r.Peek(4)
			if err != nil {
				return 0, err
			}
			if string(head) == "SSH-" {
				break
			}
			c.r.Discard(1)
		}
		c.synced = true
	}
	return c.r.Read(b)
}
