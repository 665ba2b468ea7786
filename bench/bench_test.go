// Package bench measures runmatrix against its speed targets: guest
// readiness within 1.3× a bare boot of the same kernel, and the default
// matrix within 60 s on 2 cores without KVM. Run it with `make bench`.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/kernels"
)

var benchKernels = []string{"debian:6.1", "debian:6.12"}

// BenchmarkReady prints, per kernel, QEMU start to the agent answering next
// to QEMU start to exit with an init that powers off at once.
func BenchmarkReady(b *testing.B) {
	ctx := context.Background()
	dir, err := kernels.DefaultCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	cache := kernels.Cache{Dir: dir}
	env, err := guest.NewEnv(cache, guest.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	res := &kernels.Resolver{Cache: cache}
	for _, ref := range benchKernels {
		k, err := res.Resolve(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		accel, _, err := guest.ChooseAccel(ctx, env, "auto", k)
		if err != nil {
			b.Fatal(err)
		}
		var bare, ready time.Duration
		for i := 0; i < b.N; i++ {
			d, err := guest.BareBoot(ctx, env, k, accel)
			if err != nil {
				b.Fatal(err)
			}
			g, err := guest.Boot(ctx, env, k, accel)
			if err != nil {
				b.Fatal(err)
			}
			bare += d
			ready += g.ReadyAfter
			g.Close()
		}
		bare /= time.Duration(b.N)
		ready /= time.Duration(b.N)
		ratio := ready.Seconds() / bare.Seconds()
		b.ReportMetric(ratio, "ready/bare-"+ref)
		fmt.Printf("%-12s %-4s bare boot %6.2fs  agent ready %6.2fs  ratio %.2f (target <= 1.3)\n", ref, accel, bare.Seconds(), ready.Seconds(), ratio)
	}
}

// BenchmarkDefaultMatrix prints the wall time of `runmatrix run` with the
// embedded default matrix.
func BenchmarkDefaultMatrix(b *testing.B) {
	bin, err := filepath.Abs("../bin/runmatrix")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s: build it first (make build)", bin)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		out := b.TempDir()
		start := time.Now()
		cmd := exec.Command(bin, "run", "--out", out, "--format", "none")
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("default matrix: %v\n%s", err, o)
		}
		total += time.Since(start)
	}
	wall := total / time.Duration(b.N)
	b.ReportMetric(wall.Seconds(), "s/matrix")
	fmt.Printf("default matrix (80 cells, 2 kernels): %.1fs wall (target <= 60s on 2 cores without KVM)\n", wall.Seconds())
}
