// Package bench measures runmatrix against its speed targets on the
// machine it runs on (medians of several rounds, interleaved so that load
// from elsewhere hits every figure alike). Run it with `make bench`.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/usergo"
)

var benchKernels = []string{"debian:6.1", "debian:6.12"}

// readyKernels are those BenchmarkReady compares with their bare boot: the
// x86 ones and an arm64 one (a foreign architecture: TCG).
var readyKernels = append(append([]string{}, benchKernels...), "debian:6.12/arm64")

// samples is how many rounds each figure is the median of.
const samples = 5

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func binary(b *testing.B) string {
	bin, err := filepath.Abs("../bin/runmatrix")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s: build it first (make build)", bin)
	}
	return bin
}

func pool(b *testing.B) *guest.Pool {
	return poolWith(b, func(*guest.Options) {})
}

// poolWith is pool with options changed (snapshots off, for cold boots).
func poolWith(b *testing.B, change func(*guest.Options)) *guest.Pool {
	dir, err := store.DefaultCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	cache := store.Cache{Dir: dir}
	opts := guest.DefaultOptions()
	change(&opts)
	env := guest.NewEnv(cache, opts)
	p := guest.NewPool(env, &kernels.Resolver{Cache: cache, Debian: kernels.DebianFromEnv()}, "tcg", 1, func(string) {})
	b.Cleanup(p.Close)
	return p
}

// wall runs the CLI and returns its wall time.
func wall(b *testing.B, args ...string) time.Duration {
	start := time.Now()
	if out, err := exec.Command(binary(b), args...).CombinedOutput(); err != nil {
		b.Fatalf("runmatrix %v: %v\n%s", args, err, out)
	}
	return time.Since(start)
}

