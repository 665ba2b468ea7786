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
	"sort"
	"testing"
	"time"

	"github.com/runmatrix/runmatrix/internal/guest"
	"github.com/runmatrix/runmatrix/kernels"
)

var benchKernels = []string{"debian:6.1", "debian:6.12"}

// samples is how many bare and ready boots each figure is the median of.
const samples = 5

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

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
	pool := guest.NewPool(env, &kernels.Resolver{Cache: cache}, "auto", 1, func(s string) { fmt.Println(s) })
	for _, ref := range benchKernels {
		if _, err := pool.Prepare(ctx, ref); err != nil {
			b.Fatal(err)
		}
		// Boot times under TCG swing by a second or more between runs on a
		// shared machine, so each figure is the median of several boots.
		var bares, readies []time.Duration
		accel := ""
		for i := 0; i < b.N*samples; i++ {
			d, err := pool.BareBoot(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			g, err := pool.BootGuest(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			bares = append(bares, d)
			readies = append(readies, g.ReadyAfter)
			accel = g.Accel
			g.Close()
		}
		bare, ready := median(bares), median(readies)
		ratio := ready.Seconds() / bare.Seconds()
		b.ReportMetric(ratio, "ready/bare-"+ref)
		fmt.Printf("%-12s %-4s bare boot %6.2fs  agent ready %6.2fs  ratio %.2f (target <= 1.3; medians of %d)\n", ref, accel, bare.Seconds(), ready.Seconds(), ratio, len(bares))
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
