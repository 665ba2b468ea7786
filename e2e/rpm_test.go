package e2e

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestRPMKernels serves two CentOS 6 releases laid out as
// vault.centos.org is (RELEASE/os/x86_64/repodata, Packages), each with a
// kernel RPM signed as CentOS 6's were (version 3 RSA signature over
// header and payload) by a test key given with --keyring in place of
// CentOS's, holding a real Debian kernel (6.1 for "6.5", 6.12 for "6.6")
// and its NIC modules, and asks the seed's question as one command:
// run --kernel centos:6.5 --kernel centos:6.6 --case reconnect.syn-in-window.
func TestRPMKernels(t *testing.T) {
	key, err := openpgp.NewEntity("CentOS 6 stand-in", "", "e2e@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	require.NoError(t, err)
	mirror := map[string][]byte{}
	for _, tc := range []struct{ debian, release, rpmRelease string }{
		{"debian:6.1", "6.5", "431.el6"},
		{"debian:6.12", "6.6", "504.el6"},
	} {
		k := resolve(t, tc.debian)
		img, err := os.ReadFile(k.Path)
		require.NoError(t, err)
		rel := k.Image.Release
		files := modulesTree(t, k, "")
		files["boot/vmlinuz-"+rel] = img
		version := strings.SplitN(rel, "-", 2)[0]
		version = strings.SplitN(version, "+", 2)[0]
		repo, err := archivetest.YumRepo{Packages: []archivetest.RPM{{Name: "kernel", Version: version, Release: tc.rpmRelease, Arch: "x86_64", Files: files, Key: key, V3: true}}}.Files()
		require.NoError(t, err)
		for p, b := range repo {
			mirror[tc.release+"/os/x86_64/"+p] = b
		}
	}
	srv := httptest.NewServer(&archivetest.Mirror{Files: mirror})
	defer srv.Close()
	dir := t.TempDir()
	keyring := filepath.Join(dir, "centos-6.asc")
	var kr bytes.Buffer
	w, err := armor.Encode(&kr, openpgp.PublicKeyType, nil)
	require.NoError(t, err)
	require.NoError(t, key.Serialize(w))
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(keyring, kr.Bytes(), 0o644))
	flags := []string{"--mirror", "centos=" + srv.URL, "--keyring", "centos-6=" + keyring, "--cache-dir", filepath.Join(dir, "cache")}

	out := filepath.Join(dir, "run")
	stdout, stderr, code := runmatrix(t, 15*time.Minute, append([]string{"run", "--kernel", "centos:6.5", "--kernel", "centos:6.6", "--case", "reconnect.syn-in-window",
		"--profile", "default", "--out", out, "--accel", "tcg"}, flags...)...)
	require.Equal(t, 0, code, stderr)
	table, err := os.ReadFile(filepath.Join(out, "table.txt"))
	require.NoError(t, err)
	t.Logf("%s\n%s", stdout, table)
	require.Contains(t, string(table), "CentOS 6.5")
	require.Contains(t, string(table), "CentOS 6.6")
	require.Contains(t, string(table), "replies=1 ACK", "both kernels ran the case")
	b, err := os.ReadFile(filepath.Join(out, "results.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(b), `"package":"kernel","package_version":"6.1`)
	require.Contains(t, string(b), `"suite":"CentOS 6.6"`)

	// Without the stand-in key the packages are CentOS's only in name.
	stdout, stderr, code = runmatrix(t, 2*time.Minute, "probe", "--mirror", "centos="+srv.URL, "--cache-dir", filepath.Join(dir, "cache2"), "centos:6.5")
	require.NotEqual(t, 0, code)
	require.Contains(t, stdout+stderr, "which is not the distribution's")
}
