package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/casetest"
)

// TestARM64Guest boots Debian's arm64 kernel under qemu-system-aarch64
// (TCG: a foreign architecture), with arm64 guest binaries, its run line
// on a virtio console, and runs cases whose outcome documented behaviour
// fixes; an architecture runmatrix has no machine for is refused in one
// line before anything boots.
func TestARM64Guest(t *testing.T) {
	recs, stderr := casesRun(t, "--kernel", "debian:6.12/arm64", "--case", "tfo.sendmsg.*", "--case", "epipe.*",
		"--case", "flags.unknown.*", "--case", "linger0.reset", "--profile", "tfo=3")
	require.Len(t, recs, 6)
	for _, r := range recs {
		require.Equal(t, "aarch64", r.KernelInfo.Arch, "uname -m in the guest")
		require.Regexp(t, `-arm64$`, r.KernelInfo.Release)
		require.Equal(t, "tcg", r.KernelInfo.Accel, "a foreign architecture runs under TCG")
	}
	require.Contains(t, stderr, "aarch64 ready after")
	casetest.CheckDocumented(t, recs[0].KernelInfo.Release, recs[0].KernelInfo.Arch, recs[0].KernelInfo.KernelConfig(), recs)
	got := map[string]string{}
	for _, r := range recs {
		got[r.Case] = r.Outcome.Summary
	}
	// arm64 has CONFIG_COMPAT, so MSG_CMSG_COMPAT (0x80000000) is refused
	// by sendmsg() as on x86_64 (net/socket.c __sys_sendmsg), not taken as
	// an unused bit as on i686.
	require.Equal(t, "0x40000000=5 0x80000000=-1 EINVAL", got["flags.unknown.sendmsg"])

	// Debian's 6.1 arm64 builds the second channel's driver
	// (virtio_console) as a module: it is loaded at boot, else the init
	// has no run line ("open /dev/hvc0: no such file or directory").
	stdout, stderr, code := runmatrix(t, 5*time.Minute, "probe", "--json", "debian:6.1/arm64")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, `"machine": "aarch64"`)

	_, stderr, code = runmatrix(t, time.Minute, "probe", "debian:6.12/mips")
	require.Equal(t, 2, code)
	require.Equal(t, 1, strings.Count(stderr, "runmatrix: "), stderr)
	require.Contains(t, stderr, `unknown arch "mips"`)
}
