// Command guest-init is PID 1 of a runmatrix guest: it mounts the basic
// filesystems, loads the NIC modules it was given, configures the network and
// serves SSH to the runner. It must run on Linux 2.6.32 (built with Go 1.23).
package main

import (
	"bufio"
	"bytes"
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

	"github.com/runmatrix/runmatrix/internal/bootproto"
	"github.com/runmatrix/runmatrix/internal/netif"
	"github.com/runmatrix/runmatrix/internal/sshserver"
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
		if fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0); err == nil {
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
	seedEntropy()
	os.Setenv("PATH", "/tmp/runmatrix:/bin:/sbin:/usr/bin")
	os.Setenv("HOME", "/tmp")
	loadModules()
	if err := netif.Up("lo", "127.0.0.1", "255.0.0.0"); err != nil {
		logf("lo: %v", err)
	}
	srv, err := newServer()
	if err != nil {
		return err
	}
	r := bootproto.Choose(findNICs())
	if kmsgDone != nil {
		r.Console = bootproto.ConsoleKmsg
	}
	if r.Transport == bootproto.TransportSerial {
		return serveSerial(srv, r)
	}
	if err := netif.Up(r.Iface, bootproto.GuestIP, "255.255.255.0"); err != nil {
		return fmt.Errorf("configure %s: %w", r.Iface, err)
	}
	l, err := net.Listen("tcp4", ":22")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Println(r.Line())
	return srv.Serve(l)
}

func newServer() (*sshserver.Server, error) {
	hk, err := os.ReadFile(bootproto.HostKeyPath)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(hk)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	ak, err := os.ReadFile(bootproto.AuthorizedKeyPath)
	if err != nil {
		return nil, fmt.Errorf("authorized key: %w", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(ak)
	if err != nil {
		return nil, fmt.Errorf("authorized key: %w", err)
	}
	return sshserver.New(signer, pub, logf, poweroff), nil
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

// seedEntropy credits the host's random seed to the kernel's pool. A guest
// under emulation with no hardware RNG can otherwise block in getrandom()
// (the SSH handshake's first call) until the pool fills, over a second on
// recent kernels and far longer on old ones.
func seedEntropy() {
	seed, err := os.ReadFile(bootproto.SeedPath)
	if err != nil || len(seed) == 0 {
		return
	}
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		logf("entropy seed: %v", err)
		return
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.LittleEndian.PutUint32(info[0:], uint32(len(seed)*8))
	binary.LittleEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		logf("entropy seed: RNDADDENTROPY: %v", errno)
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

// serveSerial serves SSH on the serial port, one host connection after another.
func serveSerial(srv *sshserver.Server, r bootproto.Ready) error {
	f, err := os.OpenFile(bootproto.SerialDevice, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("serial transport: %w", err)
	}
	if err := makeRaw(int(f.Fd())); err != nil {
		return fmt.Errorf("serial transport: raw mode on %s: %w", bootproto.SerialDevice, err)
	}
	fmt.Println(r.Line())
	for {
		srv.ServeConn(serialConn{f})
	}
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

// serialConn is the serial port as the net.Conn the SSH server wants. Close
// is a no-op: the port outlives one host connection.
type serialConn struct{ *os.File }

func (serialConn) Close() error                       { return nil }
func (serialConn) LocalAddr() net.Addr                { return serialAddr{} }
func (serialConn) RemoteAddr() net.Addr               { return serialAddr{} }
func (c serialConn) SetDeadline(time.Time) error      { return nil }
func (c serialConn) SetReadDeadline(time.Time) error  { return nil }
func (c serialConn) SetWriteDeadline(time.Time) error { return nil }

type serialAddr struct{}

func (serialAddr) Network() string { return "serial" }
func (serialAddr) String() string  { return bootproto.SerialDevice }
