// Package e2e boots real kernels under real QEMU through the runmatrix CLI.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

var binary string

func TestMain(m *testing.M) {
	// End-to-end tests boot real kernels: on a machine without QEMU,
	// `go test ./...` stays quick and green, saying why these did not run;
	// make e2e (RUNMATRIX_E2E=1) insists on them.
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil && os.Getenv("RUNMATRIX_E2E") == "" {
		fmt.Println("e2e: skipped, no qemu-system-x86_64 in PATH (make e2e installs it and runs them)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "runmatrix-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "runmatrix")
	if out, err := exec.Command("go", "build", "-o", binary, "../cmd/runmatrix").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build runmatrix: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// No QEMU may outlive the runs that started it.
	if out, err := exec.Command("pgrep", "-af", "qemu-system-x86_64.*runmatrix-guest-").Output(); err == nil && len(out) > 0 {
		fmt.Fprintf(os.Stderr, "QEMU processes left behind:\n%s", out)
		code = 1
	}
	os.Exit(code)
}

type probeResult struct {
	Ref, Release, Machine, Transport, Driver, Accel, Error string
	ReadySeconds                                           float64 `json:"ready_seconds"`
	ImageRelease                                           string  `json:"image_release"`
}

// runmatrix runs the CLI with a deadline and returns stdout, stderr and the exit status.
func runmatrix(t *testing.T, timeout time.Duration, args ...string) (string, string, int) {
	t.Helper()
	return runmatrixEnv(t, timeout, nil, args...)
}

// runmatrixEnv is runmatrix with env added to the environment.
func runmatrixEnv(t *testing.T, timeout time.Duration, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "runmatrix %v did not finish within %s; stderr:\n%s", args, timeout, stderr.String())
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return stdout.String(), stderr.String(), code
}

func resolve(t *testing.T, ref string) *kernels.Kernel {
	t.Helper()
	dir, err := store.DefaultCacheDir()
	require.NoError(t, err)
	k, err := (&kernels.Resolver{Cache: store.Cache{Dir: dir}}).Resolve(context.Background(), ref)
	require.NoError(t, err)
	return k
}

// TestProbeDebian boots both Debian kernels and checks that the release the
// agent reports from inside the guest is the one written in the image.
func TestProbeDebian(t *testing.T) {
	refs := []string{"debian:6.1", "debian:6.12"}
	stdout, stderr, code := runmatrix(t, 15*time.Minute, append([]string{"probe", "--json"}, refs...)...)
	t.Logf("stderr:\n%s\nstdout:\n%s", stderr, stdout)
	require.Equal(t, 0, code)
	var results []probeResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &results))
	require.Len(t, results, len(refs))
	for i, r := range results {
		k := resolve(t, refs[i])
		require.Equal(t, refs[i], r.Ref)
		require.Empty(t, r.Error)
		require.Equal(t, k.Image.Release, r.Release, "uname -r in the guest vs the image's version string")
		require.Equal(t, cpu.X86_64, r.Machine)
		require.Equal(t, "net", r.Transport)
		require.Contains(t, []string{"kvm", "tcg"}, r.Accel)
		require.Greater(t, r.ReadySeconds, 0.0)
	}
}

// TestBadInput checks each bad kernel is refused with its one-line reason,
// fast: input that is wrong as given exits 2; a download that broke off
// (worth trying again) is that kernel's error in the table, exit 1.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notKernel := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notKernel, []byte("not a kernel\n"), 0o644))
	real, err := os.ReadFile(resolve(t, "debian:6.1").Path)
	require.NoError(t, err)
	truncated := filepath.Join(dir, "vmlinuz-half")
	require.NoError(t, os.WriteFile(truncated, real[:len(real)/2], 0o644))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bzImage":
			w.Write(real)
		case "/short":
			w.Header().Set("Content-Length", fmt.Sprint(len(real)))
			w.Write(real[:1000])
		}
	}))
	defer srv.Close()
	sum := sha256.Sum256(real)
	wrong := strings.Repeat("0", 64)
	cache := t.TempDir() // a cold cache, so URLs are really downloaded

	for _, tc := range []struct {
		name     string
		ref      string
		wantCode int
		wantMsg  string
	}{
		{"not a kernel", notKernel, 2, "not a Linux boot image runmatrix knows"},
		{"truncated image", truncated, 2, "truncated image"},
		{"checksum mismatch", srv.URL + "/bzImage#sha256=" + wrong, 2, "checksum mismatch"},
		{"truncated download", srv.URL + "/short#sha256=" + hex.EncodeToString(sum[:]), 1, "download truncated"},
		{"URL without digest", srv.URL + "/bzImage", 2, "#sha256="},
		{"missing file", filepath.Join(dir, "nope"), 2, "no such file"},
		{"bad series", "debian:6", 2, "want debian:SERIES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runmatrix(t, 60*time.Second, "probe", "--json", "--accel", "tcg", "--cache-dir", cache, tc.ref)
			require.Equal(t, tc.wantCode, code, "stdout=%s stderr=%s", stdout, stderr)
			msg := stderr
			if tc.wantCode == 1 {
				var rs []probeResult
				require.NoError(t, json.Unmarshal([]byte(stdout), &rs))
				require.Len(t, rs, 1)
				msg = rs[0].Error
			}
			if tc.wantCode == 2 {
				// Progress lines (a download) may come first; the error is one line.
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				msg = lines[len(lines)-1]
				require.Equal(t, 1, strings.Count(stderr, "runmatrix: "), "one error line: %s", stderr)
			}
			require.Contains(t, msg, tc.wantMsg)
			require.NotContains(t, strings.TrimSuffix(msg, "\n"), "\n", "one line")
			require.NotContains(t, stderr, "goroutine", "no stack trace")
		})
	}
}

