package remote

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/sshserver"
)

// serve runs the guest's SSH server with keys' host key on a loopback listener.
func serve(t *testing.T, keys *Keys) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	srv := sshserver.New(keys.Host, keys.Client.PublicKey(), t.Logf, func() {})
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
			c, err := Dial(ctx, conn, tc.hostKey.Host.PublicKey(), guestKeys.Client)
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

func TestUnauthorisedClientRefused(t *testing.T) {
	guestKeys, err := NewKeys()
	require.NoError(t, err)
	other, err := NewKeys()
	require.NoError(t, err)
	conn, err := net.Dial("tcp", serve(t, guestKeys))
	require.NoError(t, err)
	_, err = Dial(context.Background(), conn, guestKeys.Host.PublicKey(), other.Client)
	require.ErrorContains(t, err, "unable to authenticate")
}

func TestUploadAndExitStatus(t *testing.T) {
	ctx := context.Background()
	c := dialTestServer(t)
	dst := t.TempDir() + "/sub/true-copy"
	require.NoError(t, c.Upload(ctx, "/bin/true", dst, 0o755))
	_, err := c.Run(ctx, dst, nil)
	require.NoError(t, err)
	_, err = c.Run(ctx, "/bin/false", nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.Status)
}

// TestChunkedUpload uploads in pieces, as over a serial line, and gets the
// file back byte for byte, with no piece left behind.
func TestChunkedUpload(t *testing.T) {
	ctx := context.Background()
	c := dialTestServer(t)
	c.Chunk = 1000
	want, err := os.ReadFile("/bin/true")
	require.NoError(t, err)
	dir := t.TempDir()
	dst := dir + "/sub/true-copy"
	require.NoError(t, c.Upload(ctx, "/bin/true", dst, 0o755))
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, want, got)
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	left, err := filepath.Glob(dir + "/sub/*.part")
	require.NoError(t, err)
	require.Empty(t, left)
	_, err = c.Run(ctx, dst, nil)
	require.NoError(t, err)
}

// dialTestServer starts the guest's SSH server on loopback and connects to it.
func dialTestServer(t *testing.T) *Client {
	t.Helper()
	keys, err := NewKeys()
	require.NoError(t, err)
	conn, err := net.Dial("tcp", serve(t, keys))
	require.NoError(t, err)
	c, err := Dial(context.Background(), conn, keys.Host.PublicKey(), keys.Client)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
