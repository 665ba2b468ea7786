// Command guest-init is PID 1 of a runmatrix guest: it mounts the basic
// filesystems, loads the NIC modules it was given, configures the network and
// serves SSH to the runner. It must run on Linux 2.6.32 (built with Go 1.23).
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/inguest/netif"
	"github.com/runmatrix/runmatrix/internal/inguest/sshserver"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

func main() {
	setupConsole()
	if err := run(); err != nil {
		fmt.Printf("%s%v\n", bootproto.FatalPrefix, err)
	}
	poweroff()
}

func logf(format string, args ...any) {
	fmt.Printf(bootproto.NotePrefix+format+"\n", args...)
}

func poweroff() {
	flushKmsg()
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must not exit: that would panic the kernel.
}

// setupConsole makes sure /dev exists and stdio is the console, even on a
// kernel without devtmpfs and an initramfs without device nodes.
func setupConsole() {
	os.MkdirAll("/dev", 0o755)
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		unix.Mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755")
	}
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"console", 5, 1}, {"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9},
		{"tty", 5, 0}, {"ttyS0", 4, 64}, {"ttyS1", 4, 65}, {"ptmx", 5, 2}, {"kmsg", 1, 11}}
	for _, n := range nodes {
		p := "/dev/" + n.name
		if _, err := os.Stat(p); err != nil {
			unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(n.major, n.minor)))
		}
	}
	if os.Getenv(bootproto.NoConsoleEnv) == "" {
		// A console can open and still refuse every write: on the Android
		// emulator's goldfish kernels the serial port's IRQ is taken
		// ("genirq: Flags mismatch irq 4"), the open succeeds and each
		// write is EIO. An empty write tells, and prints nothing.
		if fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0); err == nil && writable(fd) {
			for i := 0; i < 3; i++ {
				unix.Dup2(fd, i)
			}
			if fd > 2 {
				unix.Close(fd)
			}
			return
		}
	}
	consoleToKmsg()
}

// writable reports whether a console takes writes (an empty one: on a tty
// in error every write, empty or not, is EIO).
func writable(fd int) bool {
	if _, err := unix.Write(fd, nil); err != nil {
		unix.Close(fd)
		return false
	}
	return true
}

// kmsgDone is closed once every line written to stdout and stderr has
// reached the kernel log; nil when the console is a console.
var kmsgDone chan struct{}

// consoleToKmsg is for a kernel whose console init cannot open ("unable to
// open an initial console": say the serial port's IRQ is taken). The
// kernel still prints its own log on its console, where the host reads,
// so whatever init writes to stdout and stderr (the ready line, notes,
// errors, a Go panic) goes there through /dev/kmsg, a line per record.
// Descriptors 0-2 are filled either way, so no socket ever lands on them.
func consoleToKmsg() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err == nil {
		for i := 0; i < 3; i++ {
			unix.Dup2(null, i)
		}
	}
	kmsg, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return // nowhere to report: the host's boot deadline will say so
	}
	r, w, err := os.Pipe()
	if err != nil {
		kmsg.Close()
		return
	}
	unix.Dup2(int(w.Fd()), 1)
	unix.Dup2(int(w.Fd()), 2)
	w.Close()
	kmsgDone = make(chan struct{})
	go func() {
		defer close(kmsgDone)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 4096), 64<<10)
		for sc.Scan() {
			// Level 3 (err) is above any console_loglevel, "quiet" included.
			kmsg.Write([]byte("<3>" + sc.Text() + "\n"))
		}
	}()
	fmt.Println(bootproto.NotePrefix + "no usable console: reporting through the kernel log (/dev/kmsg)")
}

// flushKmsg waits, briefly, until the lines written so far reached the
// kernel log, so the last of them (a fatal error) is not lost at power-off.
func flushKmsg() {
	if kmsgDone == nil {
		return
	}
	unix.Close(1)
	unix.Close(2)
	select {
	case <-kmsgDone:
	case <-time.After(2 * time.Second):
	}
}

