package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/internal/bootproto"
	"github.com/runmatrix/runmatrix/internal/vm"
	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/matrix"
	"github.com/runmatrix/runmatrix/matrix/results"
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

	mu      sync.Mutex
	kernels map[string]*kernels.Kernel
	accel   string
	why     string
}

// NewPool returns a pool of at most jobs guests at once (0: as many as
// cores and free memory allow); accel is "kvm", "tcg" or "auto".
func NewPool(env *Env, resolver *kernels.Resolver, accel string, jobs int, log func(string)) *Pool {
	if jobs <= 0 {
		jobs = DefaultJobs(env.Opts.MemoryMB)
	}
	return &Pool{env: env, resolver: resolver, forced: accel, log: log, slots: make(chan struct{}, jobs), kernels: map[string]*kernels.Kernel{}}
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
	// The bare-boot line is longer by one word; allow for it.
	if n, max := len(p.env.CommandLine())+len(" "+bootproto.BareArg), k.Image.CmdlineSize; max > 0 && n > max {
		return results.Kernel{Ref: ref}, &kernels.InputError{Err: fmt.Errorf("kernel %s: the command line would be %d bytes, and this image takes at most %d: shorten --append", ref, n, max)}
	}
	return results.Kernel{Ref: ref, ImageRelease: k.Image.Release, ImageVersion: k.Image.Version, Origin: k.Origin}, nil
}

// resolve returns the kernel a reference names, resolving it once per pool.
func (p *Pool) resolve(ctx context.Context, ref string) (*kernels.Kernel, error) {
	p.mu.Lock()
	k, ok := p.kernels[ref]
	p.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := p.resolver.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.kernels[ref] = k
	p.mu.Unlock()
	return k, nil
}

// Accelerator returns the accelerator the pool boots with, deciding it
// on first use (see ChooseAccel) with the kernel k.
func (p *Pool) Accelerator(ctx context.Context, k *kernels.Kernel) (accel, why string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accel != "" {
		return p.accel, p.why, nil
	}
	accel, why, err = ChooseAccel(ctx, p.env, p.forced, k)
	if err != nil {
		return "", "", err
	}
	p.accel, p.why = accel, why
	p.log(fmt.Sprintf("accelerator: %s (%s)", accel, why))
	return accel, why, nil
}

// Boot returns a ready guest of ref, holding one of the pool's slots until
// it is closed. A boot that fails for the infrastructure (QEMU, SSH, a
// deadline) is tried once more; one where the kernel itself failed (a
// panic) is not. Errors are *matrix.BootError.
func (p *Pool) Boot(ctx context.Context, ref string) (matrix.Guest, error) {
	g, err := p.BootGuest(ctx, ref)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// BootGuest is Boot returning the concrete guest.
func (p *Pool) BootGuest(ctx context.Context, ref string) (*Pooled, error) {
	k, err := p.resolve(ctx, ref)
	if err != nil {
		return nil, &matrix.BootError{Err: err}
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, &matrix.BootError{Err: ctx.Err()}
	}
	release := func() { <-p.slots }
	accel, _, err := p.Accelerator(ctx, k)
	if err != nil {
		release()
		return nil, &matrix.BootError{Err: err}
	}
	var last error
	for try := 1; try <= 2; try++ {
		if try == 2 {
			p.log(fmt.Sprintf("%s: booting again after: %s", ref, firstLine(last.Error())))
		}
		g, err := Boot(ctx, p.env, k, accel)
		if err == nil {
			return &Pooled{Guest: g, release: release}, nil
		}
		last = err
		if ctx.Err() != nil || kernelFault(err) {
			break
		}
	}
	release()
	be := &matrix.BootError{Err: last, Kernel: kernelFault(last)}
	var ge *Error
	if errors.As(last, &ge) {
		be.Console = ge.Console
	}
	return nil, be
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
