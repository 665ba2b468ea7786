package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// Pool resolves kernels, chooses the accelerator once, bounds the guests
// running at once and hands out ready guests, booting again once when a
// boot fails for the infrastructure. It implements matrix.Pool.
type Pool struct {
	env      *Env
	resolver *kernels.Resolver
	forced   string
	log      func(string)
	slots    chan struct{}
	// fetches bounds the kernels resolved (downloaded, extracted) at once:
	// a range of forty mainline tags is not forty parallel downloads.
	fetches chan struct{}

	mu      sync.Mutex
	kernels map[string]*kernels.Kernel
	accel   string
	why     string
	// A KVM proof runs in the background while guests boot under TCG.
	proving  bool
	tcgOK    map[string]bool // kernels that booted under TCG in this pool
	bgCancel context.CancelCauseFunc
	bg       sync.WaitGroup
	// The proof's kernel, when it started, and a timer that ends it as
	// stuck once it has taken StuckFactor times what the same kernel took
	// to come up under TCG (armed once that is known).
	proofRef   string
	proofStart time.Time
	stuck      *time.Timer
	// prover boots the proof (proveKVM; tests replace it).
	prover func(ctx context.Context, env *Env, k *kernels.Kernel) error
}

// StuckFactor: a KVM guest not ready after this many times the TCG boot
// time of the same kernel is taken as hanging (KVM is many times faster
// than TCG where it works; where nested virtualisation is broken a KVM
// guest hangs after the BIOS).
const StuckFactor = 3

// errKVMStuck ends a KVM proof that has taken StuckFactor times the TCG boot.
var errKVMStuck = errors.New("KVM guest stuck")

// maxFetches is how many kernels a pool resolves at once.
const maxFetches = 4

// NewPool returns a pool of at most jobs guests at once (0: as many as
// cores and free memory allow); accel is "kvm", "tcg" or "auto".
func NewPool(env *Env, resolver *kernels.Resolver, accel string, jobs int, log func(string)) *Pool {
	if jobs <= 0 {
		jobs = DefaultJobs(env.Opts.MemoryMB)
	}
	return &Pool{env: env, resolver: resolver, forced: accel, log: log, slots: make(chan struct{}, jobs),
		fetches: make(chan struct{}, maxFetches), kernels: map[string]*kernels.Kernel{}, tcgOK: map[string]bool{}, prover: proveKVM}
}

// DefaultJobs bounds parallel guests by cores (a TCG guest keeps one core
// busy) and by available memory (guest memory plus QEMU's own overhead).
func DefaultJobs(guestMB int) int {
	jobs := runtime.NumCPU()
	if avail := memAvailableMB(); avail > 0 {
		jobs = min(jobs, int((avail-512)/int64(guestMB+256)))
	}
	return max(1, jobs)
}

func memAvailableMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemAvailable: %d kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// Prepare resolves a kernel reference (once per pool) and returns what the
// image says of itself.
func (p *Pool) Prepare(ctx context.Context, ref string) (results.Kernel, error) {
	k, err := p.resolve(ctx, ref)
	if err != nil {
		return results.Kernel{Ref: ref}, err
	}
	// A guest of this architecture needs its QEMU: say which package has
	// it before anything boots.
	arch, err := vm.ArchOf(k.Image.Arch)
	if err != nil {
		return results.Kernel{Ref: ref}, &kernels.InputError{Err: fmt.Errorf("kernel %s: %w", ref, err)}
	}
	if qemu := arch.Binary(p.env.Opts.QEMU); qemu != "" {
		if _, err := exec.LookPath(qemu); err != nil {
			return results.Kernel{Ref: ref}, &kernels.InputError{Err: fmt.Errorf("kernel %s is %s: %s is not installed (apt-get install %s)", ref, arch.Name, qemu, arch.Package)}
		}
		// Only an arch with a minimum asks QEMU its version here: nothing
		// is started for one that needs none.
		if arch.MinQEMU != "" {
			if ok, why := arch.Trusted(p.env.qemuVersion.get(qemu)); !ok {
				return results.Kernel{Ref: ref}, &kernels.InputError{Err: fmt.Errorf("kernel %s is %s, which runmatrix refuses to run here: %s", ref, arch.Name, why)}
			}
		}
	}
	// The bare-boot line is longer by one word, and TCG's by its timer
	// words; allow for both.
	if n, max := len(p.env.CommandLine(k.Image.Arch, vm.AccelTCG))+len(" "+bootproto.BareArg), k.Image.CmdlineSize; max > 0 && n > max {
		return results.Kernel{Ref: ref}, &kernels.InputError{Err: fmt.Errorf("kernel %s: the command line would be %d bytes, and this image takes at most %d: shorten --append", ref, n, max)}
	}
	return results.Kernel{Ref: ref, Arch: k.Image.Arch, ImageRelease: k.Image.Release, ImageVersion: k.Image.Version, Origin: k.Origin}, nil
}

