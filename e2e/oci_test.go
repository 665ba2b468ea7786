package e2e

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestOCIKernel serves the real Debian 6.12 image and its NIC modules as
// an OCI image laid out as cilium/ci-kernels images are (/boot/vmlinuz,
// /usr/lib/modules), from a local registry that asks for an anonymous
// token as ghcr.io does; runmatrix pulls it by tag, boots it with the
// modules from its layer, runs a case on it, and refuses a missing tag
// in one line.
func TestOCIKernel(t *testing.T) {
	k := resolve(t, "debian:6.12")
	img, err := os.ReadFile(k.Path)
	require.NoError(t, err)
	rel := k.Image.Release
	files := modulesTree(t, k, "usr/")
	files["boot/vmlinuz"] = img
	reg := archivetest.NewRegistry()
	reg.Token = true
	_, err = reg.Push("cilium/ci-kernels", "6.12", archivetest.OCIImage{Arch: "amd64", Files: files})
	require.NoError(t, err)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	ref := "oci:" + strings.TrimPrefix(srv.URL, "http://") + "/cilium/ci-kernels:6.12"
	dir := t.TempDir()
	cache := []string{"--cache-dir", filepath.Join(dir, "cache")}

	stdout, stderr, code := runmatrix(t, 10*time.Minute, append([]string{"probe", "--json", ref}, cache...)...)
	require.Equal(t, 0, code, stderr)
	var probes []probeResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &probes))
	require.Len(t, probes, 1)
	require.Equal(t, rel, probes[0].Release)
	require.Equal(t, "net", probes[0].Transport, "the NIC modules came from the image's layer")

	out := filepath.Join(dir, "run")
	_, stderr, code = runmatrix(t, 10*time.Minute, append([]string{"run", "--kernel", ref, "--case", "linger0.reset", "--profile", "default", "--out", out, "--format", "none", "--accel", "tcg"}, cache...)...)
	require.Equal(t, 0, code, stderr)
	b, err := os.ReadFile(filepath.Join(out, "results.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(b), `"summary":"recv=-1 ECONNRESET send=-1 EPIPE +SIGPIPE"`)
	require.Contains(t, string(b), `"url":"oci:`+strings.TrimPrefix(srv.URL, "http://")+`/cilium/ci-kernels@sha256:`, "the run records the digest it pulled")

	_, stderr, code = runmatrix(t, time.Minute, append([]string{"probe", strings.Replace(ref, ":6.12", ":9.9", 1)}, cache...)...)
	require.Equal(t, 2, code, stderr)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, stderr)
	require.Contains(t, stderr, "cilium/ci-kernels:9.9: not found in the registry")
}