// TestPanicReported boots a kernel whose init is missing: the panic must be
// reported in that kernel's result, with console lines, well before the deadline.
func TestPanicReported(t *testing.T) {
	start := time.Now()
	stdout, _, code := runmatrix(t, 5*time.Minute, "probe", "--json", "--accel", "tcg",
		"--append", "rdinit=/no-such-init", "--boot-timeout", "4m", "debian:6.1")
	require.Equal(t, 1, code)
	var rs []struct {
		Error   string
		Console []string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rs))
	require.Len(t, rs, 1)
	require.Contains(t, rs[0].Error, "Kernel panic")
	require.NotEmpty(t, rs[0].Console)
	require.Less(t, time.Since(start), 4*time.Minute, "reported on the panic, not at the deadline")
}

// TestNoHostPackageManager resolves and boots debian:6.12 into an empty
// cache with apt, apt-get, apt-cache and dpkg absent from PATH: runmatrix
// reads Debian's archive itself, so it works on any Linux host.
func TestNoHostPackageManager(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"qemu-system-x86_64", "go", "xz", "zstd"} {
		p, err := exec.LookPath(tool)
		require.NoError(t, err, tool)
		require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
	}
	t.Setenv("PATH", bin)
	for _, tool := range []string{"apt", "apt-get", "apt-cache", "dpkg", "dpkg-deb"} {
		_, err := exec.LookPath(tool)
		require.Error(t, err, "%s must not be on PATH for this test", tool)
	}
	stdout, stderr, code := runmatrix(t, 10*time.Minute, "probe", "--json", "--accel", "tcg", "--cache-dir", t.TempDir(), "debian:6.12")
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	require.Contains(t, stderr, "downloading linux-image-6.12", "fetched into the empty cache")
	var rs []probeResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &rs))
	require.Len(t, rs, 1)
	require.True(t, strings.HasPrefix(rs[0].Release, "6.12."), rs[0].Release)
}

// TestEveryNICModel boots debian:6.1 once per NIC model other than the
// default, offered alone: the guest reaches the agent over each, with the
// driver that model needs (8139cp for QEMU's 8139C+, not 8139too).
func TestEveryNICModel(t *testing.T) {
	for _, tc := range []struct{ model, driver string }{
		{"e1000", "e1000"},
		{"rtl8139", "8139cp"},
		{"pcnet", "pcnet32"},
		{"ne2k_pci", "ne2k-pci"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			stdout, stderr, code := runmatrix(t, 5*time.Minute, "probe", "--json", "--nic", tc.model, "debian:6.1")
			require.Equal(t, 0, code, stderr)
			var results []probeResult
			require.NoError(t, json.Unmarshal([]byte(stdout), &results))
			require.Len(t, results, 1)
			require.Empty(t, results[0].Error)
			require.Equal(t, "net", results[0].Transport, "not the serial fallback")
			require.Equal(t, tc.driver, results[0].Driver)
		})
	}
}

// modulesTree is the part of k's modules a package or image ships to give
// its guest a NIC: the virtio NIC modules (with their dependencies) and
// modules.builtin and modules.order, under prefix+"lib/modules/RELEASE/"
// (prefix "", "./" or "usr/").
func modulesTree(t *testing.T, k *kernels.Kernel, prefix string) map[string][]byte {
	t.Helper()
	dir := prefix + "lib/modules/" + k.Image.Release + "/"
	mods, err := initramfs.NICModules(k.ModulesDir, [][]string{{"virtio_pci", "virtio_net"}})
	require.NoError(t, err)
	require.NotEmpty(t, mods)
	files := map[string][]byte{}
	for _, m := range mods {
		files[dir+"kernel/drivers/net/"+m.Name] = m.Data
	}
	for _, f := range []string{"modules.builtin", "modules.order"} {
		if b, err := os.ReadFile(filepath.Join(k.ModulesDir, f)); err == nil {
			files[dir+f] = b
		}
	}
	return files
}
