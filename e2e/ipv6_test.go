package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TestIPv6Family runs tfo.sendto.blocking and reconnect.syn-in-window
// (raw IPv6 segments: a SYN injected with its pseudo-header checksum)
// over IPv6 (tfo=3+ipv6) on debian:6.12, where both meet their
// expectations, and on the same kernel booted with ipv6.disable=1: there
// the cells say "no ipv6", never error, and no row differs for them.
func TestIPv6Family(t *testing.T) {
	dir := t.TempDir()
	noIPv6 := map[string]string{"tfo.sendto.blocking": "no ipv6", "reconnect.syn-in-window": "no ipv6"}
	for _, tc := range []struct {
		name, appendArgs string
		shared           bool
		want             map[string]string
		status           outcome.Status
	}{
		{"with IPv6", "", false, map[string]string{"tfo.sendto.blocking": "sendto=5 recv=5", "reconnect.syn-in-window": "recv=-1 EAGAIN @3s replies=1 ACK"}, outcome.OK},
		{"ipv6.disable=1", "ipv6.disable=1", false, noIPv6, outcome.FamilyUnavailable},
		// Without namespaces an IPv6 case gets an address of its own on
		// lo; with no IPv6 there is none to give, and the cell still says
		// "no ipv6", not error.
		{"ipv6.disable=1, no namespaces", "ipv6.disable=1", true, noIPv6, outcome.FamilyUnavailable},
	} {
		out := filepath.Join(dir, tc.name)
		args := []string{"run", "--kernel", "debian:6.12", "--case", "tfo.sendto.blocking", "--case", "reconnect.syn-in-window",
			"--profile", "tfo=3", "--profile", "tfo=3+ipv6", "--out", out, "--format", "none"}
		if tc.appendArgs != "" {
			args = append(args, "--append", tc.appendArgs)
		}
		if tc.shared {
			args = append(args, "--shared")
		}
		_, stderr, code := runmatrix(t, 10*time.Minute, args...)
		require.Equal(t, 0, code, "%s: %s", tc.name, stderr)
		_, res := summaries(t, filepath.Join(out, "results.json"))
		require.Len(t, res.Cells, 4)
		for _, c := range res.Cells {
			if c.Case == "tfo.sendto.blocking" && c.Profile == "tfo=3" {
				require.Equal(t, "sendto=5 recv=5", c.Outcome.Summary, "IPv4 beside it")
			}
			if c.Profile != "tfo=3+ipv6" {
				continue
			}
			require.Equal(t, tc.status, c.Outcome.Status, "%s %s", tc.name, c.Case)
			require.Equal(t, tc.want[c.Case], c.Outcome.Summary, "%s %s", tc.name, c.Case)
			if tc.status == outcome.OK {
				require.Equal(t, "AF_INET6", argOf(c.Outcome.Steps[0], "domain"), c.Case)
				require.NotNil(t, c.Expect, "%s has an IPv6 expectation", c.Case)
				require.True(t, c.Expect.Pass, c.Case)
			}
			require.False(t, c.Failed(), "%s: neither an error nor unexpected", tc.name)
		}
	}
}
