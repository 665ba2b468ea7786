package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/guestbin"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
	"github.com/runmatrix/runmatrix/internal/testkit/fakeqemu"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

func TestMain(m *testing.M) {
	fakeqemu.Main()
	os.Exit(m.Run())
}

// cliOverFakeQEMU runs runmatrix in this process with this test binary as
// its QEMU, acting as mode (see fakeqemu): stdout, stderr and the exit
// status. The guest binaries come from the user's cache (built once from
// source, as every test that needs them does); runs go to the test's own
// state folder.
func cliOverFakeQEMU(t *testing.T, mode string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cache, err := store.DefaultCacheDir()
	require.NoError(t, err)
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv(fakeqemu.Mode, mode)
	// The fake's flags right after the command: exec passes what follows
	// its program to the program.
	flags := []string{"--qemu", os.Args[0], "--accel", "tcg", "--cache-dir", cache, "--no-snapshot", "--boot-timeout", "20s"}
	return execute(append(append([]string{args[0]}, flags...), args[1:]...)...)
}

// TestBootFailuresThroughTheCLI: a kernel that panics is the kernel's
// failure (boot-failed), a QEMU that refuses its command line is the
// infrastructure's (infra-failed), and every command that boots says
// which with the console's or QEMU's own words: run records its cells so
// and exits 1, probe and exec say what went wrong and exit 1; no command
// claims an outcome for a kernel that never ran the case.
func TestBootFailuresThroughTheCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the guest binaries once")
	}
	// exec's program: any static x86_64 executable, such as the guest init.
	cache, err := store.DefaultCacheDir()
	require.NoError(t, err)
	bins, err := (&guestbin.Builder{Cache: store.Cache{Dir: cache}}).Get(context.Background(), cpu.X86_64)
	require.NoError(t, err)
	kernel := filepath.Join(t.TempDir(), "bzImage")
	require.NoError(t, os.WriteFile(kernel, archivetest.Image("6.1.0-fake (t@t) #1 SMP", cpu.X86_64), 0o644))
	for _, tc := range []struct {
		mode, why string
		status    outcome.Status
	}{
		{"panic", "Kernel panic - not syncing: No working init found.", outcome.BootFailed},
		{"die", "qemu: initrd is too large", outcome.InfraFailed},
	} {
		t.Run("run/"+tc.mode, func(t *testing.T) {
			out := t.TempDir()
			_, stderr, code := cliOverFakeQEMU(t, tc.mode, "run", "--kernel", kernel, "--case", "tfo.sendto.blocking", "--profile", "default", "--out", out)
			require.Equal(t, 1, code, stderr)
			require.Contains(t, stderr, "1 cells, 1 failed or unexpected")
			b, err := os.ReadFile(filepath.Join(out, "results.json"))
			require.NoError(t, err, stderr)
			var res struct {
				Cells []struct {
					Case    string          `json:"case"`
					Outcome outcome.Outcome `json:"outcome"`
				} `json:"cells"`
			}
			require.NoError(t, json.Unmarshal(b, &res))
			require.Len(t, res.Cells, 1)
			c := res.Cells[0]
			require.Equal(t, "tfo.sendto.blocking", c.Case)
			require.Equal(t, tc.status, c.Outcome.Status, "%+v", c.Outcome)
			require.Empty(t, c.Outcome.Steps, "no step of a kernel that never ran the case")
			require.Contains(t, c.Outcome.Error+c.Outcome.Output, tc.why)
		})
		for _, cmd := range [][]string{{"probe", kernel}, {"exec", "--kernel", kernel, bins.Init}} {
			t.Run(cmd[0]+"/"+tc.mode, func(t *testing.T) {
				stdout, stderr, code := cliOverFakeQEMU(t, tc.mode, cmd...)
				require.Equal(t, 1, code, "stdout %q stderr %q", stdout, stderr)
				require.Contains(t, stdout+stderr, tc.why)
				require.NotContains(t, stderr, "panic: ", "no Go panic")
			})
		}
	}
}
