package guest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/guestbin"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
	"github.com/runmatrix/runmatrix/internal/testkit/fakeqemu"
)

func TestMain(m *testing.M) {
	fakeqemu.Main()
	os.Exit(m.Run())
}

// fakeBoots is a pool of one kernel file whose QEMU is this test binary
// acting as mode (see fakeqemu), with stand-in guest binaries; boots
// returns how each QEMU was started ("cold", "restore"), and notices
// what the pool said.
type fakeBoots struct {
	pool    *Pool
	ref     string
	log     string
	mu      sync.Mutex
	notices []string
}

func newFakeBoots(t *testing.T, mode string, snapshots bool) *fakeBoots {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "bzImage")
	require.NoError(t, os.WriteFile(kernel, archivetest.BzImage("6.1.0-fake (t@t) #1 SMP", false, []byte("payload")), 0o644))
	for _, f := range []string{"guest-init", "guest-agent"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/false\n"), 0o755))
	}
	opts := DefaultOptions()
	work, err := os.MkdirTemp("", "rmq") // short: QMP's socket path is bounded
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(work) })
	opts.QEMU, opts.WorkDir, opts.NoModules = os.Args[0], work, true
	opts.BootTimeout, opts.SSHTimeout = 3*time.Second, time.Second
	opts.NoSnapshot, opts.SnapshotMaxMB = !snapshots, 64
	cache := store.Cache{Dir: t.TempDir()}
	env := NewEnv(cache, opts)
	env.bins = func(context.Context, string) (guestbin.Binaries, error) {
		return guestbin.Binaries{Init: filepath.Join(dir, "guest-init"), Agent: filepath.Join(dir, "guest-agent"), InitSHA256: "i", AgentSHA256: "a"}, nil
	}
	fb := &fakeBoots{ref: kernel, log: filepath.Join(dir, "qemu.log")}
	env.Log = fb.notice
	fb.pool = NewPool(env, &kernels.Resolver{Cache: cache}, vm.AccelTCG, 1, fb.notice)
	t.Setenv(fakeqemu.Mode, mode)
	t.Setenv(fakeqemu.Log, fb.log)
	return fb
}

func (fb *fakeBoots) notice(s string) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.notices = append(fb.notices, s)
}

func (fb *fakeBoots) boots(t *testing.T) []string {
	b, err := os.ReadFile(fb.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return strings.Fields(string(b))
}

func (fb *fakeBoots) said(what string) bool {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for _, n := range fb.notices {
		if strings.Contains(n, what) {
			return true
		}
	}
	return false
}

// TestPoolBootPath drives the pool's boot path over a fake QEMU: a failure
// of the infrastructure is booted again once, a kernel's panic or a stall
// after the kernel started init is not (the next boot fails the same way),
// a guest lost after its wait line is, and a saved guest that QEMU will not
// resume is dropped for a cold boot. Every failure is one *vm.BootError,
// and the slot is given back.
func TestPoolBootPath(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      string
		snapshots bool
		boots     []string
		stage     string
		check     func(t *testing.T, be *vm.BootError, fb *fakeBoots)
	}{
		{name: "QEMU refuses its command line", mode: "die", boots: []string{"cold", "cold"}, stage: "boot",
			check: func(t *testing.T, be *vm.BootError, fb *fakeBoots) {
				require.ErrorContains(t, be, "initrd is too large")
				require.True(t, fb.said("booting again after"), "the second boot is said")
			}},
		{name: "the kernel panics", mode: "panic", boots: []string{"cold"}, stage: "boot",
			check: func(t *testing.T, be *vm.BootError, fb *fakeBoots) {
				require.True(t, be.Panic)
				require.Contains(t, strings.Join(be.Console, "\n"), "Kernel panic - not syncing")
				require.False(t, fb.said("booting again"))
			}},
		{name: "stalled after the kernel started init", mode: "stall", boots: []string{"cold"}, stage: "boot",
			check: func(t *testing.T, be *vm.BootError, fb *fakeBoots) {
				require.True(t, be.InitStarted)
				require.False(t, fb.said("booting again"))
			}},
		{name: "lost after its wait line, then a saved guest that will not resume", mode: "restore-dies:wait", snapshots: true,
			boots: []string{"cold", "restore", "cold"}, stage: "boot",
			check: func(t *testing.T, be *vm.BootError, fb *fakeBoots) {
				require.True(t, fb.said("booting again after"), "lost after the wait line: booted again")
				require.True(t, fb.said("the saved guest did not resume"), "the saved guest is dropped for a cold boot")
				saved, err := filepath.Glob(filepath.Join(fb.pool.env.Cache.Dir, snapshotDir, "*.qemu"))
				require.NoError(t, err)
				require.Len(t, saved, 1, "the refused guest is replaced by the one the cold boot saved")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBoots(t, tc.mode, tc.snapshots)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			g, err := fb.pool.Boot(ctx, fb.ref, nil)
			require.Nil(t, g)
			var be *vm.BootError
			require.ErrorAs(t, err, &be)
			require.Equal(t, tc.stage, be.Stage, "%v", err)
			require.Equal(t, tc.boots, fb.boots(t))
			tc.check(t, be, fb)
			select {
			case fb.pool.slots <- struct{}{}:
				<-fb.pool.slots
			default:
				t.Fatal("a failed boot kept its slot")
			}
		})
	}
}
