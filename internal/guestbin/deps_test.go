package guestbin

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// guestPackages are the packages of this module a guest binary may link:
// what runs in the guest (the agent, its case runner, the init and its SSH
// server, the protocols between them) and the case API. A host package
// (kernels, matrix, internal/guest, internal/vm …) in a guest binary is
// code that was never meant to run there, and weight in every initramfs.
var guestPackages = map[string]bool{
	"agent": true, "cmd/guest-agent": true, "cmd/guest-init": true,
	"internal/agentproto": true, "internal/bootproto": true, "internal/caserun": true,
	"internal/netif": true, "internal/sshserver": true,
	"testcases": true, "testcases/cnames": true, "testcases/outcome": true,
}

// TestGuestBinariesLinkOnlyGuestCode lists what the guest binaries link,
// for every architecture, and refuses a host package among it.
func TestGuestBinariesLinkOnlyGuestCode(t *testing.T) {
	const module = "github.com/runmatrix/runmatrix/"
	for _, goarch := range []string{"amd64", "386", "arm64", "arm", "riscv64", "ppc64le", "s390x"} {
		cmd := exec.Command("go", "list", "-deps", "../../cmd/guest-agent", "../../cmd/guest-init")
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		require.NoError(t, err, goarch)
		for _, p := range strings.Fields(string(out)) {
			if rel, ok := strings.CutPrefix(p, module); ok {
				require.True(t, guestPackages[rel], "%s: the guest binaries link %s, a host package", goarch, p)
			}
		}
	}
}
