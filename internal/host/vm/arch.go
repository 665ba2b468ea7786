package vm

import (
	"fmt"
	"runtime"
	"strings"
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
	// portArgs attach a chardev to the guest's device of the host's
	// second channel (the run line, and SSH where no NIC has a driver),
	// the device bootproto.SerialDevice names in the guest.
	portArgs func(chardev string) []string
	// PortModule is the kernel module that drives Port where the kernel
	// builds it as one (virtio_console: a module in Debian's 6.1 arm64,
	// built in from 6.12); loaded at boot, before the NIC's.
	PortModule string
	// nic turns a NIC model (a PCI device name) into this machine's, or
	// says it has none (nil: every model as named).
	nic func(model string) (string, bool)
	// HostGOARCH is the host GOARCH that runs this arch under KVM ("" none).
	HostGOARCH string
	// NoSnapshot, when set, says why guests of this arch are not saved and
	// restored (every guest boots cold).
	NoSnapshot string
	// MinQEMU is the oldest QEMU (major.minor) whose emulation of this
	// arch can be trusted, and Why says what goes wrong before it.
	MinQEMU, Why string
}

var arches = []Arch{
	{Name: "x86_64", QEMU: DefaultQEMU, Package: "qemu-system-x86", Machine: "pc", Console: "ttyS0",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "amd64"},
	{Name: "i386", QEMU: DefaultQEMU, Package: "qemu-system-x86", Machine: "pc", Console: "ttyS0",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "amd64"},
	// virt has one PL011 for the non-secure world: the second channel is a
	// virtio console (hvc0).
	{Name: "aarch64", QEMU: "qemu-system-aarch64", Package: "qemu-system-arm", Machine: "virt", CPU: "cortex-a57", Console: "ttyAMA0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, PortModule: "virtio_console", HostGOARCH: "arm64"},
	// riscv64 virt: an ns16550a UART (ttyS0) and OpenSBI as firmware
	// (QEMU's default -bios); the second channel is a virtio console.
	{Name: "riscv64", QEMU: "qemu-system-riscv64", Package: "qemu-system-misc", Machine: "virt", Console: "ttyS0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, PortModule: "virtio_console", HostGOARCH: "riscv64"},
	// 32-bit ARM (Debian armhf, armmp flavour) on virt with a Cortex-A15;
	// highmem=off keeps PCI below 4 GiB, where a kernel without LPAE sees it.
	{Name: "armv7l", QEMU: "qemu-system-arm", Package: "qemu-system-arm", Machine: "virt,highmem=off", CPU: "cortex-a15", Console: "ttyAMA0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-pci,id=vser", "-device", "virtconsole,chardev=" + c}
		}, PortModule: "virtio_console", HostGOARCH: "arm"},
	// ppc64el on pseries: each -serial is a spapr-vty, hvc0 the console
	// and hvc1 the second channel.
	{Name: "ppc64le", QEMU: "qemu-system-ppc64", Package: "qemu-system-ppc", Machine: "pseries", CPU: "power9", Console: "hvc0",
		portArgs: func(c string) []string { return []string{"-serial", "chardev:" + c} }, HostGOARCH: "ppc64le",
		// Measured: a restored pseries guest (QEMU 7.2, TCG) came up but
		// never woke from a sleep again, so its cases never ended.
		NoSnapshot: "a pseries guest restored under TCG never wakes from a sleep"},
	// s390x: the console is SCLP (ttysclp0), devices sit on the channel
	// subsystem (virtio-*-ccw: no PCI NIC), the second channel a virtio
	// console.
	{Name: "s390x", QEMU: "qemu-system-s390x", Package: "qemu-system-misc", Machine: "s390-ccw-virtio", Console: "ttysclp0",
		portArgs: func(c string) []string {
			return []string{"-device", "virtio-serial-ccw,id=vser", "-device", "virtconsole,chardev=" + c}
		},
		nic: func(model string) (string, bool) {
			if model == "virtio-net-pci" {
				return "virtio-net-ccw", true
			}
			return "", false
		}, PortModule: "virtio_console", HostGOARCH: "s390x",
		// Measured with QEMU 7.2 (TCG) and Debian's 6.12: a connect to a
		// closed port got no RST (timeout), a raw observer saw no reply,
		// and SSH over virtio-net was reset, while x86, arm and ppc64el
		// guests answer alike. QEMU fixed s390x TCG mistranslations of
		// z13 instructions after 7.2 (LOCFHR, 2023): outcomes would be
		// the emulator's, not the kernel's.
		MinQEMU: "8.1", Why: "its s390x emulation loses TCP resets (a connect to a closed port times out), so outcomes would be the emulator's, not the kernel's"},
}

// NIC returns the device this machine has for a NIC model, if any.
func (a Arch) NIC(model string) (string, bool) {
	if a.nic == nil {
		return model, true
	}
	return a.nic(model)
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

// Binary is the QEMU binary guests of a run under, given the configured
// one (Config.QEMU, --qemu), which names the x86 binary: other
// architectures use the table's.
func (a Arch) Binary(qemu string) string {
	if qemu == "" || a.QEMU != DefaultQEMU {
		return a.QEMU
	}
	return qemu
}

// Native reports whether the host can run a guest of a under KVM.
func (a Arch) Native() bool { return a.HostGOARCH == runtime.GOARCH }

// Trusted says whether qemuVersion (QEMU's --version line) emulates a
// well enough to state kernel behaviour, and if not, why.
func (a Arch) Trusted(qemuVersion string) (bool, string) {
	if a.MinQEMU == "" {
		return true, ""
	}
	var major, minor int
	if i := strings.Index(qemuVersion, "version "); i >= 0 {
		fmt.Sscanf(qemuVersion[i+len("version "):], "%d.%d", &major, &minor)
	}
	var wantMajor, wantMinor int
	fmt.Sscanf(a.MinQEMU, "%d.%d", &wantMajor, &wantMinor)
	if major > wantMajor || major == wantMajor && minor >= wantMinor {
		return true, ""
	}
	return false, fmt.Sprintf("QEMU %d.%d is older than %s, and %s", major, minor, a.MinQEMU, a.Why)
}
