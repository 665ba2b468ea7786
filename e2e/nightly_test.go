package e2e

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestNightlyDiff is the nightly event: a reference (mainline:v6.1 on a
// local server laid out as kernel.ubuntu.com's) resolves to another build
// between two runs. diff matches the cells by reference, prints the move
// with both identities and the one cell whose outcome changed under it,
// and exits 1; two runs of the same build exit 0 with no move.
func TestNightlyDiff(t *testing.T) {
	key, err := openpgp.NewEntity("runmatrix e2e nightly", "", "e2e@example.invalid", nil)
	require.NoError(t, err)
	// The same tag, rebuilt: the 6.1 image first, then 6.12's under a new stamp.
	state := func(ref, stamp string) map[string][]byte {
		k := resolve(t, ref)
		img, err := os.ReadFile(k.Path)
		require.NoError(t, err)
		tag := archivetest.MainlineTag{Tag: "v6.1", ABI: "6.1.0-060100", Stamp: stamp, Image: map[string][]byte{"./boot/vmlinuz-" + k.Image.Release: img}}
		for p, b := range modulesTree(t, k, "./") {
			tag.Image[p] = b
		}
		files, err := tag.Files(key)
		require.NoError(t, err)
		files[""] = archivetest.MainlineIndex("v6.1")
		return files
	}
	first, rebuilt := state("debian:6.1", "202212112330"), state("debian:6.12", "202301020000")
	mirror := &archivetest.Mirror{Files: first}
	srv := httptest.NewServer(mirror)
	defer srv.Close()
	dir := t.TempDir()
	keyring := writeKeyring(t, filepath.Join(dir, "kernel-ppa.gpg"), key)
	prog := build(t, dir, "passpidfd.c", "passpidfd", "musl-gcc", "-static")

	night := func(name string) string {
		out := filepath.Join(dir, name)
		// A cache of its own each night: the tag's index is read afresh.
		_, stderr, code := runmatrix(t, 10*time.Minute, "run", "--kernel", "mainline:v6.1", "--case", "epipe.write-after-close", "--case", "program:*", "--profile", "default",
			"--mainline-url", srv.URL, "--mainline-keyring", keyring, "--cache-dir", filepath.Join(dir, "cache-"+name),
			"--out", out, "--format", "none", "--", prog)
		require.Equal(t, 0, code, stderr)
		return filepath.Join(out, "results.json")
	}
	monday := night("monday")
	mirror.Files = rebuilt
	tuesday := night("tuesday")
	wednesday := night("wednesday")

	stdout, stderr, code := runmatrix(t, time.Minute, "diff", monday, tuesday)
	require.Equal(t, 1, code, "one cell changed: %s%s", stdout, stderr)
	require.Contains(t, stdout, "## Kernels that moved (1)")
	require.Regexp(t, "- `mainline:v6.1`: `6\\.1\\.0-[^`]+` → `6\\.12\\.[^`]+`", stdout)
	require.Contains(t, stdout, "## Changed (1)")
	require.Contains(t, stdout, "| `program:passpidfd` | `default` | `mainline:v6.1` | `passpidfd=-1 ENOPROTOOPT` | `passpidfd=0` |")
	require.NotContains(t, stdout, "epipe.write-after-close", "the cell that did not change is not listed")
	require.NotContains(t, stdout, "Only in", "no cell is only on one side")

	stdout, stderr, code = runmatrix(t, time.Minute, "diff", tuesday, wednesday)
	require.Equal(t, 0, code, "the same build twice: %s%s", stdout, stderr)
	require.NotContains(t, stdout, "moved")
	require.Contains(t, stdout, "No cell changed")
	_, _, code = runmatrix(t, time.Minute, "diff", "--fail-on", "moved", monday, monday)
	require.Equal(t, 0, code)
	_, _, code = runmatrix(t, time.Minute, "diff", "--fail-on", "moved", tuesday, monday)
	require.Equal(t, 1, code, "--fail-on moved")
}
