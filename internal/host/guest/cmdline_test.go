package guest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// TestCommandLine: a TCG guest gets a periodic, low-resolution tick (its
// timer reprogramming wakes QEMU's main loop), a KVM guest the kernel's
// defaults, and --append comes last so that it can undo either.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		arch, accel, append, want string
	}{
		{"x86_64", vm.AccelTCG, "", "console=ttyS0,115200 panic=-1 rdinit=/init highres=off nohz=off"},
		{"x86_64", vm.AccelKVM, "", "console=ttyS0,115200 panic=-1 rdinit=/init"},
		{"aarch64", vm.AccelTCG, "", "console=ttyAMA0 panic=-1 rdinit=/init highres=off nohz=off"},
		{"x86_64", vm.AccelTCG, "highres=on nohz=on", "console=ttyS0,115200 panic=-1 rdinit=/init highres=off nohz=off highres=on nohz=on"},
		{"i386", vm.AccelKVM, "quiet", "console=ttyS0,115200 panic=-1 rdinit=/init quiet"},
	} {
		t.Run(tc.arch+"/"+tc.accel+"/"+tc.append, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Append = tc.append
			env := NewEnv(store.Cache{Dir: t.TempDir()}, opts)
			require.Equal(t, tc.want, env.CommandLine(tc.arch, tc.accel))
		})
	}
}
