package e2e

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestMainlineBuilds serves the Ubuntu mainline layout (v6.1 flat with
// everything in the image package, v6.12 per-arch with a separate modules
// package, CHECKSUMS signed by a key the test makes) holding the real
// Debian 6.1 and 6.12 images and their NIC modules (and 6.12's arm64
// image as an Image.gz, as Ubuntu ships it), then lists it, probes and
// bisects a range over it: mainline references resolve, verify, boot with
// the modules their packages carry, and form one lineage.
func TestMainlineBuilds(t *testing.T) {
	key, err := openpgp.NewEntity("runmatrix e2e mainline", "", "e2e@example.invalid", nil)
	require.NoError(t, err)
	files := map[string][]byte{"": archivetest.MainlineIndex("v5.19", "v6.1", "v6.12", "v6.13-rc1")}
	for _, tc := range []struct {
		ref, tag, abi, arch string
		perArch             bool
	}{
		{"debian:6.1", "v6.1", "6.1.0-060100", "", false},
		{"debian:6.12", "v6.12", "6.12.0-061200", "", true},
		// Ubuntu ships arm64 kernels as Image.gz.
		{"debian:6.12/arm64", "v6.12", "6.12.0-061200", "arm64", true},
	} {
		k := resolve(t, tc.ref)
		img, err := os.ReadFile(k.Path)
		require.NoError(t, err)
		if tc.arch == "arm64" {
			img = archivetest.Gzip(img)
		}
		rel := k.Image.Release
		modFiles := modulesTree(t, k, "./")
		tag := archivetest.MainlineTag{Tag: tc.tag, ABI: tc.abi, Stamp: "202212112330", PerArch: tc.perArch, Arch: tc.arch,
			Image: map[string][]byte{"./boot/vmlinuz-" + rel: img}}
		if tc.perArch {
			tag.Modules = modFiles
		} else {
			for p, b := range modFiles {
				tag.Image[p] = b
			}
		}
		got, err := tag.Files(key)
		require.NoError(t, err)
		for p, b := range got {
			files[p] = b
		}
	}
	srv := httptest.NewServer(&archivetest.Mirror{Files: files})
	defer srv.Close()
	dir := t.TempDir()
	keyring := writeKeyring(t, filepath.Join(dir, "kernel-ppa.gpg"), key)
	flags := []string{"--mainline-url", srv.URL, "--mainline-keyring", keyring, "--cache-dir", filepath.Join(dir, "cache")}

	stdout, stderr, code := runmatrix(t, time.Minute, append([]string{"kernels", "list", "mainline:v6"}, flags...)...)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 4, stdout) // header, v6.13-rc1, v6.12, v6.1: newest first
	require.True(t, strings.HasPrefix(lines[1], "mainline:v6.13-rc1 "), stdout)
	require.True(t, strings.HasPrefix(lines[3], "mainline:v6.1 "), stdout)

	stdout, stderr, code = runmatrix(t, 10*time.Minute, append([]string{"probe", "--json", "mainline:v6.1..v6.12"}, flags...)...)
	require.Equal(t, 0, code, stderr)
	var probes []probeResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &probes))
	require.Len(t, probes, 2, "the range names v6.1 and v6.12, not the release candidate")
	for i, want := range []string{"debian:6.1", "debian:6.12"} {
		require.Equal(t, resolve(t, want).Image.Release, probes[i].Release)
		require.Equal(t, "net", probes[i].Transport, "the NIC modules came from the mainline packages")
		require.Equal(t, "virtio_net", probes[i].Driver)
	}

	// arm64 from the same tag: its Image.gz is unwrapped, and the guest
	// boots under qemu-system-aarch64 with the tag's arm64 modules.
	stdout, stderr, code = runmatrix(t, 10*time.Minute, append([]string{"probe", "--json", "mainline:v6.12/arm64"}, flags...)...)
	require.Equal(t, 0, code, stderr)
	probes = nil
	require.NoError(t, json.Unmarshal([]byte(stdout), &probes))
	require.Len(t, probes, 1)
	require.Equal(t, resolve(t, "debian:6.12/arm64").Image.Release, probes[0].Release)
	require.Equal(t, "aarch64", probes[0].Machine)
	require.Equal(t, "net", probes[0].Transport, "the NIC modules came from the arm64 package")

	stdout, stderr, code = runmatrix(t, 10*time.Minute, append([]string{"bisect", "--case", "linger0.reset", "--kernel", "mainline:v6.1..v6.12", "--out", filepath.Join(dir, "bisect")}, flags...)...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "x86_64, all 2 kernels in version order (mainline): 6.1.0 mainline, 6.12.")
	require.Contains(t, stdout, "no change found")
}

// writeKeyring writes key's public part to path, as a binary keyring
// (the Kernel PPA's form), and returns path.
func writeKeyring(t *testing.T, path string, key *openpgp.Entity) string {
	t.Helper()
	var kr bytes.Buffer
	require.NoError(t, key.Serialize(&kr))
	require.NoError(t, os.WriteFile(path, kr.Bytes(), 0o644))
	return path
}
