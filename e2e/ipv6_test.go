package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TestIPv6Family runs tfo.sendto.blocking over IPv6 (tfo=3+ipv6) on
// debian:6.12, and on the same kernel booted with ipv6.disable=1: there
// the cell says "no ipv6", never error, and no row differs for it; a case
// over IPv4 alone (reconnect.*) has no IPv6 cell at all.
func TestIPv6Family(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, appendArgs, want string
		status                 outcome.Status
	}{
		{"with IPv6", "", "sendto=5 recv=5", outcome.OK},
		{"ipv6.disable=1", "ipv6.disable=1", "no ipv6", outcome.FamilyUnavailable},
	} {
		out := filepath.Join(dir, tc.name)
		args := []string{"run", "--kernel", "debian:6.12", "--case", "tfo.sendto.blocking", "--case", "reconnect.syn-in-window",
			"--profile", "tfo=3", "--profile", "tfo=3+ipv6", "--out", out, "--format", "none"}
		if tc.appendArgs != "" {
			args = append(args, "--append", tc.appendArgs)
		}
		_, stderr, code := runmatrix(t, 10*time.Minute, args...)
		require.Equal(t, 0, code, "%s: %s", tc.name, stderr)
		_, res := summaries(t, filepath.Join(out, "results.json"))
		require.Len(t, res.Cells, 3, "reconnect.syn-in-window runs over IPv4 alone: no +ipv6 cell")
		for _, c := range res.Cells {
			if c.Case == "tfo.sendto.blocking" && c.Profile == "tfo=3" {
				require.Equal(t, "sendto=5 recv=5", c.Outcome.Summary, "IPv4 beside it")
			}
			if c.Profile != "tfo=3+ipv6" {
				continue
			}
			require.Equal(t, tc.status, c.Outcome.Status, tc.name)
			require.Equal(t, tc.want, c.Outcome.Summary, tc.name)
			if tc.status == outcome.OK {
				require.Equal(t, "AF_INET6", argOf(c.Outcome.Steps[0], "domain"))
			}
			require.False(t, c.Failed(), "%s: neither an error nor unexpected", tc.name)
		}
	}
}
