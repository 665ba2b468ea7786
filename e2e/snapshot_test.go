package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// TestSnapshots boots debian:6.1 and 6.12 cold and from saved guests:
// every case × profile gives the same outcome either way; two guests
// started from one saved guest have their own SSH host keys, random
// numbers, TCP initial sequence numbers and the host's clock; a saved
// guest that is damaged is replaced by a cold boot, said in one line,
// with a good result.
func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	cacheDir, err := store.DefaultCacheDir()
	require.NoError(t, err)
	cache := store.Cache{Dir: cacheDir}
	_, err = guest.PruneSnapshots(cache, 0)
	require.NoError(t, err)
	kernelArgs := []string{"--kernel", "debian:6.1", "--kernel", "debian:6.12", "--accel", "tcg", "--format", "none"}

	// Cold, then the run that saves, then one from the saved guests.
	cold, saving, restored := filepath.Join(dir, "cold"), filepath.Join(dir, "saving"), filepath.Join(dir, "restored")
	for _, r := range []struct {
		out   string
		extra []string
	}{{cold, []string{"--no-snapshot"}}, {saving, nil}, {restored, nil}} {
		_, stderr, code := runmatrix(t, 10*time.Minute, append(append([]string{"run", "--out", r.out}, kernelArgs...), r.extra...)...)
		require.Equal(t, 0, code, stderr)
	}
	_, res := summaries(t, filepath.Join(restored, "results.json"))
	require.Len(t, res.Cells, 2*20*2)
	for _, c := range res.Cells {
		require.True(t, c.KernelInfo.Restored, "%s ran on a guest started from a saved one", c.Key)
	}
	_, res = summaries(t, filepath.Join(cold, "results.json"))
	for _, c := range res.Cells {
		require.False(t, c.KernelInfo.Restored, "%s ran on a cold boot", c.Key)
	}
	stdout, stderr, code := runmatrix(t, time.Minute, "diff", filepath.Join(cold, "results.json"), filepath.Join(restored, "results.json"))
	require.Equal(t, 0, code, "restored guests answer as cold ones:\n%s%s", stdout, stderr)
	list, _, code := runmatrix(t, time.Minute, "kernels", "snapshots")
	require.Equal(t, 0, code)
	require.Contains(t, list, "debian:6.12")
	require.Contains(t, list, "2 saved guests")

	// Two guests from one saved guest are not the same guest.
	type probed struct {
		Restored bool   `json:"restored"`
		HostKey  string `json:"host_key"`
	}
	var keys []string
	for i := 0; i < 2; i++ {
		stdout, stderr, code := runmatrix(t, 2*time.Minute, "probe", "--json", "--accel", "tcg", "debian:6.12")
		require.Equal(t, 0, code, stderr)
		var ps []probed
		require.NoError(t, json.Unmarshal([]byte(stdout), &ps))
		require.True(t, ps[0].Restored, stderr)
		keys = append(keys, ps[0].HostKey)
	}
	require.NotEqual(t, keys[0], keys[1], "each guest has its own SSH host key")
	prog := build(t, dir, "fresh.c", "fresh", "gcc", "-static")
	// A program is in the initramfs, so its guests have a saved guest of
	// their own: the first run saves it, the next two start from it.
	var seen []map[string]string
	for i := 0; i < 3; i++ {
		out := filepath.Join(dir, "fresh"+strconv.Itoa(i))
		_, stderr, code := runmatrix(t, 2*time.Minute, "run", "--kernel", "debian:6.12", "--accel", "tcg", "--out", out, "--format", "none", "--", prog)
		require.Equal(t, 0, code, stderr)
		_, res := summaries(t, filepath.Join(out, "results.json"))
		require.Len(t, res.Cells, 1)
		require.Equal(t, i > 0, res.Cells[0].KernelInfo.Restored, "run %d", i)
		fields := map[string]string{}
		for _, f := range strings.Fields(res.Cells[0].Outcome.Summary) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		require.NotEmpty(t, fields["isn"], res.Cells[0].Outcome.Summary)
		guestTime, err := strconv.ParseInt(fields["time"], 10, 64)
		require.NoError(t, err)
		require.InDelta(t, time.Now().Unix(), guestTime, 60, "the guest's clock is the host's, not the saved guest's")
		tick, err := strconv.ParseInt(fields["res"], 10, 64)
		require.NoError(t, err)
		require.GreaterOrEqual(t, tick, int64(time.Millisecond), "a TCG guest's timers run on the tick (highres=off): resolution %dns", tick)
		seen = append(seen, fields)
	}
	require.NotEqual(t, seen[1]["urandom"], seen[2]["urandom"], "reseeded: different random numbers")
	require.NotEqual(t, seen[1]["isn"], seen[2]["isn"], "different TCP initial sequence numbers")
	// --append comes after the TCG timer words: the user's word wins.
	out := filepath.Join(dir, "fresh-highres")
	_, stderr, code = runmatrix(t, 2*time.Minute, "run", "--kernel", "debian:6.12", "--accel", "tcg", "--append", "highres=on", "--out", out, "--format", "none", "--", prog)
	require.Equal(t, 0, code, stderr)
	_, res = summaries(t, filepath.Join(out, "results.json"))
	require.Len(t, res.Cells, 1)
	require.Contains(t, res.Cells[0].Outcome.Summary, " res=1", "--append highres=on gives back high-resolution timers")

	// A damaged saved guest: cut in half. The guest boots cold, one line
	// says so, the result is good, and the saved guest is written anew.
	all, err := guest.Snapshots(cache)
	require.NoError(t, err)
	var snap guest.Snapshot
	for _, s := range all {
		if s.Ref == "debian:6.12" {
			snap = s
		}
	}
	require.NotEmpty(t, snap.Path)
	require.NoError(t, os.Truncate(snap.Path, snap.Bytes/2))
	stdout, stderr, code = runmatrix(t, 2*time.Minute, "probe", "--json", "--accel", "tcg", "debian:6.12")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "the saved guest did not resume"), stderr)
	var ps []probed
	require.NoError(t, json.Unmarshal([]byte(stdout), &ps))
	require.False(t, ps[0].Restored, "booted cold")
	fi, err := os.Stat(snap.Path)
	require.NoError(t, err)
	require.Greater(t, fi.Size(), snap.Bytes*3/4, "the saved guest was written anew, whole")
}
