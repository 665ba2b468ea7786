// Package vm runs one QEMU guest: its process, QMP monitor, serial console
// and forwarded SSH ports.
package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// Accelerators.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// DefaultQEMU is the QEMU binary used when Config.QEMU is empty.
const DefaultQEMU = "qemu-system-x86_64"

// NIC is one network card offered to the guest, each on its own user-mode network.
type NIC struct {
	Model string // QEMU device: virtio-net-pci, e1000
	MAC   string
}

// DefaultNICs are offered to every guest; the init brings up the best one it has a driver for.
var DefaultNICs = []NIC{{"virtio-net-pci", "52:54:00:12:34:01"}, {"e1000", "52:54:00:12:34:02"}}

// Config describes a guest to start.
type Config struct {
	QEMU   string
	Kernel string
	// Initrd is the initramfs path.
	Initrd   string
	Append   string
	Accel    string
	MemoryMB int
	CPUs     int
	NICs     []NIC
	// Dir holds the QMP socket and console log; the caller owns it.
	Dir string
	// Arch is the guest's architecture (cpu.*; "" is x86_64).
	Arch string
	// Shares are host folders the guest may mount read-only over 9p.
	Shares []Share
	// Incoming, when set, is a saved guest (see Machine.Save) that QEMU
	// loads and runs instead of booting; the rest of Config must be the
	// one it was saved under.
	Incoming string
}

// Share is a host folder a guest mounts read-only over virtio 9p, by its
// tag (mount -t 9p -o trans=virtio TAG DIR).
type Share struct {
	Path, Tag string
}

// Machine is a running QEMU guest.
type Machine struct {
	cfg     Config
	args    []string
	cmd     *exec.Cmd
	mon     *qmp.SocketMonitor
	con     *console
	started time.Time
	exited  chan struct{}
	waitErr error
	serial  net.Conn
	// stderr keeps the end of what QEMU itself said ("initrd is too
	// large"), for the error of a QEMU that exits.
	stderr tail

	closeOnce sync.Once
}

// ConsoleLog is the file, inside Config.Dir, that receives the serial console.
const ConsoleLog = "console.log"

// Start launches QEMU and connects to its QMP monitor.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	arch, err := ArchOf(cfg.Arch)
	if err != nil {
		return nil, err
	}
	cfg.QEMU = arch.Binary(cfg.QEMU)
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 512
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.NICs == nil {
		cfg.NICs = DefaultNICs
	}
	if _, err := exec.LookPath(cfg.QEMU); err != nil {
		return nil, fmt.Errorf("%s not found: install it with `apt-get install %s`", cfg.QEMU, arch.Package)
	}
	qmpPath := filepath.Join(cfg.Dir, "qmp.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: qmpPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("qmp socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	l.Close()
	if err != nil {
		return nil, fmt.Errorf("qmp socket: %w", err)
	}
	defer lf.Close()

	// The second serial port is one end of a socketpair: connected before
	// QEMU starts, so no byte the guest sends on it can be lost.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("serial socketpair: %w", err)
	}
	qemuEnd := os.NewFile(uintptr(pair[0]), "serial1-qemu")
	defer qemuEnd.Close()
	hostEnd := os.NewFile(uintptr(pair[1]), "serial1-host")
	serial, err := net.FileConn(hostEnd)
	hostEnd.Close()
	if err != nil {
		return nil, fmt.Errorf("serial socketpair: %w", err)
	}

	started := false
	defer func() {
		if !started {
			serial.Close()
		}
	}()

	m := &Machine{cfg: cfg, con: newConsole(200), exited: make(chan struct{}), serial: serial}
	var incoming *os.File
	if cfg.Incoming != "" {
		// QEMU reads the saved guest from an inherited descriptor: no
		// shell and no pipe between the file and the loader.
		if incoming, err = os.Open(cfg.Incoming); err != nil {
			return nil, fmt.Errorf("saved guest: %w", err)
		}
		defer incoming.Close()
	}
	m.args = m.buildArgs(3, 4)
	logf, err := os.Create(filepath.Join(cfg.Dir, ConsoleLog))
	if err != nil {
		return nil, err
	}
	m.cmd = exec.Command(cfg.QEMU, m.args...)
	m.cmd.ExtraFiles = []*os.File{lf, qemuEnd}
	if incoming != nil {
		m.cmd.ExtraFiles = append(m.cmd.ExtraFiles, incoming) // fd 5, see buildArgs
	}
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	m.stderr.max = 2048
	m.cmd.Stderr = io.MultiWriter(logf, &m.stderr)
	m.started = time.Now()
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.QEMU, err)
	}
	go m.con.run(stdout, logf)
	go func() {
		<-m.con.done
		m.waitErr = m.cmd.Wait()
		logf.Close()
		close(m.exited)
	}()
	if err := m.connectQMP(ctx, qmpPath); err != nil {
		// QEMU that refused its command line exits at once: what it said
		// is the reason, not the monitor's closed socket.
		select {
		case <-m.exited:
		case <-time.After(2 * time.Second):
		}
		m.Kill()
		if said := m.qemuSaid(); said != "" {
			return nil, fmt.Errorf("QEMU exited: %s", said)
		}
		return nil, fmt.Errorf("qmp: %w; console: %s", err, strings.Join(m.con.tail(5), " | "))
	}
	started = true
	return m, nil
}

