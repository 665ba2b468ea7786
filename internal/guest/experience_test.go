package guest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/kernels"
)

// TestBootDeadlineFromExperience: with nothing known a boot gets the whole
// --boot-timeout; once a kernel of the architecture came up, its deadline
// is five times that (at least a minute); the kernel's own boots count
// before its architecture's; --boot-timeout stays the cap.
func TestBootDeadlineFromExperience(t *testing.T) {
	e := &experience{path: filepath.Join(t.TempDir(), experienceFile)}
	k := &kernels.Kernel{Image: kernels.Image{Arch: kernels.ArchX86_64}, Origin: kernels.Origin{SHA256: "k1"}}
	other := &kernels.Kernel{Image: kernels.Image{Arch: kernels.ArchX86_64}, Origin: kernels.Origin{SHA256: "k2"}}
	limit := 3 * time.Minute
	d, why := e.deadline(k, "tcg", limit)
	require.Equal(t, limit, d)
	require.Equal(t, "--boot-timeout", why)

	e.record(other, "tcg", 20*time.Second)
	d, why = e.deadline(k, "tcg", limit)
	require.Equal(t, 100*time.Second, d)
	require.Equal(t, "the slowest x86_64/tcg boot seen here", why)
	d, _ = e.deadline(k, "kvm", limit)
	require.Equal(t, limit, d, "another accelerator is not the same experience")

	e.record(k, "tcg", 6*time.Second)
	d, why = e.deadline(k, "tcg", limit)
	require.Equal(t, minBootDeadline, d, "5 x 6 s, but at least a minute")
	require.Equal(t, "this kernel's own boots", why)
	d, _ = e.deadline(k, "tcg", 45*time.Second)
	require.Equal(t, 45*time.Second, d, "--boot-timeout caps it")

	var none *experience
	d, _ = none.deadline(k, "tcg", limit)
	require.Equal(t, limit, d)
}
