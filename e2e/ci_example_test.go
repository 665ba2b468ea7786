package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCIExample runs the scripts the GitHub Actions example calls, as it
// calls them: two shards (each builds runmatrix without root and boots
// debian:6.1), then the merge against no baseline, the same baseline, and
// a baseline that differs in one cell (drift: exit 1, named in the summary).
func TestCIExample(t *testing.T) {
	yml, err := os.ReadFile("../examples/github-actions/runmatrix.yml")
	require.NoError(t, err)
	require.Contains(t, string(yml), "examples/github-actions/shard.sh", "the example calls the script this test runs")
	require.Contains(t, string(yml), "examples/github-actions/merge.sh")

	dir := t.TempDir()
	script := func(name string, env []string, args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join("../examples/github-actions", name), args...)
		cmd.Env = append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		require.NoError(t, ctx.Err(), "%s timed out: %s", name, out.String())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return out.String(), code
	}
	var shards []string
	for _, s := range []string{"1/2", "2/2"} {
		out := filepath.Join(dir, "shard-"+s[:1])
		log, code := script("shard.sh", nil, s, out, "--kernel", "debian:6.1", "--case", "linger0.reset", "--case", "epipe.write-after-close", "--profile", "default")
		require.Equal(t, 0, code, log)
		require.FileExists(t, filepath.Join(out, "results.json"))
		shards = append(shards, filepath.Join(out, "results.json"))
	}
	env := []string{"RUNMATRIX=" + binary}
	baseline := filepath.Join(dir, "baseline.json")
	report := filepath.Join(dir, "report")
	merge := func() (string, int) {
		return script("merge.sh", env, append([]string{report, baseline}, shards...)...)
	}

	log, code := merge()
	require.Equal(t, 0, code, "no baseline yet: %s", log)
	summary, err := os.ReadFile(filepath.Join(report, "summary.md"))
	require.NoError(t, err)
	require.Contains(t, string(summary), "linger0.reset")
	require.Contains(t, string(summary), "epipe.write-after-close", "both shards' cells are in the merged table")
	require.FileExists(t, filepath.Join(report, "report.html"))
	require.FileExists(t, baseline)

	log, code = merge()
	require.Equal(t, 0, code, "same results, no drift: %s", log)

	// Yesterday's linger0.reset was different.
	var base map[string]any
	b, err := os.ReadFile(baseline)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &base))
	changed := false
	for _, c := range base["cells"].([]any) {
		cell := c.(map[string]any)
		if cell["case"] == "linger0.reset" {
			cell["outcome"].(map[string]any)["summary"] = "recv=0 yesterday"
			changed = true
		}
	}
	require.True(t, changed)
	b, err = json.Marshal(base)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(baseline, b, 0o644))
	log, code = merge()
	require.Equal(t, 1, code, "drift is exit 1: %s", log)
	summary, err = os.ReadFile(filepath.Join(report, "summary.md"))
	require.NoError(t, err)
	require.Contains(t, string(summary), "recv=0 yesterday", "the summary shows the change")
}
