package vm

import (
	"fmt"
	"runtime"
)

// Arch is what QEMU needs to run a guest of one architecture: adding an
// architecture is adding an entry to arches.
type Arch struct {
	// Name is the kernel's machine name (uname -m family): x86_64, i386, aarch64.
	Name string
	// QEMU is the binary and Package the Debian package that has it.
	QEMU, Package string
	// Machine is QEMU's -machine type and CPU its -cpu ("" for the default).
	Machine, CPU string
	// Console is the kernel's console device (console=...).
	Console string
	// Port is the guest device of the host's second channel (the run
	// line, and SSH where no NIC has a driver); portArgs attach a chardev
	// to it.
	Port     string
	portArgs func(chardev string) []string
	// HostGOARCH is the host GOARCH that runs this arch under KVM ("" none).
	HostGOARCH string
}

var arches = []Arch{
	{Name: "x86_64", QEMU: DefaultQEMU, Package: "qemu-system-x86", Machine: "pc", Console: "ttyS0", Port: "/dev/ttyS1",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "amd64"},
	{Name: "i386", QEMU: DefaultQEMU, Package: "qemu-system-x86", Machine: "pc", Console: "ttyS0", Port: "/dev/ttyS1",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "amd64"},
	// virt has one PL011 for the non-secure world: the second channel is a
	// virtio console (hvc0), built into Debian's arm64 kernels.
	{Name: "aarch64", QEMU: "qemu-system-aarch64", Package: "qemu-system-arm", Machine: "virt", CPU: "cortex-a57", Console: "ttyAMA0", Port: "/dev/hvc0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, HostGOARCH: "arm64"},
	// riscv64 virt: an ns16550a UART (ttyS0) and OpenSBI as firmware
	// (QEMU's default -bios); the second channel is a virtio console.
	{Name: "riscv64", QEMU: "qemu-system-riscv64", Package: "qemu-system-misc", Machine: "virt", Console: "ttyS0", Port: "/dev/hvc0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, HostGOARCH: "riscv64"},
	// 32-bit ARM (Debian armhf, armmp flavour) on virt with a Cortex-A15;
	// highmem=off keeps PCI below 4 GiB, where a kernel without LPAE sees it.
	{Name: "armv7l", QEMU: "qemu-system-arm", Package: "qemu-system-arm", Machine: "virt,highmem=off", CPU: "cortex-a15", Console: "ttyAMA0", Port: "/dev/hvc0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, HostGOARCH: "arm"},
	// ppc64el on pseries: each -serial is a spapr-vty, hvc0 the console
	// and hvc1 the second channel.
	{Name: "ppc64le", QEMU: "qemu-system-ppc64", Package: "qemu-system-ppc", Machine: "pseries", CPU: "power9", Console: "hvc0", Port: "/dev/hvc1",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "ppc64le"},
}

// ArchOf returns the architecture of a kernel machine name ("" is x86_64).
func ArchOf(name string) (Arch, error) {
	if name == "" {
		name = "x86_64"
	}
	for _, a := range arches {
		if a.Name == name {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("no QEMU machine for architecture %q", name)
}

// Native reports whether the host can run a guest of a under KVM.
func (a Arch) Native() bool { return a.HostGOARCH == runtime.GOARCH }
