package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/testkit/casetest"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// casesRun runs `runmatrix cases run --json` with args and returns the
// recs and stderr.
func casesRun(t *testing.T, args ...string) ([]results.Record, string) {
	t.Helper()
	stdout, stderr, code := runmatrix(t, 10*time.Minute, append([]string{"cases", "run", "--json", "--accel", "tcg"}, args...)...)
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	var recs []results.Record
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r results.Record
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		recs = append(recs, r)
	}
	return recs, stderr
}

// TestI686Guest boots Debian's 32-bit kernel, which needs GOARCH=386 guest
// binaries, and runs cases whose outcome its documented behaviour fixes.
func TestI686Guest(t *testing.T) {
	recs, stderr := casesRun(t, "--kernel", "debian:6.1@bookworm/i686", "--case", "tfo.sendmsg.*", "--case", "epipe.*", "--case", "flags.unknown.sendmsg", "--profile", "tfo=3")
	require.Len(t, recs, 4)
	for _, r := range recs {
		require.Equal(t, "i686", r.KernelInfo.Arch, "uname -m in the guest")
		require.Regexp(t, `-686$`, r.KernelInfo.Release)
	}
	require.Contains(t, stderr, "i686 ready after")
	casetest.CheckDocumented(t, recs[0].KernelInfo.Release, recs[0].KernelInfo.Arch, recs[0].KernelInfo.KernelConfig(), recs)
	// A 32-bit kernel has no CONFIG_COMPAT, so MSG_CMSG_COMPAT is 0 there and
	// sendmsg() takes 0x80000000 as an unused bit (include/linux/socket.h),
	// unlike x86_64, which refuses it with EINVAL.
	require.Equal(t, "0x40000000=5 0x80000000=5", recs[3].Outcome.Summary)
}

// TestSerialTransport boots a Debian kernel without its modules, as a user
// with only a bzImage would: no NIC driver, so SSH goes over ttyS1.
func TestSerialTransport(t *testing.T) {
	recs, stderr := casesRun(t, "--kernel", "debian:6.12", "--no-modules", "--case", "linger0.reset")
	require.Contains(t, stderr, "over serial", "the guest had no NIC driver")
	require.Len(t, recs, 1)
	require.True(t, strings.HasPrefix(recs[0].KernelInfo.Release, "6.12."))
	casetest.CheckDocumented(t, recs[0].KernelInfo.Release, recs[0].KernelInfo.Arch, recs[0].KernelInfo.KernelConfig(), recs)
}

// TestNoConsole boots a kernel with its init told to act as on a kernel
// whose console it cannot open ("unable to open an initial console"): the
// ready line can reach the host only through the kernel log (/dev/kmsg),
// which the kernel prints on its own console; the guest is then reached
// over its NIC and the case runs.
func TestNoConsole(t *testing.T) {
	recs, stderr := casesRun(t, "--kernel", "debian:6.1", "--append", bootproto.NoConsoleEnv+"=1", "--case", "linger0.reset")
	require.NotContains(t, stderr, "over serial", "reached over the NIC")
	require.Len(t, recs, 1)
	require.Equal(t, "ok", string(recs[0].Outcome.Status), recs[0].Outcome.Error)
	require.Equal(t, bootproto.ConsoleKmsg, recs[0].KernelInfo.Console, "the ready line came through the kernel log")
	casetest.CheckDocumented(t, recs[0].KernelInfo.Release, recs[0].KernelInfo.Arch, recs[0].KernelInfo.KernelConfig(), recs)
}
