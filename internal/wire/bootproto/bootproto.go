// Package bootproto is the contract between the runner and the guest init:
// file locations in the initramfs and the console lines the init prints.
package bootproto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// Paths inside the initramfs.
const (
	// RunPath holds a run line (RunPrefix and a Run) in the initramfs of a
	// guest booted without runmatrix (an evidence bundle's); a guest of a
	// run gets its line on ttyS1 instead, after its snapshot point.
	RunPath         = "/etc/runmatrix/run"
	ModulesListPath = "/etc/runmatrix/modules"
	ModulesDir      = "/lib/runmatrix-modules"
)

// Console line prefixes.
const (
	// WaitLine is what init prints once it is up and about to wait for its
	// run line: everything before it is the same for every guest of the
	// kernel, so the host may save the guest there and start later guests
	// from that snapshot.
	WaitLine    = "RUNMATRIX-WAIT"
	ReadyPrefix = "RUNMATRIX-READY "
	FatalPrefix = "RUNMATRIX-FATAL "
	NotePrefix  = "RUNMATRIX-NOTE "
	// RunPrefix starts the line the host writes to ttyS1 (or RunPath holds)
	// with what is particular to one guest.
	RunPrefix = "RUNMATRIX-RUN "
)

// MaxRunLine bounds a run line, which the init reads before it trusts
// anything else from the host.
const MaxRunLine = 64 << 10

// Run is what is particular to one guest, handed over after its snapshot
// point so that no two guests started from one snapshot share it.
type Run struct {
	// HostKey is the seed of the guest's ed25519 SSH host key;
	// AuthorizedKey the client's ed25519 public key. Raw 32 bytes each:
	// the line crosses a serial port, where every byte costs.
	HostKey       []byte
	AuthorizedKey []byte
	// Secret, when set, is a password the guest's SSH server admits (see
	// sshserver.Admit): a run's guests get one instead of AuthorizedKey.
	Secret []byte
	// Seed is credited to the kernel's entropy pool, which is then reseeded.
	Seed []byte
	// UnixNano is the host's clock when the line was written.
	UnixNano int64
}

// keySize is the size of an ed25519 seed and of its public key; minSecret
// the shortest secret a guest admits.
const (
	keySize   = 32
	minSecret = 16
)

// b64 encodes the run line's bytes: unpadded, URL-safe, no spaces.
var b64 = base64.RawURLEncoding

// Line formats r as its run line, newline included: RunPrefix and
// space-separated fields h= (host key seed), a= (authorized key), p=
// (secret), s= (seed) and t= (clock). It is not JSON on purpose: a
// restored guest parses it first, and every code path it runs for the
// first time after the restore is translated anew under TCG (JSON cost
// 17-35 ms there).
func (r Run) Line() []byte {
	line := RunPrefix + "h=" + b64.EncodeToString(r.HostKey)
	if len(r.AuthorizedKey) > 0 {
		line += " a=" + b64.EncodeToString(r.AuthorizedKey)
	}
	if len(r.Secret) > 0 {
		line += " p=" + b64.EncodeToString(r.Secret)
	}
	if len(r.Seed) > 0 {
		line += " s=" + b64.EncodeToString(r.Seed)
	}
	if r.UnixNano != 0 {
		line += " t=" + strconv.FormatInt(r.UnixNano, 10)
	}
	return []byte(line + "\n")
}

// ParseRun parses a run line; fields it does not know are skipped.
func ParseRun(line string) (Run, error) {
	var r Run
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), RunPrefix)
	if !ok {
		return r, fmt.Errorf("not a run line: %.40q", line)
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "h":
			r.HostKey, err = b64.DecodeString(v)
		case "a":
			r.AuthorizedKey, err = b64.DecodeString(v)
		case "p":
			r.Secret, err = b64.DecodeString(v)
		case "s":
			r.Seed, err = b64.DecodeString(v)
		case "t":
			r.UnixNano, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return Run{}, fmt.Errorf("run line: field %s: %w", k, err)
		}
	}
	switch {
	case len(r.HostKey) != keySize:
		return Run{}, fmt.Errorf("run line without its ed25519 host key")
	case r.AuthorizedKey == nil && len(r.Secret) < minSecret:
		return Run{}, fmt.Errorf("run line admits no one: no authorized key, no secret of %d bytes or more", minSecret)
	case r.AuthorizedKey != nil && len(r.AuthorizedKey) != keySize:
		return Run{}, fmt.Errorf("run line: the authorized key is not an ed25519 key")
	}
	return r, nil
}

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
		return Ready{Transport: TransportSerial, Iface: SerialDevice()}
	}
	n := nics[best]
	return Ready{Transport: TransportNet, Iface: n.Iface, Driver: n.Driver, MAC: n.MAC}
}

// SerialDevice is the guest's device of the host's second channel (the run
// line, and SSH where no NIC has a driver): SerialDeviceOf this guest's
// architecture.
func SerialDevice() string { return SerialDeviceOf(runtime.GOARCH) }

// SerialDeviceOf is the second channel's device for a guest of goarch: the
// second serial port on x86, a virtio console where the machine has one
// UART (arm64, arm and riscv64 virt, s390x), hvc1 on ppc64le's pseries,
// whose every -serial is a spapr-vty (see vm.Arch).
func SerialDeviceOf(goarch string) string {
	switch goarch {
	case "arm64", "riscv64", "arm", "s390x":
		return "/dev/hvc0"
	case "ppc64le":
		return "/dev/hvc1"
	}
	return "/dev/ttyS1"
}

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
	// Import is the package's import path.
	Import string `json:"import"`
	// Rows are the case IDs of its rows (gotest:Import.TestName), each
	// with the test function it runs: the guest looks a cell up here by
	// its ID, never by taking the ID apart.
	Rows map[string]string `json:"rows"`
	// Bin is the test binary and Dir the copy of the package directory it
	// runs in, both paths in the guest.
	Bin string `json:"bin"`
	Dir string `json:"dir"`
	// Args are test flags passed through to every run (-test.short).
	Args []string `json:"args,omitempty"`
	// TimeoutS bounds one test function's run, in seconds.
	TimeoutS int `json:"timeout_s"`
}

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
	// TraceEvery traces with a stop at every system call even where a
	// seccomp filter could pick the socket calls (for comparing the two).
	TraceEvery bool `json:"trace_every,omitempty"`
	// Modules are kernel modules the program needs (loaded at boot).
	Modules []string `json:"modules,omitempty"`
}

// SummaryPrefix starts the line a program prints to give its own summary.
const SummaryPrefix = "RUNMATRIX-SUMMARY: "
