package guest

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
)

// TestBootDeadlineFromExperience: with nothing known a boot gets the whole
// --boot-timeout; once a kernel of the architecture came up, it is
// expected within five times that (at least a minute); the kernel's own boots count
// before its architecture's; --boot-timeout stays the cap.
func TestBootDeadlineFromExperience(t *testing.T) {
	e := &experience{path: filepath.Join(t.TempDir(), experienceFile)}
	k := &kernels.Kernel{Image: bootimage.Image{Arch: cpu.X86_64}, Origin: kernels.Origin{SHA256: "k1"}}
	other := &kernels.Kernel{Image: bootimage.Image{Arch: cpu.X86_64}, Origin: kernels.Origin{SHA256: "k2"}}
	limit := 3 * time.Minute
	d, why := e.expected(k, "tcg", limit)
	require.Equal(t, limit, d)
	require.Equal(t, "--boot-timeout", why)

	e.record(other, "tcg", 20*time.Second)
	d, why = e.expected(k, "tcg", limit)
	require.Equal(t, 100*time.Second, d)
	require.Equal(t, "the slowest x86_64/tcg boot seen here", why)
	d, _ = e.expected(k, "kvm", limit)
	require.Equal(t, limit, d, "another accelerator is not the same experience")

	e.record(k, "tcg", 6*time.Second)
	d, why = e.expected(k, "tcg", limit)
	require.Equal(t, minExpected, d, "5 x 6 s, but at least a minute")
	require.Equal(t, "this kernel's own boots", why)
	d, _ = e.expected(k, "tcg", 45*time.Second)
	require.Equal(t, 45*time.Second, d, "--boot-timeout caps it")

	var none *experience
	d, _ = none.expected(k, "tcg", limit)
	require.Equal(t, limit, d)
}

// lines is a console whose line count a test moves.
type lines struct{ n atomic.Int64 }

func (l *lines) ConsoleLines() int { return int(l.n.Load()) }

// TestQuietBootIsStopped: past its expected time, a boot whose console
// prints nothing is stopped; one that still prints (a loaded host) runs on
// until its own deadline.
func TestQuietBootIsStopped(t *testing.T) {
	var silent lines
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := make(chan struct{})
	quiet := watchQuiet(ctx, &silent, 10*time.Millisecond, 20*time.Millisecond, func() { close(stopped) })
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("a silent boot past its time was not stopped")
	}
	require.True(t, quiet())

	var busy lines
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { // the kernel log goes on
		for ctx.Err() == nil {
			busy.n.Add(1)
			time.Sleep(time.Millisecond)
		}
		close(done)
	}()
	quiet = watchQuiet(ctx, &busy, 10*time.Millisecond, 20*time.Millisecond, func() { t.Error("a boot that still prints was stopped") })
	<-ctx.Done()
	<-done
	require.False(t, quiet())
}
