package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/testkit/casetest"
	"github.com/runmatrix/runmatrix/testcases"
)

// TestCasesInGuest runs every case under four profiles in one Debian 6.1
// guest and checks the outcomes its documented behaviour fixes (the
// sources are in each case's expectations and in casetest.CheckDocumented).
func TestCasesInGuest(t *testing.T) {
	profiles := []string{"default", "tfo=0", "tfo=3", "tfo=0x207"}
	args := []string{"--kernel", "debian:6.1"}
	for _, p := range profiles {
		args = append(args, "--profile", p)
	}
	recs, _ := casesRun(t, args...)
	require.Len(t, recs, len(testcases.All())*len(profiles))
	release := recs[0].KernelInfo.Release
	require.True(t, strings.HasPrefix(release, "6.1."), release)
	for _, r := range recs {
		require.Equal(t, "netns", r.Outcome.Isolation, r.Case)
		require.Equal(t, "x86_64", r.KernelInfo.Arch)
		if p, _ := testcases.ParseProfile(r.Profile); len(p.Sysctls) > 0 {
			require.Equal(t, p.Sysctls, r.Outcome.Sysctls, "the profile was in force: %s %s", r.Case, r.Profile)
		}
	}
	casetest.CheckDocumented(t, release, "x86_64", recs[0].KernelInfo.KernelConfig(), recs)
	require.Equal(t, "y", recs[0].KernelInfo.Config["CONFIG_COMPAT"], "read from the package's config file: %s", recs[0].KernelInfo.ConfigFrom)
}

// TestCasesBadInput checks case selection errors are one line with the fix.
func TestCasesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"unknown case", []string{"--local", "--case", "tfo.nope"}, "no case matches \"tfo.nope\" (list them with `runmatrix cases list`)"},
		{"unknown profile", []string{"--local", "--profile", "turbo"}, "unknown profile \"turbo\""},
		{"neither local nor kernel", nil, "exactly one of --local or --kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runmatrix(t, 30*time.Second, append([]string{"cases", "run"}, tc.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.wantMsg)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
		})
	}
}

// TestCasesLocalCLI runs one case on the host through the CLI.
func TestCasesLocalCLI(t *testing.T) {
	stdout, stderr, code := runmatrix(t, 60*time.Second, "cases", "run", "--local", "--case", "epipe.*", "--json")
	require.Equal(t, 0, code, stderr)
	var r results.Record
	require.NoError(t, json.Unmarshal([]byte(stdout), &r))
	require.Equal(t, "epipe.write-after-close", r.Case)
	require.Equal(t, "local", r.KernelInfo.Ref)
	// send(2): a write after the peer's RST fails with EPIPE and raises SIGPIPE.
	require.Equal(t, "write1=1 write2=-1 EPIPE +SIGPIPE", r.Outcome.Summary)
}
