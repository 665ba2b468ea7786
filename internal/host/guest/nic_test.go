package guest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

func TestNICsFor(t *testing.T) {
	models := func(ns []vm.NIC) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Model)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		builtin []string
		mods    []string
		want    []string
	}{
		{"virtio built in (Ubuntu 2.6.32, rancher 4.2)", []string{"virtio_net"}, nil, []string{"virtio-net-pci"}},
		{"virtio as a module (Debian)", nil, []string{"virtio_pci.ko", "virtio_net.ko", "e1000.ko"}, []string{"virtio-net-pci", "e1000"}},
		{"many built in: the best two", []string{"pcnet32", "e1000", "virtio_net"}, nil, []string{"virtio-net-pci", "e1000"}},
		{"only an rtl8139 driver", []string{"8139cp"}, nil, []string{"rtl8139"}},
		{"8139too refuses QEMU's 8139C+", []string{"8139too"}, nil, models(vm.DefaultNICs)},
		{"pcnet and ne2k-pci", []string{"ne2k-pci", "pcnet32"}, nil, []string{"pcnet", "ne2k_pci"}},
		{"a ne2k_pci module", nil, []string{"8390.ko", "ne2k_pci.ko"}, []string{"ne2k_pci"}},
		{"no driver found: the defaults, serial stays the way in", nil, nil, models(vm.DefaultNICs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mods []initramfs.Module
			for _, m := range tc.mods {
				mods = append(mods, initramfs.Module{Name: m})
			}
			got := nicsFor(tc.builtin, mods, nil)
			require.Equal(t, tc.want, models(got))
			macs := map[string]bool{}
			for _, n := range got {
				require.False(t, macs[n.MAC], "MACs tell the NICs apart")
				macs[n.MAC] = true
			}
		})
	}
}

func TestNICsAskedFor(t *testing.T) {
	got := nicsFor([]string{"virtio_net"}, nil, []string{"pcnet", "e1000"})
	require.Len(t, got, 2)
	require.Equal(t, "e1000", got[0].Model, "the guest's order of preference")
	require.Equal(t, "pcnet", got[1].Model)
	require.Equal(t, [][]string{{"e1000"}, {"pcnet32"}}, moduleStacks([]string{"pcnet", "e1000"}))
	require.Equal(t, [][]string{{"virtio_pci", "virtio_net"}, {"e1000"}}, moduleStacks(nil))
}
