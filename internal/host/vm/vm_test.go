package vm

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/testkit/fakeqemu"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// fakeMode makes the test binary act as QEMU (see fakeqemu).
const fakeMode = fakeqemu.Mode

func TestMain(m *testing.M) {
	fakeqemu.Main()
	os.Exit(m.Run())
}

func start(t *testing.T, mode string) *Machine {
	t.Helper()
	t.Setenv(fakeMode, mode)
	m, err := Start(context.Background(), Config{QEMU: os.Args[0], Kernel: "bzImage", Initrd: "initrd", Append: "console=ttyS0", Accel: AccelTCG, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func TestCommandLine(t *testing.T) {
	m := &Machine{cfg: Config{QEMU: "qemu-system-x86_64", Kernel: "/k/bzImage", Initrd: "/k/initrd", Append: "console=ttyS0 panic=-1",
		Accel: AccelTCG, MemoryMB: 512, CPUs: 1, NICs: DefaultNICs}}
	args := strings.Join(m.buildArgs(3, 4), " ")
	for _, want := range []string{
		"-machine pc,accel=tcg", "-m 512 -smp 1", "-nodefaults", "-no-reboot", "-display none",
		"-kernel /k/bzImage -initrd /k/initrd -append console=ttyS0 panic=-1",
		"socket,id=qmp,fd=3,server=on,wait=off", "socket,id=ser1,fd=4",
		// SSH is forwarded from the loopback only, and the guest reaches nothing else.
		"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:0-:22", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01",
		"user,id=n1,restrict=on,hostfwd=tcp:127.0.0.1:0-:22", "e1000,netdev=n1,mac=52:54:00:12:34:02",
	} {
		require.Contains(t, args, want)
	}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		wantErr   string
		wantPanic bool
		wantInit  bool
	}{
		{mode: "ready"},
		{mode: "panic", wantErr: "guest failed: Kernel panic - not syncing", wantPanic: true},
		{mode: "hang", wantErr: "guest not ready after"},
		// Stalled after the kernel started init: booting again is no use.
		{mode: "stall", wantErr: "guest not ready after", wantInit: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m := start(t, tc.mode)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			r, err := m.WaitReady(ctx)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, bootproto.TransportSerial, r.Transport)
			} else {
				var be *BootError
				require.ErrorAs(t, err, &be)
				require.Contains(t, be.Reason, tc.wantErr)
				require.Equal(t, tc.wantPanic, be.Panic)
				require.Equal(t, tc.wantInit, be.InitStarted)
				require.Contains(t, be.Console, "Linux version 6.1.0-fake", "the console tail comes with the error")
			}
			status, err := m.Status()
			require.NoError(t, err)
			require.Equal(t, "running", status)
			require.NoError(t, m.Close())
			select {
			case <-m.Exited():
			default:
				t.Fatal("QEMU still runs after Close")
			}
		})
	}
}

func TestQEMUThatDies(t *testing.T) {
	t.Setenv(fakeMode, "die")
	_, err := Start(context.Background(), Config{QEMU: os.Args[0], Kernel: "k", Initrd: "i", Accel: AccelTCG, Dir: t.TempDir()})
	require.ErrorContains(t, err, "QEMU exited")
	require.ErrorContains(t, err, "initrd is too large", "what QEMU said on stderr is in the error")
}

// TestMemoryHint: a guest that resets with too little memory for its
// kernel and initramfs names the size to try; with enough, no hint.
func TestMemoryHint(t *testing.T) {
	dir := t.TempDir()
	kernel, initrd := dir+"/k", dir+"/i"
	require.NoError(t, os.WriteFile(kernel, make([]byte, 8<<20), 0o644))
	require.NoError(t, os.WriteFile(initrd, make([]byte, 17<<20), 0o644))
	m := &Machine{cfg: Config{Kernel: kernel, Initrd: initrd, MemoryMB: 64}}
	require.Equal(t, "; --memory 64 MiB is likely too little for this 8 MiB kernel image and 17 MiB initramfs: try --memory 256", m.memoryHint())
	m.cfg.MemoryMB = 512
	require.Empty(t, m.memoryHint())
}

// TestCloseAFrozenQEMU: a stopped QEMU answers no QMP quit; Close must
// still end it, within its few-second grace.
func TestCloseAFrozenQEMU(t *testing.T) {
	m := start(t, "hang")
	require.NoError(t, syscall.Kill(m.cmd.Process.Pid, syscall.SIGSTOP))
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close hangs on a stopped QEMU")
	}
	<-m.Exited()
}

func TestMissingQEMU(t *testing.T) {
	_, err := Start(context.Background(), Config{QEMU: "no-such-qemu-binary", Dir: t.TempDir()})
	require.ErrorContains(t, err, "install it with `apt-get install qemu-system-x86`")
}
