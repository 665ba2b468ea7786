package sshserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestRandomnessNeverBlocks: the server must take its randomness from
// /dev/urandom, never from crypto/rand, whose getrandom(2) blocks for
// minutes on Linux 3.17–5.3 guests before their crng is initialised.
func TestRandomnessNeverBlocks(t *testing.T) {
	host, client := signer(t), signer(t)
	srv := New(host, Admit{Key: client.PublicKey()}, t.Logf, func() {})
	require.IsType(t, urandom{}, srv.config.Rand, "the server's randomness is /dev/urandom")
	require.NotEqual(t, rand.Reader, srv.config.Rand)

	// And a handshake works with it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go srv.Serve(l)
	b, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		c, chans, reqs, err := ssh.NewClientConn(b, "guest", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(client)},
			HostKeyCallback: ssh.FixedHostKey(host.PublicKey())})
		if err == nil {
			ssh.NewClient(c, chans, reqs).Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("handshake did not finish")
	}
	buf := make([]byte, 64)
	n, err := urandom{}.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 64, n)
}

// TestAdmitNobody: a server given neither a key nor a secret lets no one in.
func TestAdmitNobody(t *testing.T) {
	host, client := signer(t), signer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go New(host, Admit{}, t.Logf, func() {}).Serve(l)
	for _, auth := range []ssh.AuthMethod{ssh.PublicKeys(client), ssh.Password(""), ssh.Password("anything")} {
		b, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		_, _, _, err = ssh.NewClientConn(b, "guest", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{auth},
			HostKeyCallback: ssh.FixedHostKey(host.PublicKey()), Timeout: 30 * time.Second})
		require.Error(t, err) // x/crypto/ssh ends the handshake: no method configured
		b.Close()
	}
}

// signer is a fresh ed25519 SSH key.
func signer(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}