// WritePortable writes into dir the files that boot ref's guest without
// runmatrix (see Env.WritePortable).
func (p *Pool) WritePortable(ctx context.Context, ref, dir, stem string) (*Portable, error) {
	k, err := p.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return p.env.WritePortable(ctx, k, dir, stem)
}

// resolve returns the kernel a reference names, resolving it once per pool.
func (p *Pool) resolve(ctx context.Context, ref string) (*kernels.Kernel, error) {
	p.mu.Lock()
	k, ok := p.kernels[ref]
	p.mu.Unlock()
	if ok {
		return k, nil
	}
	select {
	case p.fetches <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	k, err := p.resolver.Resolve(ctx, ref)
	<-p.fetches
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.kernels[ref] = k
	p.mu.Unlock()
	return k, nil
}

// Accelerator returns the accelerator for the next boot. When KVM is
// neither forced, ruled out nor known from an earlier run, it is proven in
// the background with a real boot of k while guests boot under TCG: no
// boot waits for the proof, and once it succeeds later boots use KVM.
func (p *Pool) Accelerator(ctx context.Context, k *kernels.Kernel) (accel, why string, err error) {
	if a, err := vm.ArchOf(k.Image.Arch); err == nil && !a.Native() {
		return vm.AccelTCG, "KVM runs the host's own architecture only", nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accel != "" {
		return p.accel, p.why, nil
	}
	accel, why, ok, err := knownAccel(p.env, p.forced)
	if err != nil {
		return "", "", err
	}
	if ok {
		p.accel, p.why = accel, why
		p.log(fmt.Sprintf("accelerator: %s (%s)", accel, why))
		return accel, why, nil
	}
	if !p.proving {
		p.startProof(k)
		p.log(fmt.Sprintf("accelerator: tcg while KVM is proven in the background by booting %s under it", k.Ref.Raw))
	}
	return vm.AccelTCG, "KVM not proven yet", nil
}

// startProof starts the background KVM proof with k; p.mu is held.
func (p *Pool) startProof(k *kernels.Kernel) {
	p.proving = true
	bg, cancel := context.WithCancelCause(context.Background())
	p.bgCancel = cancel
	p.proofRef, p.proofStart = k.Ref.Raw, time.Now()
	p.bg.Add(1)
	go p.prove(bg, k)
}

// prove boots k under KVM and settles the pool's accelerator.
func (p *Pool) prove(ctx context.Context, k *kernels.Kernel) {
	defer p.bg.Done()
	err := p.prover(ctx, p.env, k)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stuck != nil {
		p.stuck.Stop()
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errKVMStuck) {
		return // the run ended first: nothing learnt
	}
	// What is kept for later runs names no kernel: they may boot others.
	kept := ""
	if errors.Is(context.Cause(ctx), errKVMStuck) {
		err = fmt.Errorf("a KVM guest of %s was not ready after %d times its TCG boot time (%s): KVM hangs here", k.Ref.Raw, StuckFactor, time.Since(p.proofStart).Round(100*time.Millisecond))
		kept = fmt.Sprintf("KVM boot failed: a KVM guest was not ready after %d times its TCG boot time: KVM hangs here", StuckFactor)
	}
	if err == nil {
		p.accel, p.why = vm.AccelKVM, "a KVM boot reached the agent"
		saveVerdict(p.env, accelVerdict{p.accel, p.why})
		p.log("accelerator: kvm from now on (a KVM boot reached the agent)")
		return
	}
	p.accel, p.why = vm.AccelTCG, "KVM boot failed: "+firstLine(err.Error())
	if kept == "" {
		kept = strings.ReplaceAll(p.why, k.Ref.Raw, "the kernel")
	}
	// Blame KVM only if the same kernel came up under TCG; a kernel that
	// fails either way says nothing about KVM, so nothing is cached then.
	if p.tcgOK[k.Ref.Raw] {
		saveVerdict(p.env, accelVerdict{p.accel, kept})
	}
	p.log(fmt.Sprintf("accelerator: tcg (%s)", p.why))
}

// Guests says how many guests of one kernel to run at once in a plan of n
// kernels, where guests may start from saved guests (otherwise each would
// be a full boot): one per two of the slots each kernel would have. A
// guest already runs several cells at once and keeps its core busy, so a
// second guest pays only with a core to spare beside it (measured on 2
// cores: one kernel in two guests took 6.4-7.2 s against 5.4 s in one).
func (p *Pool) Guests(ref string, n int) int {
	if p.env.Opts.NoSnapshot || p.env.Opts.SnapshotMaxMB <= 0 || n <= 0 {
		return 1
	}
	return max(1, cap(p.slots)/n/2)
}

// tcgReady tells a running KVM proof how long its kernel took to come up
// under TCG, arming the timer that takes the proof as stuck.
func (p *Pool) tcgReady(ref string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tcgOK[ref] = true
	if !p.proving || p.bgCancel == nil || ref != p.proofRef || d <= 0 || p.stuck != nil {
		return
	}
	cancel := p.bgCancel
	p.stuck = time.AfterFunc(max(0, time.Until(p.proofStart.Add(StuckFactor*d))), func() { cancel(errKVMStuck) })
}

// Close stops background work and waits for it. A KVM proof that will
// conclude (its kernel came up under TCG, so a stuck KVM guest is known
// by when) is waited for, so a short run still learns the verdict and
// the next run does not start another stuck KVM guest; one that cannot
// conclude yet is cancelled.
func (p *Pool) Close() {
	p.mu.Lock()
	cancel, armed := p.bgCancel, p.stuck != nil
	p.mu.Unlock()
	if cancel != nil && !armed {
		cancel(context.Canceled)
	}
	p.bg.Wait()
}

// Boot returns a ready guest of ref, holding one of the pool's slots until
// it is closed. A boot that fails for the infrastructure (QEMU, SSH, a
// deadline before the kernel started init) is tried once more; one where
// the kernel itself failed (a panic) or that stalled after starting init
// is not. Errors are *vm.BootError.
func (p *Pool) Boot(ctx context.Context, ref string, booting func()) (matrix.Guest, error) {
	g, err := p.bootGuest(ctx, ref, booting)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// BootGuest is Boot returning the concrete guest.
func (p *Pool) BootGuest(ctx context.Context, ref string) (*Pooled, error) {
	return p.bootGuest(ctx, ref, nil)
}

func (p *Pool) bootGuest(ctx context.Context, ref string, booting func()) (*Pooled, error) {
	k, err := p.resolve(ctx, ref)
	if err != nil {
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, &vm.BootError{Stage: "prepare", Err: ctx.Err()}
	}
	release := func() { <-p.slots }
	if booting != nil {
		booting()
	}
	accel, _, err := p.Accelerator(ctx, k)
	if err != nil {
		release()
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	var last error
	for try := 1; try <= 2; try++ {
		if try == 2 {
			p.log(fmt.Sprintf("%s: booting again after: %s", ref, firstLine(last.Error())))
		}
		g, err := Boot(ctx, p.env, k, accel)
		if err == nil {
			if accel == vm.AccelTCG {
				p.tcgReady(ref, g.ColdReady)
			}
			return &Pooled{Guest: g, release: release}, nil
		}
		last = err
		if ctx.Err() != nil || kernelFault(err) || stalledInInit(err) {
			break
		}
	}
	release()
	var be *vm.BootError
	if !errors.As(last, &be) {
		return nil, &vm.BootError{Stage: "boot", Err: last}
	}
	return nil, last
}

// stalledInInit reports a boot whose deadline came after the kernel had
// started init, or that fell silent past its expected time: booting it
// again stalls the same way, so it is not.
func stalledInInit(err error) bool {
	var be *vm.BootError
	return errors.As(err, &be) && (be.InitStarted || be.Silent)
}

// kernelFault reports a boot that failed because of the kernel itself.
func kernelFault(err error) bool {
	var be *vm.BootError
	return errors.As(err, &be) && be.Panic
}

// Pooled is a guest that holds a pool slot until closed.
type Pooled struct {
	*Guest
	once    sync.Once
	release func()
}

// Close stops the guest and gives its slot back.
func (g *Pooled) Close() error {
	err := g.Guest.Close()
	g.once.Do(g.release)
	return err
}

// BareBoot boots a prepared kernel with an init that powers off at once,
// holding a slot, and returns the time from QEMU start to its exit: the
// floor for a guest's ReadyAfter.
func (p *Pool) BareBoot(ctx context.Context, ref string) (time.Duration, error) {
	k, err := p.resolve(ctx, ref)
	if err != nil {
		return 0, err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.slots }()
	accel, _, err := p.Accelerator(ctx, k)
	if err != nil {
		return 0, err
	}
	return BareBoot(ctx, p.env, k, accel)
}

// Kernel resolves a reference (once per pool) and returns the kernel.
func (p *Pool) Kernel(ctx context.Context, ref string) (*kernels.Kernel, error) {
	return p.resolve(ctx, ref)
}

// Env is what the pool's guests share; set its hooks before the first boot.
func (p *Pool) Env() *Env { return p.env }
