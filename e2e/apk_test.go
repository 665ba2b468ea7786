package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestAPKKernel serves Alpine's layout (v3.18/main/x86_64/APKINDEX.tar.gz
// and the .apk) holding the real Debian 6.12 kernel and its NIC modules as
// linux-lts, index and package signed by a test RSA key given with
// --keyring, and boots it: the signature, control checksum and data hash
// chain is checked and the data extracted in-process.
func TestAPKKernel(t *testing.T) {
	k := resolve(t, "debian:6.12")
	img, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	rel := k.Image.Release
	files := modulesTree(t, k, "")
	files["boot/vmlinuz-lts"] = img
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	const keyName = "runmatrix-e2e-0001.rsa.pub"
	repo, err := archivetest.APKRepo(key, keyName, archivetest.APK{Name: "linux-lts", Version: "6.12.1-r0", Arch: "x86_64", Files: files})
	require.NoError(t, err)
	mirror := map[string][]byte{}
	for p, b := range repo {
		mirror["v3.18/main/x86_64/"+p] = b
	}
	srv := httptest.NewServer(&archivetest.Mirror{Files: mirror})
	defer srv.Close()
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pub := filepath.Join(dir, keyName)
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))

	stdout, stderr, code := runmatrix(t, 10*time.Minute, "probe", "--json", "--mirror", "alpine="+srv.URL, "--keyring", keyName+"="+pub,
		"--cache-dir", filepath.Join(dir, "cache"), "alpine:3.18")
	require.Equal(t, 0, code, stderr)
	var probes []probeResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &probes))
	require.Len(t, probes, 1)
	require.Equal(t, rel, probes[0].Release)
	require.Equal(t, "net", probes[0].Transport, "the NIC modules came from the package")

	// Alpine's own keys do not vouch for it.
	stdout, stderr, code = runmatrix(t, 2*time.Minute, "probe", "--mirror", "alpine="+srv.URL, "--cache-dir", filepath.Join(dir, "cache2"), "alpine:3.18")
	require.NotEqual(t, 0, code)
	require.Contains(t, stdout+stderr, "runmatrix-e2e-0001.rsa.pub (not Alpine's)")
}
