package remote

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/runmatrix/runmatrix/internal/inguest/sshserver"
)

// testSecret is the password the test server admits besides the client key.
const testSecret = "a guest's own secret, 32 bytes!!"

// serve runs the guest's SSH server with keys' host key on a loopback listener.
func serve(t *testing.T, keys *Keys) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	// The server's goroutines may still log as the test ends (a handshake
	// the test gave up on): after that, their lines are dropped.
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
	srv := sshserver.New(keys.Host, sshserver.Admit{Key: keys.Client.PublicKey(), Secret: []byte(testSecret)}, logf, func() {})
	go srv.Serve(l)
	return l.Addr().String()
}

func TestHostKeyPinned(t *testing.T) {
	guestKeys, err := NewKeys()
	require.NoError(t, err)
	other, err := NewKeys()
	require.NoError(t, err)
	addr := serve(t, guestKeys)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name    string
		hostKey *Keys
		wantErr string
	}{
		{"expected host key", guestKeys, ""},
		{"different host key", other, "host key mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			c, err := Dial(ctx, conn, tc.hostKey.Host.PublicKey(), ssh.PublicKeys(guestKeys.Client))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			out, err := c.Run(ctx, "echo pinned", nil)
			require.NoError(t, err)
			require.Equal(t, "pinned\n", string(out))
		})
	}
}

// TestAdmission: the guest admits its client key and its secret, and
// nothing else.
func TestAdmission(t *testing.T) {
	guestKeys, err := NewKeys()
	require.NoError(t, err)
	other, err := NewKeys()
	require.NoError(t, err)
	addr := serve(t, guestKeys)
	for _, tc := range []struct {
		name string
		auth ssh.AuthMethod
		ok   bool
	}{
		{"its client key", ssh.PublicKeys(guestKeys.Client), true},
		{"another key", ssh.PublicKeys(other.Client), false},
		{"its secret", ssh.Password(testSecret), true},
		{"another secret", ssh.Password("a guest's own secret, 32 bytes!?"), false},
		{"a prefix of its secret", ssh.Password(testSecret[:16]), false},
		{"an empty password", ssh.Password(""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			c, err := Dial(context.Background(), conn, guestKeys.Host.PublicKey(), tc.auth)
			if !tc.ok {
				require.ErrorContains(t, err, "unable to authenticate")
				return
			}
			require.NoError(t, err)
			c.Close()
		})
	}
}

func dialTestServer(t *testing.T) *Client {
	t.Helper()
	keys, err := NewKeys()
	require.NoError(t, err)
	conn, err := net.Dial("tcp", serve(t, keys))
	require.NoError(t, err)
	c, err := Dial(context.Background(), conn, keys.Host.PublicKey(), ssh.Password(testSecret))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExitStatus(t *testing.T) {
	ctx := context.Background()
	c := dialTestServer(t)
	_, err := c.Run(ctx, "/bin/true", nil)
	require.NoError(t, err)
	_, err = c.Run(ctx, "/bin/false", nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.Status)
}

// noisyConn is the host end of a line that delivers junk before (and in
// pieces around) the guest's banner, like a serial port: a stray 0xff, a
// burst of console noise, and then a slow line (one byte per read).
type noisyConn struct {
	net.Conn
	junk []byte
	slow bool
}

func (c *noisyConn) Read(b []byte) (int, error) {
	if len(c.junk) > 0 {
		n := copy(b, c.junk[:min(len(c.junk), 7)])
		c.junk = c.junk[n:]
		return n, nil
	}
	if c.slow && len(b) > 1 {
		b = b[:1]
	}
	return c.Conn.Read(b)
}

// TestNoisyLine: junk before the banner is skipped and a session follows;
// junk after the banner is never taken for protocol.
func TestNoisyLine(t *testing.T) {
	keys, err := NewKeys()
	require.NoError(t, err)
	addr := serve(t, keys)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	noise := append([]byte{0xff}, []byte("\r\n[    4.2] random: crng init done\r\nSSH\xff-2.0- not yet\x00\xff")...)
	for _, slow := range []bool{false, true} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c, err := Dial(ctx, &noisyConn{Conn: conn, junk: append([]byte(nil), noise...), slow: slow}, keys.Host.PublicKey(), ssh.PublicKeys(keys.Client))
		require.NoError(t, err, "slow=%v", slow)
		out, err := c.Run(ctx, "echo through the noise", nil)
		require.NoError(t, err)
		require.Equal(t, "through the noise\n", string(out))
		c.Close()
	}

	// Garbage after the banner fails the handshake.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = Dial(ctx, &garbledConn{Conn: conn}, keys.Host.PublicKey(), ssh.PublicKeys(keys.Client))
	require.Error(t, err)
}

// garbledConn flips bytes once the banner has passed.
type garbledConn struct {
	net.Conn
	seen int
}

func (c *garbledConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	for i := 0; i < n; i++ {
		c.seen++
		if c.seen > 40 && c.seen%7 == 0 {
			b[i] ^= 0x55
		}
	}
	return n, err
}

// TestOutputFloodBounded: a guest command that floods stdout or stderr
// (100 MB each) leaves the runner holding at most the caps, and says what
// it cut.
func TestOutputFloodBounded(t *testing.T) {
	ctx := context.Background()
	c := dialTestServer(t)
	_, err := c.Run(ctx, "head -c 100000000 /dev/zero", nil)
	require.ErrorContains(t, err, "printed more than 16 MiB, which the runner does not keep")
	script := filepath.Join(t.TempDir(), "flood.sh")
	require.NoError(t, os.WriteFile(script, []byte("head -c 100000000 /dev/zero >&2; exit 3\n"), 0o755))
	_, err = c.Run(ctx, "sh "+script, nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.Status)
	require.Contains(t, ee.Stderr, "[output cut: 99934464 more bytes]")
	require.Less(t, len(ee.Stderr), MaxStderr+64)
}