func (m *Machine) buildArgs(qmpFD, serialFD int) []string {
	c := m.cfg
	arch, _ := ArchOf(c.Arch) // Start checked it
	a := []string{
		"-machine", arch.Machine + ",accel=" + c.Accel, // x86: i440fx, as q35 panics CentOS 6 guests
	}
	if arch.CPU != "" {
		a = append(a, "-cpu", arch.CPU)
	}
	a = append(a,
		"-m", strconv.Itoa(c.MemoryMB), "-smp", strconv.Itoa(c.CPUs),
		"-name", filepath.Base(c.Dir), // marks the process as a runmatrix guest (pgrep -f runmatrix-guest-PID)
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		"-chardev", fmt.Sprintf("socket,id=qmp,fd=%d,server=on,wait=off", qmpFD), "-mon", "chardev=qmp,mode=control",
		"-chardev", fmt.Sprintf("socket,id=ser1,fd=%d", serialFD))
	a = append(a, arch.portArgs("ser1")...)
	a = append(a, "-kernel", c.Kernel, "-initrd", c.Initrd, "-append", c.Append)
	for i, n := range c.NICs {
		model, ok := arch.NIC(n.Model)
		if !ok {
			continue
		}
		a = append(a, "-netdev", fmt.Sprintf("user,id=n%d,restrict=on,hostfwd=tcp:127.0.0.1:0-:22", i),
			"-device", fmt.Sprintf("%s,netdev=n%d,mac=%s", model, i, n.MAC))
	}
	// The 9p device on the NIC's transport: PCI, or CCW on s390x.
	device := "virtio-9p-pci"
	if m, ok := arch.NIC("virtio-net-pci"); ok {
		device = strings.Replace(m, "virtio-net", "virtio-9p", 1)
	}
	for i, sh := range c.Shares {
		a = append(a, "-fsdev", fmt.Sprintf("local,id=fs%d,path=%s,security_model=none,readonly=on", i, sh.Path),
			"-device", fmt.Sprintf("%s,fsdev=fs%d,mount_tag=%s", device, i, sh.Tag))
	}
	if c.Incoming != "" {
		// Guest RAM is faulted in as the saved state and the guest touch
		// it, not preallocated (-mem-prealloc): zeroing all of it up front
		// cost 0.7-1.6 s of host CPU per restore against 0.3-0.4 s, and
		// restores took 0.6-1.5 s against 0.23-0.33 s (QEMU 7.2, 512 MiB,
		// 2-core host with THP on madvise).
		a = append(a, "-incoming", "fd:5")
	}
	return a
}

