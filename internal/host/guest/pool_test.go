package guest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// hangingKVM is a KVM proof whose guest never comes up (broken nested
// virtualisation): it returns only when its context ends.
func hangingKVM(ctx context.Context, _ *Env, _ *kernels.Kernel) error {
	<-ctx.Done()
	return ctx.Err()
}

func proofPool(t *testing.T) (*Pool, *kernels.Kernel) {
	env := NewEnv(store.Cache{Dir: t.TempDir()}, DefaultOptions())
	p := NewPool(env, nil, "auto", 1, func(string) {})
	p.prover = hangingKVM
	ref, err := kernels.ParseRef("debian:6.1")
	require.NoError(t, err)
	return p, &kernels.Kernel{Ref: ref}
}

// TestStuckKVMProofConcludes: once the proof's kernel came up under TCG, a
// KVM guest not ready after StuckFactor times that is taken as hanging; a
// short run's Close waits for that verdict, which is cached, so the next
// run starts no stuck KVM guest beside its TCG ones.
func TestStuckKVMProofConcludes(t *testing.T) {
	p, k := proofPool(t)
	p.mu.Lock()
	p.startProof(k)
	p.mu.Unlock()
	p.tcgReady(k.Ref.Raw, 20*time.Millisecond)
	p.Close() // waits: the proof will conclude
	require.Equal(t, vm.AccelTCG, p.accel)
	require.Contains(t, p.why, "KVM hangs here")
	path, err := accelPath(p.env)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err, "the verdict is cached")
	require.Contains(t, string(b), "KVM hangs here")
	require.Contains(t, p.why, "debian:6.1", "this run's line names the kernel it booted")
	require.NotContains(t, string(b), "debian:6.1", "later runs, which may boot others, are not told of it")
}

// TestUnarmedKVMProofIsCancelled: with no TCG boot time to judge by, Close
// cancels the proof and nothing is learnt or cached.
func TestUnarmedKVMProofIsCancelled(t *testing.T) {
	p, k := proofPool(t)
	p.mu.Lock()
	p.startProof(k)
	p.mu.Unlock()
	p.Close()
	require.Empty(t, p.accel)
	path, err := accelPath(p.env)
	require.NoError(t, err)
	require.NoFileExists(t, path)
}

// TestStallAfterWaitLineIsRetried: a guest that stalls before its init's
// wait line is not booted again (the next boot stalls the same way); one
// that stalls after its run line, having reached the wait line, is.
func TestStallAfterWaitLineIsRetried(t *testing.T) {
	stall := func() error { return &vm.BootError{Reason: "guest not ready after 3m", InitStarted: true} }
	require.True(t, stalledInInit(stall()))
	require.True(t, stalledInInit(&vm.BootError{Stage: "boot", Err: stall(), InitStarted: true}))
	require.False(t, stalledInInit(afterWaitLine(stall())))
}
