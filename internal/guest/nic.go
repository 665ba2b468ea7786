package guest

import (
	"context"
	"strings"

	"github.com/runmatrix/runmatrix/internal/initramfs"
	"github.com/runmatrix/runmatrix/internal/vm"
	"github.com/runmatrix/runmatrix/kernels"
)

// nicModels are the QEMU NIC models a guest may get, in the order the
// guest init prefers them (bootproto.Choose), with the Linux drivers that
// drive each.
var nicModels = []struct {
	nic     vm.NIC
	drivers []string
}{
	{vm.NIC{Model: "virtio-net-pci", MAC: "52:54:00:12:34:01"}, []string{"virtio_net"}},
	{vm.NIC{Model: "e1000", MAC: "52:54:00:12:34:02"}, []string{"e1000"}},
	{vm.NIC{Model: "rtl8139", MAC: "52:54:00:12:34:03"}, []string{"8139too", "8139cp"}},
	{vm.NIC{Model: "pcnet", MAC: "52:54:00:12:34:04"}, []string{"pcnet32"}},
	{vm.NIC{Model: "ne2k_pci", MAC: "52:54:00:12:34:05"}, []string{"ne2k-pci"}},
}

// maxNICs bounds the cards a guest gets: the best one and a fallback.
const maxNICs = 2

// chooseNICs offers the guest the NIC models it has drivers for, built in
// (found in the image) or shipped as modules in its initramfs, best first.
// When no driver can be found (a compression the host cannot read, a
// driver under another name) the guest gets vm.DefaultNICs: a card
// without a driver costs nothing, and serial remains the way in.
func chooseNICs(ctx context.Context, k *kernels.Kernel, mods []initramfs.Module) []vm.NIC {
	var names []string
	for _, m := range nicModels {
		names = append(names, m.drivers...)
	}
	builtin, err := kernels.BuiltinDrivers(ctx, k.Path, names)
	if err != nil {
		return vm.DefaultNICs
	}
	return nicsFor(builtin, mods)
}

// nicsFor picks the NIC models for a kernel with these built-in drivers
// and NIC modules.
func nicsFor(builtin []string, mods []initramfs.Module) []vm.NIC {
	have := map[string]bool{}
	for _, d := range builtin {
		have[strings.ReplaceAll(d, "-", "_")] = true
	}
	for _, m := range mods {
		have[strings.ReplaceAll(strings.TrimSuffix(m.Name, ".ko"), "-", "_")] = true
	}
	var out []vm.NIC
	for _, m := range nicModels {
		for _, d := range m.drivers {
			if have[strings.ReplaceAll(d, "-", "_")] {
				out = append(out, m.nic)
				break
			}
		}
		if len(out) == maxNICs {
			break
		}
	}
	if len(out) == 0 {
		return vm.DefaultNICs
	}
	return out
}