// SnapshotArgs is the part of cfg's command line that shapes a saved
// guest: what a snapshot must be loaded under (everything but the
// guest's name, the descriptors and -incoming).
func SnapshotArgs(cfg Config) []string {
	cfg.Incoming = ""
	m := &Machine{cfg: cfg}
	a := m.buildArgs(3, 4)
	for i := 0; i+1 < len(a); i++ {
		if a[i] == "-name" {
			a = append(a[:i:i], a[i+2:]...)
			break
		}
	}
	return a
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// PortableArgs is the command line that boots cfg from files alone, to be
// pasted in a shell: the console on the terminal (Ctrl-A X quits), no QMP,
// no second channel, and the guest's SSH port forwarded to 127.0.0.1:sshPort. cfg.Kernel and cfg.Initrd are used as given
// (relative names run in the folder holding them).
func PortableArgs(cfg Config, sshPort int) []string {
	arch, err := ArchOf(cfg.Arch)
	if err != nil {
		arch, _ = ArchOf("")
	}
	a := []string{arch.Binary(cfg.QEMU), "-machine", arch.Machine + ",accel=" + cfg.Accel}
	if arch.CPU != "" {
		a = append(a, "-cpu", arch.CPU)
	}
	a = append(a, "-m", strconv.Itoa(cfg.MemoryMB), "-smp", strconv.Itoa(cfg.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "mon:stdio", // the guest reads its run line from the initramfs: no second channel
		"-kernel", cfg.Kernel, "-initrd", cfg.Initrd, "-append", cfg.Append,
	)
	for i, n := range cfg.NICs {
		model, ok := arch.NIC(n.Model)
		if !ok {
			continue
		}
		fwd := ""
		if i == 0 {
			fwd = fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:22", sshPort)
		}
		a = append(a, "-netdev", fmt.Sprintf("user,id=n%d,restrict=on%s", i, fwd),
			"-device", fmt.Sprintf("%s,netdev=n%d,mac=%s", model, i, n.MAC))
	}
	return a
}

// CommandLine returns QEMU's command line, for reports.
func (m *Machine) CommandLine() []string {
	return append([]string{m.cfg.QEMU}, m.args...)
}

func (m *Machine) connectQMP(ctx context.Context, path string) error {
	mon, err := qmp.NewSocketMonitor("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- mon.Connect() }()
	select {
	case err := <-errc:
		if err != nil {
			// Disconnect blocks before a successful Connect; QEMU's exit closes the socket.
			return err
		}
		m.mon = mon
		return nil
	case <-m.exited:
		return errors.New("QEMU exited")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BootError is a guest that could not be booted or reached: the one boot
// failure type, from resolving its kernel to its agent's first answer
// (and a guest lost later, at stage agent), with its last console lines.
type BootError struct {
	// Stage is where it failed: prepare, boot, ssh or agent ("": booting).
	Stage string
	// Reason says what happened; Err is the cause, when it came as an error.
	Reason  string
	Err     error
	Console []string
	// Panic is set when the guest printed a fatal line (a kernel panic,
	// the init giving up): booting it again would fail the same way.
	Panic bool
	// InitStarted is set when the deadline came after the kernel had
	// handed over to init (its console said so): what stalled is the same
	// kernel and init on the next boot, not a slow host.
	InitStarted bool
	// Silent is set when the boot was stopped past its expected time with
	// its console silent: booting it again would wait the same way.
	Silent bool
}

// initMarkers are console lines a kernel prints as it starts init.
var initMarkers = []string{"Freeing unused kernel memory", "Run /init as init process", "Freeing unused kernel image"}

func (e *BootError) Error() string {
	msg := e.Reason
	if e.Err != nil {
		msg = e.Err.Error()
		if e.Reason != "" {
			msg = e.Reason + ": " + msg
		}
	}
	if e.Stage != "" {
		return e.Stage + ": " + msg
	}
	return msg
}

func (e *BootError) Unwrap() error { return e.Err }

// KernelFault reports a failure of the kernel itself (Panic), which
// booting again does not mend.
func (e *BootError) KernelFault() bool { return e.Panic }

// ConsoleTail is the guest's last console lines.
func (e *BootError) ConsoleTail() []string { return e.Console }

// WaitReady waits for the init's ready line; a panic, an early exit or the
// context's deadline ends the wait with a *BootError.
func (m *Machine) WaitReady(ctx context.Context) (bootproto.Ready, error) {
	var r bootproto.Ready
	err := m.await(ctx, func(ok chan<- struct{}) {
		select {
		case r = <-m.con.ready:
			close(ok)
		case <-ctx.Done():
		}
	})
	return r, err
}

// WaitSnapshotPoint waits for the init's wait line (bootproto.WaitLine),
// where the guest may be saved and then handed its run line.
func (m *Machine) WaitSnapshotPoint(ctx context.Context) error {
	return m.await(ctx, func(ok chan<- struct{}) {
		select {
		case <-m.con.wait:
			close(ok)
		case <-ctx.Done():
		}
	})
}

// await runs wait, which closes ok when what is awaited came; a panic, an
// early exit or the context's deadline ends the wait with a *BootError.
func (m *Machine) await(ctx context.Context, wait func(ok chan<- struct{})) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ok := make(chan struct{})
	go wait(ok)
	select {
	case <-ok:
		return nil
	case line := <-m.con.fatal:
		err := m.bootError("guest failed: " + strings.TrimSpace(line))
		err.(*BootError).Panic = true
		return err
	case <-m.exited:
		if m.waitErr == nil {
			// With -no-reboot a guest reset ends QEMU cleanly: the kernel
			// triple-faulted or rebooted, which booting again won't mend.
			err := m.bootError("the guest reset before it was ready (a triple fault or a reboot: QEMU exited cleanly)" + m.memoryHint())
			err.(*BootError).Panic = true
			return err
		}
		reason := fmt.Sprintf("QEMU exited before the guest was ready (%v)", m.waitErr)
		if said := m.qemuSaid(); said != "" {
			reason += ": " + said
		}
		return m.bootError(reason)
	case <-ctx.Done():
		err := m.bootError(fmt.Sprintf("guest not ready after %s: %v", time.Since(m.started).Round(time.Second), ctx.Err()))
		err.(*BootError).InitStarted = m.con.seen(initMarkers)
		return err
	}
}

// qemuSaid is the last lines QEMU wrote on its stderr, joined.
func (m *Machine) qemuSaid() string {
	var lines []string
	for _, l := range strings.Split(m.stderr.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

// memoryHint names a memory size too small for the kernel and initramfs:
// a kernel that cannot place itself, its decompressed image and the
// unpacked initramfs resets before it prints anything.
func (m *Machine) memoryHint() string {
	k, err1 := os.Stat(m.cfg.Kernel)
	i, err2 := os.Stat(m.cfg.Initrd)
	if err1 != nil || err2 != nil {
		return ""
	}
	const mib = 1 << 20
	// The compressed image unpacks to about four times its size, and the
	// initramfs is held twice (its archive and its files) while it unpacks.
	need := (4*k.Size()+2*i.Size())/mib + 32
	if int64(m.cfg.MemoryMB) >= need*3/2 {
		return ""
	}
	return fmt.Sprintf("; --memory %d MiB is likely too little for this %d MiB kernel image and %d MiB initramfs: try --memory %d",
		m.cfg.MemoryMB, k.Size()/mib, i.Size()/mib, max(256, need*2))
}

func (m *Machine) bootError(reason string) error {
	return &BootError{Reason: reason, Console: m.Tail(25)}
}

// WaitRunning waits until the guest runs, resuming it once a saved state
// (Config.Incoming) is loaded: bytes sent to a serial port before then
// would be lost with the device's state.
func (m *Machine) WaitRunning(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := m.Status()
		if err != nil {
			return fmt.Errorf("qmp query-status: %w", err)
		}
		switch st {
		case "running":
			return nil
		case "paused":
			// Loaded: a guest saved while stopped stays stopped until told.
			if err := m.qmp("cont", nil); err != nil {
				return err
			}
		case "inmigrate", "prelaunch", "restore-vm", "postmigrate":
		default:
			return fmt.Errorf("the saved guest did not start: QEMU says %q", st)
		}
		select {
		case <-tick.C:
		case <-m.exited:
			return fmt.Errorf("QEMU exited while loading the saved guest (%v): %s", m.waitErr, strings.Join(m.Tail(3), " | "))
		case <-ctx.Done():
			return fmt.Errorf("QEMU still says %q: %w", st, ctx.Err())
		}
	}
}

// SendRun writes the guest's run line to its second serial port, where
// the init waits for it after its wait line.
func (m *Machine) SendRun(r bootproto.Run) error {
	_, err := m.serial.Write(r.Line())
	return err
}

// Save stops the guest, writes its whole state to path (QMP migrate, to a
// temporary file renamed into place once complete) and lets it run on.
// Started with Config.Incoming set to path, QEMU resumes from that state.
func (m *Machine) Save(ctx context.Context, path string) (int64, error) {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	defer os.Remove(tmp)
	if err := m.qmp("stop", nil); err != nil {
		return 0, err
	}
	defer m.qmp("cont", nil)
	if err := m.qmp("migrate", map[string]any{"uri": "exec:cat > " + shellQuote(tmp)}); err != nil {
		return 0, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		raw, err := m.mon.Run([]byte(`{"execute":"query-migrate"}`))
		if err != nil {
			return 0, fmt.Errorf("qmp query-migrate: %w", err)
		}
		var resp struct {
			Return struct {
				Status    string `json:"status"`
				ErrorDesc string `json:"error-desc"`
			}
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			return 0, fmt.Errorf("qmp query-migrate: %w", err)
		}
		switch resp.Return.Status {
		case "completed":
			fi, err := os.Stat(tmp)
			if err != nil {
				return 0, err
			}
			return fi.Size(), os.Rename(tmp, path)
		case "failed", "cancelled":
			return 0, fmt.Errorf("saving the guest: migration %s: %s", resp.Return.Status, resp.Return.ErrorDesc)
		}
		select {
		case <-tick.C:
		case <-m.exited:
			return 0, errors.New("saving the guest: QEMU exited")
		case <-ctx.Done():
			m.qmp("migrate_cancel", nil)
			return 0, ctx.Err()
		}
	}
}

// qmp runs one QMP command.
func (m *Machine) qmp(cmd string, args map[string]any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	raw, err := m.mon.Run(b)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	var resp struct {
		Error *struct{ Desc string } `json:"error"`
	}
	if json.Unmarshal(raw, &resp) == nil && resp.Error != nil {
		return fmt.Errorf("qmp %s: %s", cmd, resp.Error.Desc)
	}
	return nil
}

// SerialConn is the host end of the guest's second serial port (ttyS1).
func (m *Machine) SerialConn() net.Conn { return m.serial }

// ConsoleSince returns the console lines printed after mark (a count of
// lines since boot, 0 at first) and the mark to pass next time.
func (m *Machine) ConsoleSince(mark int) ([]string, int) { return m.con.since(mark) }

// Tail returns up to n of the last console lines.
func (m *Machine) Tail(n int) []string { return m.con.tail(n) }

// ConsoleLines counts the console lines the guest has printed so far.
func (m *Machine) ConsoleLines() int {
	m.con.mu.Lock()
	defer m.con.mu.Unlock()
	return m.con.total
}

// Started returns when QEMU was started.
func (m *Machine) Started() time.Time { return m.started }

// Exited is closed when QEMU has exited.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

var hostfwdRE = regexp.MustCompile(`(?m)^Hub -?\d+ \(n(\d+)\):\s*\n.*\n\s*TCP\[HOST_FORWARD\]\s+\d+\s+127\.0\.0\.1\s+(\d+)`)

// ForwardedPort returns the host port that forwards to the guest's SSH port
// on the NIC with the given MAC.
func (m *Machine) ForwardedPort(mac string) (int, error) {
	idx := -1
	for i, n := range m.cfg.NICs {
		if strings.EqualFold(n.MAC, mac) {
			idx = i
		}
	}
	if idx < 0 {
		return 0, fmt.Errorf("guest announced unknown NIC %s", mac)
	}
	out, err := m.HMP("info usernet")
	if err != nil {
		return 0, err
	}
	for _, g := range hostfwdRE.FindAllStringSubmatch(out, -1) {
		if g[1] == strconv.Itoa(idx) {
			return strconv.Atoi(g[2])
		}
	}
	return 0, fmt.Errorf("no forwarded port for n%d in %q", idx, out)
}

// HMP runs a human monitor command through QMP.
func (m *Machine) HMP(cmdline string) (string, error) {
	cmd, _ := json.Marshal(map[string]any{"execute": "human-monitor-command", "arguments": map[string]string{"command-line": cmdline}})
	raw, err := m.mon.Run(cmd)
	if err != nil {
		return "", fmt.Errorf("qmp %s: %w", cmdline, err)
	}
	var resp struct{ Return string }
	if err := json.Unmarshal(raw, &resp); err != nil {
		return "", fmt.Errorf("qmp %s: %w", cmdline, err)
	}
	return resp.Return, nil
}

// Status returns the run state QMP reports (running, paused, shutdown, …).
func (m *Machine) Status() (string, error) {
	raw, err := m.mon.Run([]byte(`{"execute":"query-status"}`))
	if err != nil {
		return "", err
	}
	var resp struct {
		Return struct{ Status string }
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return "", err
	}
	return resp.Return.Status, nil
}

// Close asks QEMU to quit through QMP and kills it if it has not exited
// within a few seconds; it is safe to call more than once.
func (m *Machine) Close() error {
	m.closeOnce.Do(func() {
		if m.mon != nil {
			go m.mon.Run([]byte(`{"execute":"quit"}`))
			select {
			case <-m.exited:
			case <-time.After(5 * time.Second):
			}
			m.mon.Disconnect()
		}
		m.Kill()
		m.serial.Close()
	})
	return nil
}

// Kill kills QEMU's process group and waits for it.
func (m *Machine) Kill() {
	if m.cmd.Process != nil {
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-m.exited
}

// tail is a writer that keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
