package guest

import (
	"context"
	"slices"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// nicModels are the QEMU NIC models a guest may get, in the order the
// guest init prefers them (bootproto.Choose), with the Linux drivers that
// drive each.
// modules is the stack of modules to load for the model; virtio_pci is
// the transport virtio_net needs but does not depend on.
var nicModels = []struct {
	nic     vm.NIC
	drivers []string
	modules []string
}{
	{vm.NIC{Model: "virtio-net-pci", MAC: "52:54:00:12:34:01"}, []string{"virtio_net"}, []string{"virtio_pci", "virtio_net"}},
	{vm.NIC{Model: "e1000", MAC: "52:54:00:12:34:02"}, []string{"e1000"}, []string{"e1000"}},
	// QEMU's rtl8139 is an 8139C+ (revision 0x20), which 8139too refuses
	// ("use 8139cp"): only 8139cp drives it.
	{vm.NIC{Model: "rtl8139", MAC: "52:54:00:12:34:03"}, []string{"8139cp"}, []string{"8139cp"}},
	{vm.NIC{Model: "pcnet", MAC: "52:54:00:12:34:04"}, []string{"pcnet32"}, []string{"pcnet32"}},
	{vm.NIC{Model: "ne2k_pci", MAC: "52:54:00:12:34:05"}, []string{"ne2k-pci"}, []string{"ne2k_pci"}},
}

// defaultModuleModels are the models whose modules a guest gets when no
// model is asked for: one good card and a fallback keep the initramfs small.
var defaultModuleModels = []string{"virtio-net-pci", "e1000"}

// NICModels lists the NIC models a guest can be given.
func NICModels() []string {
	var out []string
	for _, m := range nicModels {
		out = append(out, m.nic.Model)
	}
	return out
}

// moduleStacks returns the module stacks to ship for the models asked for.
func moduleStacks(models []string) [][]string {
	if len(models) == 0 {
		models = defaultModuleModels
	}
	var out [][]string
	for _, m := range nicModels {
		if slices.Contains(models, m.nic.Model) {
			out = append(out, m.modules)
		}
	}
	return out
}

// maxNICs bounds the cards a guest gets: the best one and a fallback.
const maxNICs = 2

// chooseNICs offers the guest the NIC models it has drivers for, built in
// (found in the image) or shipped as modules in its initramfs, best first.
// When no driver can be found (a compression the host cannot read, a
// driver under another name) the guest gets vm.DefaultNICs: a card
// without a driver costs nothing, and serial remains the way in.
// Models, if given, are the only ones offered.
func chooseNICs(ctx context.Context, cache store.Cache, k *kernels.Kernel, mods []initramfs.Module, models []string) []vm.NIC {
	if len(models) > 0 {
		return nicsFor(nil, nil, models) // asked for: nothing to look for
	}
	// Modules that give the two best models leave nothing to look for.
	if got := nicsFor(nil, mods, nil); len(got) == maxNICs && got[0] == nicModels[0].nic && got[1] == nicModels[1].nic {
		return got
	}
	var names []string
	for _, m := range nicModels {
		names = append(names, m.drivers...)
	}
	builtin, err := bootimage.CachedBuiltinDrivers(ctx, cache, k.Path, k.Origin.SHA256, names)
	if err != nil {
		return vm.DefaultNICs
	}
	return nicsFor(builtin, mods, nil)
}

// nicsFor picks the NIC models for a kernel with these built-in drivers
// and NIC modules; models, if given, are the only ones offered, whether
// or not a driver was found for them.
func nicsFor(builtin []string, mods []initramfs.Module, models []string) []vm.NIC {
	if len(models) > 0 {
		var out []vm.NIC
		for _, m := range nicModels {
			if slices.Contains(models, m.nic.Model) {
				out = append(out, m.nic)
			}
		}
		return out
	}
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
