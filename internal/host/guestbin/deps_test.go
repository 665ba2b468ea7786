package guestbin

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// guestSide are the folders of this module whose packages a guest binary
// may link: what runs in the guest (internal/inguest: the case runner, the
// SSH server, the network setup), the protocols between host and guest
// (internal/wire), the agent, the guest binaries' mains and the case API.
// A host package (internal/host/…) in a guest binary is code that was never
// meant to run there, and weight in every initramfs.
var guestSide = []string{"agent", "cmd/guest-agent", "cmd/guest-init", "internal/inguest/", "internal/wire/", "testcases"}

// onGuestSide reports whether the module-relative package path rel lies in
// one of guestSide's folders.
func onGuestSide(rel string) bool {
	for _, g := range guestSide {
		if rel == strings.TrimSuffix(g, "/") || strings.HasPrefix(rel, strings.TrimSuffix(g, "/")+"/") {
			return true
		}
	}
	return false
}

// TestGuestBinariesLinkOnlyGuestCode lists what the guest binaries link,
// for every architecture, and refuses a host package among it.
func TestGuestBinariesLinkOnlyGuestCode(t *testing.T) {
	const module = "github.com/runmatrix/runmatrix/"
	for _, goarch := range []string{"amd64", "386", "arm64", "arm", "riscv64", "ppc64le", "s390x"} {
		cmd := exec.Command("go", "list", "-deps", "../../../cmd/guest-agent", "../../../cmd/guest-init")
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		require.NoError(t, err, goarch)
		for _, p := range strings.Fields(string(out)) {
			if rel, ok := strings.CutPrefix(p, module); ok {
				require.True(t, onGuestSide(rel), "%s: the guest binaries link %s, a host package", goarch, p)
			}
		}
	}
}

// TestHostTalksToGuestThroughWire refuses a host package that links guest
// code: the host reaches the guest only through the protocols in
// internal/wire (the CLI alone may run cases on this machine's own kernel).
func TestHostTalksToGuestThroughWire(t *testing.T) {
	const module = "github.com/runmatrix/runmatrix/"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../...").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		rel, ok := strings.CutPrefix(f[0], module)
		if !ok || !strings.HasPrefix(rel, "internal/host/") {
			continue
		}
		for _, imp := range f[1:] {
			require.False(t, strings.HasPrefix(imp, module+"internal/inguest/"), "%s imports %s, guest-side code", f[0], imp)
		}
	}
}
