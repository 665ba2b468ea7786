package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChooseOut: without --out each run gets a folder of its own under the
// runs folder (never the working directory), runs/latest names the newest,
// and --resume without --out continues it.
func TestChooseOut(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	var log bytes.Buffer
	var first, second string
	require.NoError(t, chooseOut(&first, false, "run", &log))
	require.NoError(t, chooseOut(&second, false, "run", &log))
	require.NotEqual(t, first, second, "the same command twice: two folders")
	require.Equal(t, filepath.Join(state, "runmatrix", "runs"), filepath.Dir(second))
	target, err := os.Readlink(filepath.Join(state, "runmatrix", "runs", latestLink))
	require.NoError(t, err)
	require.Equal(t, filepath.Base(second), target)
	require.Contains(t, log.String(), "results: "+second)
	var evidence string
	require.NoError(t, chooseOut(&evidence, false, "evidence", &log))
	var resumed string
	require.NoError(t, chooseOut(&resumed, true, "run", &log))
	require.Equal(t, second, resumed, "the newest run, not the newest folder (an evidence one)")
	given := "mine"
	require.NoError(t, chooseOut(&given, false, "run", &log))
	require.Equal(t, "mine", given, "--out is kept as given")

	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var none string
	err = chooseOut(&none, true, "run", &log)
	require.ErrorContains(t, err, "there is none")
}

// TestResumePlan: --resume takes the plan recorded when the run started;
// a plan flag given now that differs is refused in one line naming it,
// one given the same is accepted, other flags (--accel) are free.
func TestResumePlan(t *testing.T) {
	dir := t.TempDir()
	start := newRunCmd()
	require.NoError(t, start.ParseFlags([]string{"--kernel", "ubuntu:16.04", "--kernel", "debian:6.12", "--profile", "tfo=3", "--repeat", "2"}))
	require.NoError(t, writePlan(dir, planOf("run", start.Flags(), runPlanFlags, []string{"./prog", "-x"})))

	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"no flags: the recorded plan", nil, ""},
		{"the same kernels", []string{"--kernel", "ubuntu:16.04", "--kernel", "debian:6.12"}, ""},
		{"other flags are free", []string{"--accel", "tcg", "--format", "none"}, ""},
		{"other kernels", []string{"--kernel", "debian:6.1"}, "whose --kernel was ubuntu:16.04, debian:6.12, not debian:6.1"},
		{"a plan flag the run had not", []string{"--case", "tfo.*"}, "whose --case was not given, not tfo.*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newRunCmd()
			require.NoError(t, cmd.ParseFlags(tc.args))
			var log bytes.Buffer
			rec, err := resumePlan(cmd, dir, runPlanFlags, nil, &log)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			abs, _ := filepath.Abs("./prog")
			require.Equal(t, []string{abs, "-x"}, rec.Args)
			k, _ := cmd.Flags().GetStringArray("kernel")
			require.Equal(t, []string{"ubuntu:16.04", "debian:6.12"}, k)
			require.Equal(t, "2", cmd.Flags().Lookup("repeat").Value.String())
		})
	}
	cmd := newRunCmd()
	_, err := resumePlan(cmd, dir, runPlanFlags, []string{"./other"}, &bytes.Buffer{})
	require.ErrorContains(t, err, "with arguments")

	// A folder with no run in it (a typo, or a run that never started) is
	// bad input, not a new run started under --resume.
	for _, empty := range []string{t.TempDir(), filepath.Join(t.TempDir(), "absent")} {
		_, err = resumePlan(newRunCmd(), empty, runPlanFlags, nil, &bytes.Buffer{})
		require.ErrorContains(t, err, "holds no run to continue")
		var ue *usageError
		require.ErrorAs(t, err, &ue)
	}
}