func run() error {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"tmpfs", "/tmp", "tmpfs"},
		{"devpts", "/dev/pts", "devpts"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			logf("mount %s: %v", m.dst, err)
		}
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	for _, arg := range strings.Fields(string(cmdline)) {
		if arg == bootproto.BareArg {
			return nil // a bare boot for benchmarks: power off at once
		}
	}
	os.Setenv("PATH", "/tmp/runmatrix:/bin:/sbin:/usr/bin")
	os.Setenv("HOME", "/tmp")
	loadModules()
	if err := netif.Up("lo", "127.0.0.1", "255.0.0.0"); err != nil {
		logf("lo: %v", err)
	}
	r := bootproto.Choose(findNICs())
	if kmsgDone != nil {
		r.Console = bootproto.ConsoleKmsg
	}
	serial, err := os.OpenFile(bootproto.SerialDevice(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err == nil {
		err = makeRaw(int(serial.Fd()))
	}
	if err != nil && (r.Transport == bootproto.TransportSerial || !fileExists(bootproto.RunPath)) {
		return fmt.Errorf("%s, which carries the run's keys (and SSH where no NIC has a driver): %w", bootproto.SerialDevice(), err)
	}
	var l net.Listener
	if r.Transport == bootproto.TransportNet {
		if err := netif.Up(r.Iface, bootproto.GuestIP, "255.255.255.0"); err != nil {
			return fmt.Errorf("configure %s: %w", r.Iface, err)
		}
		if l, err = net.Listen("tcp4", ":22"); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	// What a restored guest does after its run line is what it does for
	// the first time since QEMU started, and TCG translates all of that
	// code anew: so the ready line is formatted and the entropy device
	// opened before the snapshot point.
	ready := r.Line() + "\n"
	urandom, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		logf("entropy seed: %v", err)
	}
	// Everything so far is the same for every guest of this kernel: the
	// host may save the guest while it waits here, and start later guests
	// from that point. What is particular to one guest comes after.
	var port *bufio.Reader
	if serial != nil {
		port = bufio.NewReaderSize(serial, bootproto.MaxRunLine)
	}
	rl, err := readRun(port)
	if err != nil {
		return err
	}
	applyRun(rl, urandom)
	srv, err := newServer(rl)
	if err != nil {
		return err
	}
	os.Stdout.WriteString(ready)
	if r.Transport == bootproto.TransportSerial {
		for {
			srv.ServeConn(serialConn{serial, port})
		}
	}
	return srv.Serve(l)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readRun returns the guest's run line: from the initramfs when it holds
// one (a guest booted without runmatrix), else from the host on ttyS1,
// after saying so on the console. Lines that are not a run line (noise on
// the port) are skipped; what follows the line stays in port for SSH.
func readRun(port *bufio.Reader) (bootproto.Run, error) {
	if b, err := os.ReadFile(bootproto.RunPath); err == nil {
		return bootproto.ParseRun(string(b))
	}
	fmt.Println(bootproto.WaitLine)
	for {
		line, err := port.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return bootproto.Run{}, fmt.Errorf("run line on %s longer than %d bytes", bootproto.SerialDevice(), bootproto.MaxRunLine)
		}
		if err != nil {
			return bootproto.Run{}, fmt.Errorf("read the run line on %s: %w", bootproto.SerialDevice(), err)
		}
		if i := bytes.Index(line, []byte(bootproto.RunPrefix)); i >= 0 {
			return bootproto.ParseRun(string(line[i:]))
		}
	}
}

// applyRun makes the guest its own: the host's seed credited to the
// entropy pool and the pool reseeded (RNDRESEEDCRNG, Linux 4.17 on), so
// two guests started from one snapshot draw different random numbers
// (keys, ports, TCP initial sequence numbers), and the host's clock.
func applyRun(r bootproto.Run, urandom *os.File) {
	if r.UnixNano > 0 {
		tv := unix.NsecToTimeval(r.UnixNano)
		if err := unix.Settimeofday(&tv); err != nil {
			logf("set the clock: %v", err)
		}
	}
	if len(r.Seed) == 0 || urandom == nil {
		return
	}
	defer urandom.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(r.Seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(len(r.Seed)*8))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(r.Seed)))
	copy(info[8:], r.Seed)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, urandom.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		logf("entropy seed: RNDADDENTROPY: %v", errno)
	}
	// Older kernels have no RNDRESEEDCRNG (EINVAL): their pool mixes the
	// seed in as it is used.
	unix.Syscall(unix.SYS_IOCTL, urandom.Fd(), unix.RNDRESEEDCRNG, 0)
}

func newServer(r bootproto.Run) (*sshserver.Server, error) {
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(r.HostKey))
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	admit := sshserver.Admit{Secret: r.Secret}
	if r.AuthorizedKey != nil {
		if admit.Key, err = ssh.NewPublicKey(ed25519.PublicKey(r.AuthorizedKey)); err != nil {
			return nil, fmt.Errorf("authorized key: %w", err)
		}
	}
	return sshserver.New(signer, admit, logf, poweroff), nil
}

// loadModules loads, in order, the modules the runner listed.
func loadModules() {
	list, err := os.ReadFile(bootproto.ModulesListPath)
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(list)) {
		b, err := os.ReadFile(filepath.Join(bootproto.ModulesDir, name))
		if err != nil {
			logf("module %s: %v", name, err)
			continue
		}
		if err := unix.InitModule(b, ""); err != nil && !errors.Is(err, unix.EEXIST) {
			logf("module %s: %v", name, err)
		}
		// The list puts virtio_net first: once it drives a NIC, the
		// remaining modules (e1000) would only cost boot time.
		if name == "virtio_net.ko" && bootproto.Choose(findNICs()).Driver == "virtio_net" {
			return
		}
	}
}

// findNICs lists the network interfaces other than lo, with their drivers.
func findNICs() []bootproto.NIC {
	ents, _ := os.ReadDir("/sys/class/net")
	var nics []bootproto.NIC
	for _, e := range ents {
		if e.Name() == "lo" {
			continue
		}
		d, _ := os.Readlink(filepath.Join("/sys/class/net", e.Name(), "device", "driver"))
		a, _ := os.ReadFile(filepath.Join("/sys/class/net", e.Name(), "address"))
		nics = append(nics, bootproto.NIC{Iface: e.Name(), Driver: filepath.Base(d), MAC: string(bytes.TrimSpace(a))})
	}
	return nics
}

// makeRaw puts the tty in raw 8-bit mode without flow control, so SSH's
// binary stream passes unchanged.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// serialConn is the serial port as the net.Conn the SSH server wants:
// reads go through the reader that took the run line off the port, and
// Close is a no-op, as the port outlives one host connection.
type serialConn struct {
	*os.File
	r *bufio.Reader
}

func (c serialConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (serialConn) Close() error                       { return nil }
func (serialConn) LocalAddr() net.Addr                { return serialAddr{} }
func (serialConn) RemoteAddr() net.Addr               { return serialAddr{} }
func (c serialConn) SetDeadline(time.Time) error      { return nil }
func (c serialConn) SetReadDeadline(time.Time) error  { return nil }
func (c serialConn) SetWriteDeadline(time.Time) error { return nil }

type serialAddr struct{}

func (serialAddr) Network() string { return "serial" }
func (serialAddr) String() string  { return bootproto.SerialDevice() }