// BenchmarkReady prints, per kernel, QEMU start to the agent answering
// after a cold boot next to QEMU start to exit with an init that powers
// off at once.
func BenchmarkReady(b *testing.B) {
	ctx := context.Background()
	p := poolWith(b, func(o *guest.Options) { o.NoSnapshot = true })
	for _, ref := range readyKernels {
		if _, err := p.Prepare(ctx, ref); err != nil {
			b.Fatal(err)
		}
		var bares, readies []time.Duration
		for i := 0; i < b.N*samples; i++ {
			d, err := p.BareBoot(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			g, err := p.BootGuest(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			bares = append(bares, d)
			readies = append(readies, g.ReadyAfter)
			g.Close()
		}
		bare, ready := median(bares), median(readies)
		ratio := ready.Seconds() / bare.Seconds()
		b.ReportMetric(ratio, "ready/bare-"+ref)
		fmt.Printf("%-18s tcg  bare boot %6.2fs  agent ready %6.2fs  ratio %.2f (target <= 1.2; medians of %d)\n", ref, bare.Seconds(), ready.Seconds(), ratio, len(bares))
	}
}

// BenchmarkSnapshot prints, per kernel, a cold boot's ready time, the time
// and size of saving that guest, and the ready time of guests started from
// the saved one (QEMU start to SSH and the agent known), the saved guests
// of the kernel removed first.
func BenchmarkSnapshot(b *testing.B) {
	ctx := context.Background()
	p := pool(b)
	if _, err := guest.PruneSnapshots(p.Env().Cache, 0); err != nil {
		b.Fatal(err)
	}
	for _, ref := range benchKernels {
		if _, err := p.Prepare(ctx, ref); err != nil {
			b.Fatal(err)
		}
		g, err := p.BootGuest(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		cold, saved, size := g.ReadyAfter, g.Saved, g.SavedBytes
		g.Close()
		if g.Restored || size == 0 {
			b.Fatalf("%s: the first boot was not cold or saved nothing", ref)
		}
		var restored []time.Duration
		for i := 0; i < b.N*samples; i++ {
			g, err := p.BootGuest(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			if !g.Restored {
				b.Fatalf("%s: not started from the saved guest", ref)
			}
			restored = append(restored, g.ReadyAfter)
			g.Close()
		}
		m := median(restored)
		b.ReportMetric(m.Seconds(), "s-restored-"+ref)
		fmt.Printf("%-12s tcg  cold ready %5.2fs  save %5.2fs (%d MiB)  restored ready %5.2fs (target <= 0.5s; median of %d)\n",
			ref, cold.Seconds(), saved.Seconds(), size>>20, m.Seconds(), len(restored))
	}
}

// BenchmarkRepeat prints the default matrix's wall time with --repeat 5
// next to one repetition (warm cache, saved guests).
func BenchmarkRepeat(b *testing.B) {
	wall(b, "run", "--accel", "tcg", "--out", b.TempDir(), "--format", "none") // saved guests, durations
	var ones, fives []time.Duration
	for i := 0; i < b.N*3; i++ {
		ones = append(ones, wall(b, "run", "--accel", "tcg", "--out", b.TempDir(), "--format", "none"))
		fives = append(fives, wall(b, "run", "--accel", "tcg", "--repeat", "5", "--out", b.TempDir(), "--format", "none"))
	}
	one, five := median(ones), median(fives)
	b.ReportMetric(five.Seconds()/one.Seconds(), "x-repeat5")
	fmt.Printf("default matrix --repeat 5 %.1fs, one repetition %.1fs: %.2fx (target <= 2; medians of %d)\n", five.Seconds(), one.Seconds(), five.Seconds()/one.Seconds(), len(ones))
}

// BenchmarkCommandWall prints the wall time a user waits for `probe` and
// for `cases run` with one case on debian:6.1 (warm cache) next to the
// floor: the same kernel booting a static init that powers off, from the
// call to QEMU's exit. Rounds are interleaved.
func BenchmarkCommandWall(b *testing.B) {
	ctx := context.Background()
	p := pool(b)
	ref := "debian:6.1"
	if _, err := p.Prepare(ctx, ref); err != nil {
		b.Fatal(err)
	}
	var floors, probes, cases []time.Duration
	for i := 0; i < b.N*samples; i++ {
		start := time.Now()
		if _, err := p.BareBoot(ctx, ref); err != nil {
			b.Fatal(err)
		}
		floors = append(floors, time.Since(start))
		probes = append(probes, wall(b, "probe", "--accel", "tcg", ref))
		cases = append(cases, wall(b, "cases", "run", "--accel", "tcg", "--kernel", ref, "--case", "linger0.reset"))
	}
	floor := median(floors)
	for _, f := range []struct {
		name string
		ds   []time.Duration
	}{{"probe debian:6.1", probes}, {"cases run (one case)", cases}} {
		m := median(f.ds)
		b.ReportMetric(m.Seconds()/floor.Seconds(), "x-floor-"+strings.Fields(f.name)[0])
		fmt.Printf("%-22s %6.2fs wall, floor %6.2fs, ratio %.2f (target <= 1.5; medians of %d)\n", f.name, m.Seconds(), floor.Seconds(), m.Seconds()/floor.Seconds(), len(f.ds))
	}
}

// BenchmarkDefaultMatrix prints the wall time of `runmatrix run` with the
// embedded default matrix, warm cache.
func BenchmarkDefaultMatrix(b *testing.B) {
	var ds []time.Duration
	for i := 0; i < b.N*samples; i++ {
		ds = append(ds, wall(b, "run", "--accel", "tcg", "--out", b.TempDir(), "--format", "none"))
	}
	m := median(ds)
	b.ReportMetric(m.Seconds(), "s/matrix")
	fmt.Printf("default matrix (80 cells, 2 kernels, warm cache, saved guests): %.1fs wall (target <= 6s; median of %d)\n", m.Seconds(), len(ds))
}

// BenchmarkFirstCell prints the time from `runmatrix run` (accelerator
// auto, no verdict cached: the first run on a host) to its first cell.
// Where KVM hangs, the KVM proof must not delay it.
func BenchmarkFirstCell(b *testing.B) {
	dir, err := store.DefaultCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	for i := 0; i < b.N*samples; i++ {
		os.RemoveAll(filepath.Join(dir, "accel"))
		cmd := exec.Command(binary(b), "run", "--out", b.TempDir(), "--format", "none", "--case", "linger0.reset")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var first time.Duration
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if first == 0 && strings.Contains(sc.Text(), "[1/") {
				first = time.Since(start)
			}
		}
		if err := cmd.Wait(); err != nil || first == 0 {
			b.Fatalf("run: %v (first cell seen: %v)", err, first != 0)
		}
		ds = append(ds, first)
	}
	m := median(ds)
	b.ReportMetric(m.Seconds(), "s/first-cell")
	fmt.Printf("first cell of a first run (accel auto, no cached verdict): %.1fs (target <= 15s; median of %d)\n", m.Seconds(), len(ds))
}

// BenchmarkColdMatrix prints the default matrix's wall time from an empty
// cache: kernels downloaded, checked and extracted, guest binaries and
// initramfs built.
func BenchmarkColdMatrix(b *testing.B) {
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, wall(b, "run", "--accel", "tcg", "--cache-dir", b.TempDir(), "--out", b.TempDir(), "--format", "none"))
	}
	m := median(ds)
	b.ReportMetric(m.Seconds(), "s/cold-matrix")
	fmt.Printf("default matrix, cold cache (kernels downloaded): %.1fs wall\n", m.Seconds())
}

// BenchmarkUserCases prints what a user's own cases cost: the extra time
// to a ready guest whose agent carries the example case package (against
// the built-in agent, interleaved, debian:6.1), and the time to build the
// agent and the example go test package again when nothing changed (the
// second run of a user's inner loop).
func BenchmarkUserCases(b *testing.B) {
	ctx := context.Background()
	ref := "debian:6.1"
	plain, user := pool(b), pool(b)
	cs, err := usergo.Discover(ctx, []string{"../examples/cases"})
	if err != nil {
		b.Fatal(err)
	}
	cache := user.Env().Cache
	user.Env().Bins.Agent = func(ctx context.Context, goarch string) (string, error) {
		return cs.BuildAgent(ctx, cache, goarch, usergo.OldToolchain)
	}
	for _, p := range []*guest.Pool{plain, user} {
		if _, err := p.Prepare(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
	var builtins, users []time.Duration
	for i := 0; i < b.N*samples; i++ {
		order := []*guest.Pool{plain, user}
		if i%2 == 1 {
			order = []*guest.Pool{user, plain} // neither always boots first
		}
		for _, p := range order {
			g, err := p.BootGuest(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			if p == plain {
				builtins = append(builtins, g.ReadyAfter)
			} else {
				users = append(users, g.ReadyAfter)
			}
			g.Close()
		}
	}
	extra := median(users) - median(builtins)
	b.ReportMetric(extra.Seconds(), "s-extra-ready")
	fmt.Printf("guest ready with user cases %.2fs, built-in agent %.2fs: %+.2fs (target <= 0.5s; medians of %d)\n",
		median(users).Seconds(), median(builtins).Seconds(), extra.Seconds(), len(users))

	wd, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	var agents, tests []time.Duration
	for i := 0; i < b.N*samples; i++ {
		start := time.Now()
		cs, err := usergo.Discover(ctx, []string{"../examples/cases"})
		if err == nil {
			_, err = cs.BuildAgent(ctx, cache, "amd64", usergo.OldToolchain)
		}
		if err != nil {
			b.Fatal(err)
		}
		agents = append(agents, time.Since(start))
		start = time.Now()
		ts, err := usergo.LoadTests(ctx, wd, []string{"./examples/gotest"}, nil)
		if err == nil {
			_, err = ts.Files(ctx, cache, "amd64", usergo.OldToolchain)
		}
		if err != nil {
			b.Fatal(err)
		}
		tests = append(tests, time.Since(start))
	}
	b.ReportMetric(median(agents).Seconds(), "s-cached-agent-build")
	fmt.Printf("user cases, second run (read from source, agent from cache): %.2fs (target <= 1s; median of %d)\n", median(agents).Seconds(), len(agents))
	fmt.Printf("go test package, second run (tests from source, binary from cache): %.2fs (target <= 1s; median of %d)\n", median(tests).Seconds(), len(tests))
}

// BenchmarkTrace prints a program's own run time in the guest (the cell's
// duration) traced and untraced, interleaved, on debian:6.1 (where a
// seccomp filter stops only the calls a trace keeps): a loopback client
// and server whose ~1800 socket calls are most of its system calls, and a
// program with 20 socket calls among ~60,000 others.
func BenchmarkTrace(b *testing.B) {
	for _, p := range []struct {
		src, summary, what string
		steps              int
		target             float64
	}{
		{"busy.c", "200 round trips", "program with ~1800 socket calls (most of its calls)", 1800, 0},
		{"mostly.c", "done", "program with 20 socket calls among ~60,000 calls", 20, 3},
	} {
		plain, traced := traceTimes(b, p.src, p.summary, p.steps)
		ratio := median(traced).Seconds() / median(plain).Seconds()
		b.ReportMetric(ratio, strings.TrimSuffix(p.src, ".c")+"-traced/untraced")
		target := "report only"
		if p.target > 0 {
			target = fmt.Sprintf("target <= %g", p.target)
		}
		fmt.Printf("%s: untraced %.2fs, traced %.2fs, ratio %.2f (%s; medians of %d)\n",
			p.what, median(plain).Seconds(), median(traced).Seconds(), ratio, target, len(plain))
	}
}

// traceTimes runs a test program traced and untraced, interleaved, and
// returns its run times in the guest.
func traceTimes(b *testing.B, src, summary string, minSteps int) (plain, traced []time.Duration) {
	prog := filepath.Join(b.TempDir(), strings.TrimSuffix(src, ".c"))
	if out, err := exec.Command("musl-gcc", "-static", "-O1", "-o", prog, "../e2e/testdata/programs/"+src).CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for i := 0; i < b.N*samples; i++ {
		for _, trace := range []bool{false, true} {
			args := []string{"cases", "run", "--accel", "tcg", "--kernel", "debian:6.1", "--json"}
			if trace {
				args = append(args, "--trace")
			}
			out, err := exec.Command(binary(b), append(args, "--", prog)...).Output()
			if err != nil {
				b.Fatalf("runmatrix %v: %v", args, err)
			}
			var rec struct {
				Outcome struct {
					Summary string
					DurMS   float64 `json:"dur_ms"`
					Steps   []json.RawMessage
				}
			}
			if err := json.Unmarshal(out, &rec); err != nil || rec.Outcome.Summary != summary {
				b.Fatalf("runmatrix %v: %v: %s", args, err, out)
			}
			d := time.Duration(rec.Outcome.DurMS * float64(time.Millisecond))
			if trace {
				traced = append(traced, d)
				if len(rec.Outcome.Steps) < minSteps {
					b.Fatalf("traced run recorded %d steps, want at least %d", len(rec.Outcome.Steps), minSteps)
				}
			} else {
				plain = append(plain, d)
			}
		}
	}
	return plain, traced
}
