// Package bootproto is the contract between the runner and the guest init:
// file locations in the initramfs and the console lines the init prints.
package bootproto

import (
	"encoding/json"
	"strings"
)

// Paths inside the initramfs.
const (
	HostKeyPath       = "/etc/runmatrix/host_key"
	AuthorizedKeyPath = "/etc/runmatrix/authorized_key"
	// SeedPath holds random bytes from the host that the init credits to
	// the kernel's entropy pool, so getrandom() does not block early boot.
	SeedPath        = "/etc/runmatrix/seed"
	ModulesListPath = "/etc/runmatrix/modules"
	ModulesDir      = "/lib/runmatrix-modules"
)

// Console line prefixes.
const (
	ReadyPrefix = "RUNMATRIX-READY "
	FatalPrefix = "RUNMATRIX-FATAL "
	NotePrefix  = "RUNMATRIX-NOTE "
)

// NoConsoleEnv, given on the kernel command line as NoConsoleEnv=1 (the
// kernel hands unknown name=value words to init's environment), makes the
// init behave as on a kernel whose console it cannot open: it reports
// through the kernel log. It exists to test that path on any kernel.
const NoConsoleEnv = "runmatrix_noconsole"

// Transports the guest can offer SSH on.
const (
	TransportNet    = "net"
	TransportSerial = "serial"
)

// BareArg on the kernel command line makes the init power off as soon as
// it runs: the bare boot time benchmarks compare readiness against.
const BareArg = "runmatrix.bare"

// GuestIP is the address the init gives the NIC, QEMU user networking's default.
const GuestIP = "10.0.2.15"

// Ready is what the init announces once SSH is being served.
type Ready struct {
	Transport string `json:"transport"`
	Iface     string `json:"iface,omitempty"`
	Driver    string `json:"driver,omitempty"`
	MAC       string `json:"mac,omitempty"`
	// Console is "kmsg" when init could not open its console and reports
	// through the kernel log.
	Console string `json:"console,omitempty"`
}

// ConsoleKmsg is Ready.Console for an init reporting through /dev/kmsg.
const ConsoleKmsg = "kmsg"

// Line formats r as its console line.
func (r Ready) Line() string {
	b, _ := json.Marshal(r)
	return ReadyPrefix + string(b)
}

// ParseReady parses a console line; ok is false when it is not a ready line.
func ParseReady(line string) (r Ready, ok bool) {
	i := strings.Index(line, ReadyPrefix)
	if i < 0 {
		return r, false
	}
	if json.Unmarshal([]byte(strings.TrimSpace(line[i+len(ReadyPrefix):])), &r) != nil {
		return r, false
	}
	return r, true
}

// NIC is a network interface the guest init found, with its driver.
type NIC struct {
	Iface, Driver, MAC string
}

// Choose picks the transport the guest offers: the NIC with the preferred
// driver (virtio_net, then e1000, then any other with a driver), or the
// second serial port when no NIC has a driver.
func Choose(nics []NIC) Ready {
	rank := func(d string) int {
		switch d {
		case "virtio_net":
			return 0
		case "e1000":
			return 1
		case "", ".":
			return 3
		}
		return 2
	}
	best := -1
	for i, n := range nics {
		if rank(n.Driver) < 3 && (best < 0 || rank(n.Driver) < rank(nics[best].Driver)) {
			best = i
		}
	}
	if best < 0 {
		return Ready{Transport: TransportSerial, Iface: SerialDevice}
	}
	n := nics[best]
	return Ready{Transport: TransportNet, Iface: n.Iface, Driver: n.Driver, MAC: n.MAC}
}

// SerialDevice is the guest's serial port for SSH (the host's second -serial).
const SerialDevice = "/dev/ttyS1"

// SSHVersion is the identification string of the guest's SSH server.
const SSHVersion = "SSH-2.0-runmatrix-init"

// CmdPoweroff, as an exec request, powers the guest off.
const CmdPoweroff = "rmx-poweroff"

// AgentPath is where the guest agent lies in the initramfs: it comes with
// the guest's boot, not over the (slow, on a serial line) SSH session.
const AgentPath = "/runmatrix/guest-agent"

// GoTestManifestPath lists the go test binaries shipped in the initramfs
// (JSON, a []GoTest); GoTestDir holds them.
const (
	GoTestManifestPath = "/runmatrix/gotest/manifest.json"
	GoTestDir          = "/runmatrix/gotest"
)

// GoTest is one package's test binary in the guest.
type GoTest struct {
	// Import is the package's import path; its rows are gotest:Import.TestName.
	Import string `json:"import"`
	// Bin is the test binary and Dir the copy of the package directory it
	// runs in, both paths in the guest.
	Bin string `json:"bin"`
	Dir string `json:"dir"`
	// Args are test flags passed through to every run (-test.short).
	Args []string `json:"args,omitempty"`
	// TimeoutS bounds one test function's run, in seconds.
	TimeoutS int `json:"timeout_s"`
}

// GoTestPrefix starts the case ID of a go test row.
const GoTestPrefix = "gotest:"

// ProgramManifestPath lists the user's programs shipped in the initramfs
// (JSON, a []Program); ProgramDir holds them.
const (
	ProgramManifestPath = "/runmatrix/prog/manifest.json"
	ProgramDir          = "/runmatrix/prog"
)

// Program is one user program in the guest, run as a case.
type Program struct {
	// ID is the program's case ID.
	ID string `json:"id"`
	// Dir holds the program and the files shipped beside it (a path in the
	// guest); Bin is the program's name in it.
	Dir string `json:"dir"`
	Bin string `json:"bin"`
	// Interp, when set, runs the program (a script's interpreter, shipped
	// like a program: a path in the guest).
	Interp string   `json:"interp,omitempty"`
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	// LibDir holds the shared libraries a dynamically linked program needs.
	LibDir   string `json:"lib_dir,omitempty"`
	TimeoutS int    `json:"timeout_s"`
	// Trace records the program's socket calls under ptrace.
	Trace bool `json:"trace,omitempty"`
	// Modules are kernel modules the program needs (loaded at boot).
	Modules []string `json:"modules,omitempty"`
}

// SummaryPrefix starts the line a program prints to give its own summary.
const SummaryPrefix = "RUNMATRIX-SUMMARY: "
