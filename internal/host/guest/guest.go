// Package guest boots a kernel with the runmatrix init under QEMU, connects
// over SSH, ships the agent and runs it.
package guest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/guestbin"
	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
	"github.com/runmatrix/runmatrix/internal/host/remote"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/wire/agentproto"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// AgentPath is where the agent lies in the guest: it is shipped in the
// initramfs with the boot, so no upload stands between ready and the
// first case (over a serial line an upload took tens of seconds).
const AgentPath = bootproto.AgentPath

// Options tune how guests are booted.
type Options struct {
	QEMU           string
	MemoryMB       int
	CPUs           int
	BootTimeout    time.Duration // QEMU start to the init's ready line
	SSHTimeout     time.Duration // ready line to an SSH session and the uploaded agent
	CommandTimeout time.Duration // each agent command (probe, upload)
	// CaseTimeout bounds the wait for each case's result once cases run: a
	// guest that stays silent longer is taken for lost and killed.
	CaseTimeout time.Duration
	// CaseJobs is how many cells a guest may run at once (at most one per
	// MiBPerCaseJob of its memory); the agent runs them one at a time
	// where concurrency could change an outcome.
	CaseJobs int
	// Shared runs cases without network namespaces, as on kernels built
	// without CONFIG_NET_NS (each case on its own 127/8 address).
	Shared bool
	// WorkDir is where per-guest temporary directories go ("" = os.TempDir()).
	WorkDir string
	// Append is added to the kernel command line.
	Append string
	// NoModules boots without the kernel's modules, as when a user has only
	// the bzImage: without a built-in NIC driver SSH goes over serial.
	NoModules bool
	// NICs limits the NIC models offered (virtio-net-pci, e1000, rtl8139,
	// pcnet, ne2k_pci) to these; empty offers what the kernel can drive.
	NICs []string
	// NoSnapshot boots every guest cold: none is saved, none restored.
	NoSnapshot bool
	// SnapshotMaxMB bounds the saved guests kept in the cache; the least
	// recently used go first (0 keeps none: nothing is saved).
	SnapshotMaxMB int
}

// DefaultOptions are the timeouts and sizes used unless overridden.
func DefaultOptions() Options {
	return Options{MemoryMB: 512, CPUs: 1, BootTimeout: 180 * time.Second, SSHTimeout: 120 * time.Second,
		CommandTimeout: 300 * time.Second, CaseTimeout: 120 * time.Second, CaseJobs: 32, SnapshotMaxMB: DefaultSnapshotMaxMB}
}

// Env is what every guest of a run shares.
type Env struct {
	Cache store.Cache
	Bins  *guestbin.Builder
	Opts  Options
	// Files, when set, returns extra files for the initramfs of a guest of
	// this GOARCH (go test binaries and their package directories).
	Files func(ctx context.Context, goarch string) ([]initramfs.File, error)
	// Shares are host folders its guests may mount over 9p (exec's
	// package folder, too big for an initramfs).
	Shares []vm.Share
	// Modules are kernel modules the guest loads at boot, before its NIC's
	// (the user's programs ask for them), where the kernel has them.
	Modules []string
	// ConfigOptions are the kernel options a run records of each kernel's
	// configuration: those its cases' expectations name (NewEnv: the
	// built-in cases').
	ConfigOptions []string
	// Log, when set, gets one-line notices (a saved guest that did not
	// resume, a snapshot that could not be written).
	Log func(string)

	qemuVersion *qemuVersions
	// experience sets expected boot times from earlier boots (nil: --boot-timeout).
	experience *experience
	// configs keeps each image's kernelConfig, read once.
	configs *sync.Map
	// bins, when set, stands in for Bins (tests boot a fake QEMU without
	// building guest binaries).
	bins func(ctx context.Context, arch string) (guestbin.Binaries, error)
}

// binaries are the guest init and agent for arch.
func (env *Env) binaries(ctx context.Context, arch string) (guestbin.Binaries, error) {
	if env.bins != nil {
		return env.bins(ctx, arch)
	}
	return env.Bins.Get(ctx, arch)
}

// logf sends a notice to env.Log.
func (env *Env) logf(format string, args ...any) {
	if env.Log != nil {
		env.Log(fmt.Sprintf(format, args...))
	}
}

// NewEnv returns an Env for guests cached in cache, after removing what
// crashed runs left in opts.WorkDir. Each guest gets its own keys (newRun).
func NewEnv(cache store.Cache, opts Options) *Env {
	CleanStale(opts.WorkDir)
	exp := &experience{}
	exp.path, _ = cache.Path(experienceFile)
	return &Env{Cache: cache, Bins: &guestbin.Builder{Cache: cache}, Opts: opts, ConfigOptions: catalog.New().ConfigOptions(),
		qemuVersion: &qemuVersions{}, experience: exp, configs: &sync.Map{}}
}

// TCGTimers are the words a guest under TCG boots with: every reprogramming
// of an emulated timer wakes QEMU's main loop, and a high-resolution or
// tickless kernel reprograms it on every hrtimer and every idle period.
// Measured on debian:6.12 (TCG, 2 host cores): --repeat 5 of the default
// matrix took 12.2 s with the kernel's defaults and 9.5 s with these.
// Timers then fire on the periodic tick (1/CONFIG_HZ); --append
// "highres=on nohz=on" restores the defaults (the last word wins).
const TCGTimers = "highres=off nohz=off"

// CommandLine is the kernel command line guests of arch boot with under accel.
func (env *Env) CommandLine(arch, accel string) string {
	console := "ttyS0,115200"
	if a, err := vm.ArchOf(arch); err == nil && a.Console != "ttyS0" {
		console = a.Console
	}
	line := "console=" + console + " panic=-1 rdinit=/init"
	if accel == vm.AccelTCG {
		line += " " + TCGTimers
	}
	if env.Opts.Append != "" {
		line += " " + env.Opts.Append
	}
	return line
}

// Guest is a booted kernel with its agent uploaded.
type Guest struct {
	// Booted is the resolved kernel the guest booted.
	Booted  *kernels.Kernel
	Accel   string
	Ready   bootproto.Ready
	Machine *vm.Machine
	Client  *remote.Client
	// ReadyAfter is the time from QEMU start to the agent answering.
	ReadyAfter time.Duration
	// Probe is the agent's report of the running kernel.
	Probe agentproto.Probe
	// AgentSHA256 is the sha256 of the agent binary uploaded to the guest.
	AgentSHA256 string
	// Inputs is the digest of what its cells depend on (Env.Inputs).
	Inputs string
	// config is what is known of the kernel's configuration.
	config kernelConfig
	// Restored is set when the guest started from a saved guest rather
	// than a boot; Saved and SavedBytes when this boot saved one.
	Restored   bool
	Saved      time.Duration
	SavedBytes int64
	// ColdReady is how long a cold boot of this kernel took to ready: this
	// guest's ReadyAfter, or the saved guest's when restored (0 unknown).
	ColdReady time.Duration

	dir     string
	opts    Options
	hostKey ssh.PublicKey // this guest's own, from its run line
	secret  []byte        // the password its SSH server admits, from its run line
	// known is the agent's probe of the saved guest this one started
	// from: the same kernel in the same state, so it is not asked again.
	known *agentproto.Probe
}

// Boot starts k under accel and returns once the uploaded agent has answered.
func Boot(ctx context.Context, env *Env, k *kernels.Kernel, accel string) (*Guest, error) {
	bins, err := env.binaries(ctx, k.Image.Arch)
	if err != nil {
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	extra, err := env.extraFiles(ctx, k)
	if err != nil {
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	base, mods, err := env.base(k, bins, extra...)
	if err != nil {
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	cfg := vm.Config{
		QEMU: env.Opts.QEMU, Arch: k.Image.Arch, Kernel: k.Path, Initrd: base, Append: env.CommandLine(k.Image.Arch, accel), Accel: accel,
		MemoryMB: env.Opts.MemoryMB, CPUs: env.Opts.CPUs, NICs: chooseNICs(ctx, env.Cache, k, mods, env.Opts.NICs), Shares: env.Shares,
	}
	snap := env.snapshotFor(ctx, cfg, k)
	in := inputs(k, bins, extra)
	if snap.path != "" && snap.exists() {
		g, err := boot(ctx, env, k, accel, bins, cfg, snap, true)
		if err == nil {
			g.Inputs, g.config = in, env.kernelConfig(ctx, k)
		}
		if err == nil || ctx.Err() != nil {
			return g, err
		}
		// A snapshot QEMU refuses (corrupt, truncated, another QEMU) or
		// whose guest does not come back is replaced by a cold boot's.
		env.logf("%s: the saved guest did not resume (%v); booting cold and saving it again", k.Ref.Raw, firstLine(err.Error()))
		snap.remove()
	}
	g, err := boot(ctx, env, k, accel, bins, cfg, snap, false)
	if err == nil {
		g.Inputs, g.config = in, env.kernelConfig(ctx, k)
	}
	return g, err
}

// boot starts one guest, from the snapshot when restore is set, else cold
// (saving it at its snapshot point when snap names where), hands it its
// run line and connects.
func boot(ctx context.Context, env *Env, k *kernels.Kernel, accel string, bins guestbin.Binaries, cfg vm.Config, snap snapshot, restore bool) (*Guest, error) {
	dir, err := guestDir(env.Opts.WorkDir)
	if err != nil {
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	cfg.Dir = dir
	if restore {
		cfg.Incoming = snap.path
		snap.touch()
	}
	run, hostKey, err := newRun()
	if err != nil {
		os.RemoveAll(dir)
		return nil, &vm.BootError{Stage: "prepare", Err: err}
	}
	g := &Guest{Booted: k, Accel: accel, dir: dir, opts: env.Opts, hostKey: hostKey, secret: run.Secret, Restored: restore}
	if restore {
		meta := snap.meta()
		g.known, g.ColdReady = meta.Probe, time.Duration(meta.ReadySeconds*float64(time.Second))
	}
	m, err := vm.Start(ctx, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, &vm.BootError{Stage: "boot", Err: err}
	}
	g.Machine = m
	deadline := env.Opts.BootTimeout
	if restore {
		deadline = min(deadline, restoreTimeout)
		rctx, cancel := context.WithTimeout(ctx, deadline)
		err := m.WaitRunning(rctx)
		cancel()
		if err != nil {
			g.Close()
			return nil, g.fail("restore", err)
		}
	} else {
		expected, why := env.experience.expected(k, accel, deadline)
		bctx, cancel := context.WithTimeout(ctx, deadline)
		wctx, stop := context.WithCancel(bctx)
		quiet := watchQuiet(bctx, m, expected, quietLimit, stop)
		err := m.WaitSnapshotPoint(wctx)
		expired := errors.Is(bctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		stop()
		cancel()
		stalled := quiet()
		if err != nil {
			g.Close()
			var be *vm.BootError
			switch {
			case !errors.As(err, &be) || be.Panic:
			case stalled:
				be.Reason += fmt.Sprintf(" (past %s, %s, and its console silent for %s)", expected.Round(time.Second), why, quietLimit)
				be.Silent = true
			case expired:
				be.Reason += fmt.Sprintf(" (--boot-timeout %s)", deadline)
			}
			return nil, g.fail("boot", err)
		}
		if snap.path != "" {
			start := time.Now()
			size, err := m.Save(ctx, snap.path)
			if err != nil {
				env.logf("%s: could not save the guest for later boots: %v", k.Ref.Raw, err)
			} else {
				g.Saved, g.SavedBytes = time.Since(start), size
			}
		}
	}
	if err := m.SendRun(run); err != nil {
		g.Close()
		return nil, g.fail("boot", fmt.Errorf("hand the guest its run line: %w", err))
	}
	if err := g.connect(ctx, env, bins, deadline); err != nil {
		g.Close()
		return nil, err
	}
	if !restore {
		g.ColdReady = g.ReadyAfter
		env.experience.record(k, accel, g.ReadyAfter)
	}
	if g.SavedBytes > 0 {
		snap.written(env, k, g.SavedBytes, g.Probe, g.ReadyAfter)
	}
	return g, nil
}

// restoreTimeout bounds a restored guest's way to its ready line: it is
// past its boot, so a guest slower than this did not resume.
const restoreTimeout = 30 * time.Second

// newRun makes a guest's run line: its own host key, the secret its SSH
// server admits (see sshserver.Admit), a seed and the clock.
func newRun() (bootproto.Run, ssh.PublicKey, error) {
	host, hostSeed, err := remote.NewHostKey()
	if err != nil {
		return bootproto.Run{}, nil, err
	}
	secret, seed := make([]byte, 32), make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return bootproto.Run{}, nil, err
	}
	if _, err := rand.Read(seed); err != nil {
		return bootproto.Run{}, nil, err
	}
	return bootproto.Run{HostKey: hostSeed, Secret: secret, Seed: seed, UnixNano: time.Now().UnixNano()}, host.PublicKey(), nil
}

// BareBoot boots k with an init that powers off at once and returns the
// time from QEMU start to QEMU's exit: the floor for Boot's ReadyAfter.
func BareBoot(ctx context.Context, env *Env, k *kernels.Kernel, accel string) (time.Duration, error) {
	bins, err := env.binaries(ctx, k.Image.Arch)
	if err != nil {
		return 0, err
	}
	base, _, err := env.base(k, bins)
	if err != nil {
		return 0, err
	}
	dir, err := guestDir(env.Opts.WorkDir)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	m, err := vm.Start(ctx, vm.Config{
		QEMU: env.Opts.QEMU, Arch: k.Image.Arch, Kernel: k.Path, Initrd: base, Accel: accel, MemoryMB: env.Opts.MemoryMB, CPUs: env.Opts.CPUs, Dir: dir,
		Append: env.CommandLine(k.Image.Arch, accel) + " " + bootproto.BareArg, // as long as Pool.Prepare checks
	})
	if err != nil {
		return 0, err
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(ctx, env.Opts.BootTimeout)
	defer cancel()
	select {
	case <-m.Exited():
		return time.Since(m.Started()), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("bare boot of %s: %w", k.Ref.Raw, ctx.Err())
	}
}

// extraFiles returns the files env.Files adds for k's architecture.
func (env *Env) extraFiles(ctx context.Context, k *kernels.Kernel) ([]initramfs.File, error) {
	if env.Files == nil {
		return nil, nil
	}
	goarch, err := cpu.GOARCH(k.Image.Arch)
	if err != nil {
		return nil, err
	}
	return env.Files(ctx, goarch)
}

// base returns the cached base initramfs of k's guests (init, agent, the
// modules they load, extra files) and the modules in it: everything but
// the per-guest keys and seed. The modules come back by name only when the
// archive is one an earlier run built from the same inputs.
func (env *Env) base(k *kernels.Kernel, bins guestbin.Binaries, extra ...initramfs.File) (string, []initramfs.Module, error) {
	var stacks [][]string
	if k.ModulesDir != "" && !env.Opts.NoModules {
		stacks = moduleStacks(env.Opts.NICs)
		for _, m := range env.Modules {
			stacks = append([][]string{{m}}, stacks...)
		}
		// The second channel's driver, where the kernel builds it as a
		// module: without it the init has no run line to read.
		if a, err := vm.ArchOf(k.Image.Arch); err == nil && a.PortModule != "" && initramfs.HasModule(k.ModulesDir, a.PortModule) {
			stacks = append([][]string{{a.PortModule}}, stacks...)
		}
	}
	memo := env.baseMemo(k, bins, stacks, extra)
	if p, mods, ok := memo.Lookup(); ok {
		return p, mods, nil
	}
	var mods []initramfs.Module
	if len(stacks) > 0 {
		var err error
		if mods, err = initramfs.NICModules(k.ModulesDir, stacks); err != nil {
			return "", nil, err
		}
	}
	initBin, err := os.ReadFile(bins.Init)
	if err != nil {
		return "", nil, err
	}
	agent, err := os.ReadFile(bins.Agent)
	if err != nil {
		return "", nil, err
	}
	base, err := initramfs.Base(env.Cache, initBin, agent, mods, extra...)
	if err != nil {
		return "", nil, err
	}
	if err := memo.Remember(base, mods); err != nil {
		env.logf("could not remember the initramfs of %s: %v", k.Ref.Raw, err)
	}
	return base, mods, nil
}

// baseMemo names the inputs of a base initramfs: the binaries' digests,
// the kernel's modules directory (named by its package's digest in the
// cache), the module stacks asked for and the extra files.
func (env *Env) baseMemo(k *kernels.Kernel, bins guestbin.Binaries, stacks [][]string, extra []initramfs.File) initramfs.Memo {
	h := sha256.New()
	fmt.Fprintf(h, "runmatrix base initramfs 1\x00")
	fmt.Fprintf(h, "%s\x00%s\x00", bins.InitSHA256, bins.AgentSHA256)
	fmt.Fprintf(h, "%s\x00%q\x00", k.ModulesDir, stacks)
	hashFiles(h, extra)
	return initramfs.Memo{Cache: env.Cache, Key: hex.EncodeToString(h.Sum(nil))[:32]}
}

// guestDirPrefix names guest working directories; the pid after it tells
// whether their run is still alive.
const guestDirPrefix = "runmatrix-guest-"

func guestDir(workDir string) (string, error) {
	return os.MkdirTemp(workDir, fmt.Sprintf("%s%d-", guestDirPrefix, os.Getpid()))
}

// CleanStale removes the guest directories of runs that no longer exist
// (killed before they could clean up after themselves).
func CleanStale(workDir string) {
	if workDir == "" {
		workDir = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(workDir, guestDirPrefix+"*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(strings.TrimPrefix(filepath.Base(d), guestDirPrefix), "%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

func (g *Guest) fail(stage string, err error) error {
	var be *vm.BootError
	if errors.As(err, &be) {
		return &vm.BootError{Stage: stage, Err: err, Console: be.Console, Panic: be.Panic, InitStarted: be.InitStarted, Silent: be.Silent}
	}
	return &vm.BootError{Stage: stage, Err: err, Console: g.Machine.Tail(25)}
}

// afterWaitLine marks a guest that reached its init's wait line (booted
// there or restored) and then stalled: what stalled came after its run
// line, in this guest, not the kernel and init on every boot. Twice in
// fresh-clone test runs a guest saved at its wait line never answered
// after it, and never again in the runs after; a fresh guest from the
// saved one is worth the pool's one more try, where a stall before the
// wait line (stalledInInit) is not.
func afterWaitLine(err error) error {
	var be *vm.BootError
	if errors.As(err, &be) {
		be.InitStarted = false
	}
	return err
}

func (g *Guest) connect(ctx context.Context, env *Env, bins guestbin.Binaries, deadline time.Duration) error {
	bctx, cancel := context.WithTimeout(ctx, deadline)
	ready, err := g.Machine.WaitReady(bctx)
	cancel()
	if err != nil {
		return g.fail("boot", afterWaitLine(err))
	}
	g.Ready = ready
	sctx, cancel := context.WithTimeout(ctx, env.Opts.SSHTimeout)
	defer cancel()
	conn, err := g.transport(sctx, ready)
	if err != nil {
		return g.fail("ssh", err)
	}
	c, err := remote.Dial(sctx, conn, g.hostKey, ssh.Password(string(g.secret)))
	if err != nil {
		return g.fail("ssh", err)
	}
	g.Client = c
	if g.known != nil {
		g.Probe = *g.known
	} else {
		out, err := g.Agent(sctx, "probe")
		if err != nil {
			return g.fail("agent", err)
		}
		if err := json.Unmarshal(out, &g.Probe); err != nil {
			return g.fail("agent", fmt.Errorf("probe output %q: %w", out, err))
		}
		if err := (results.Kernel{Release: g.Probe.Release, Arch: g.Probe.Machine, UnameVersion: g.Probe.Version}).Check(); err != nil {
			return g.fail("agent", fmt.Errorf("the guest's probe: %w", err))
		}
	}
	g.ReadyAfter = time.Since(g.Machine.Started())
	g.AgentSHA256 = bins.AgentSHA256
	return nil
}

// Inputs is a digest of what a cell measured on k depends on besides the
// kernel's behaviour: the kernel image, the init and agent (the user's
// cases are linked into it) and the extra files its guests carry (the
// user's programs and test binaries). A resumed run measures again a cell
// whose inputs are not those it was measured with.
func (env *Env) Inputs(ctx context.Context, k *kernels.Kernel) (string, error) {
	bins, err := env.binaries(ctx, k.Image.Arch)
	if err != nil {
		return "", err
	}
	extra, err := env.extraFiles(ctx, k)
	if err != nil {
		return "", err
	}
	return inputs(k, bins, extra), nil
}

func inputs(k *kernels.Kernel, bins guestbin.Binaries, extra []initramfs.File) string {
	h := sha256.New()
	fmt.Fprintf(h, "runmatrix cell inputs 1\x00%s\x00%s\x00%s\x00", k.Origin.SHA256, bins.InitSHA256, bins.AgentSHA256)
	hashFiles(h, extra)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// hashFiles writes each extra file's path, mode and content digest to h:
// what an initramfs memo and a cell's inputs both name of them.
func hashFiles(h io.Writer, files []initramfs.File) {
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%x\x00", f.Path, f.Mode, sha256.Sum256(f.Data))
	}
}

func (g *Guest) transport(ctx context.Context, r bootproto.Ready) (net.Conn, error) {
	switch r.Transport {
	case bootproto.TransportNet:
		port, err := g.Machine.ForwardedPort(r.MAC)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	case bootproto.TransportSerial:
		return g.Machine.SerialConn(), nil
	}
	return nil, fmt.Errorf("guest offers transport %q, which this runner does not speak", r.Transport)
}

// Agent runs the uploaded agent with args and returns its stdout.
func (g *Guest) Agent(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.CommandTimeout)
	defer cancel()
	cmd := AgentPath
	for _, a := range args {
		cmd += " " + a
	}
	return g.Client.Run(ctx, cmd, nil)
}

// RunCases runs `guest-agent run` with args and passes each result to
// emit as the agent prints it. Each result must arrive within the
// CaseTimeout of the one before (a case's own watchdog fires well before):
// a guest that stays silent longer is killed and the error says what was
// being waited for. An error from emit stops the reading and is returned.
func (g *Guest) RunCases(ctx context.Context, emit func(outcome.Result) error, args ...string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := g.opts.CaseTimeout
	if timeout <= 0 {
		timeout = DefaultOptions().CaseTimeout
	}
	idle := time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("guest stopped answering: no case result for %s", timeout))
	})
	defer idle.Stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		defer io.Copy(io.Discard, pr) // let the session finish writing
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			idle.Reset(timeout)
			var r outcome.Result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				done <- fmt.Errorf("agent printed a line that is not a result: %.200s", sc.Text())
				return
			}
			if err := emit(r); err != nil {
				done <- err
				return
			}
		}
		done <- sc.Err()
	}()
	err := g.Client.Stream(ctx, AgentPath+" run "+strings.Join(args, " "), nil, pw)
	pw.Close()
	rerr := <-done
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, context.Canceled) {
		g.Machine.Kill() // it froze: nothing it says now can be trusted
		return &vm.BootError{Stage: "agent", Err: cause, Console: g.Machine.Tail(25)}
	}
	if rerr != nil {
		return rerr
	}
	if err != nil {
		return &vm.BootError{Stage: "agent", Err: err, Console: g.Machine.Tail(25)}
	}
	return nil
}

// HostKeyFingerprint is the SHA256 fingerprint of the guest's own SSH host key.
func (g *Guest) HostKeyFingerprint() string {
	if g.hostKey == nil {
		return ""
	}
	return ssh.FingerprintSHA256(g.hostKey)
}

// Kernel is what is known of the running kernel.
func (g *Guest) Kernel() results.Kernel {
	return results.Kernel{
		Ref: g.Booted.Ref.Raw, Release: g.Probe.Release, Arch: g.Probe.Machine, ImageRelease: g.Booted.Image.Release,
		Origin: g.Booted.Origin, Accel: g.Accel, Transport: g.Ready.Transport, ReadyS: g.ReadyAfter.Seconds(), Console: g.Ready.Console, Restored: g.Restored, UnameVersion: g.Probe.Version,
		ImageVersion: g.Booted.Image.Version, QEMU: g.Machine.CommandLine(), AgentSHA256: g.AgentSHA256, Inputs: g.Inputs,
		Config: g.config.options, ConfigFrom: g.config.from,
	}
}

// MiBPerCaseJob is the guest memory each cell running at once may need
// (a case process is a few MiB; a user's case or test may hold more).
const MiBPerCaseJob = 16

// caseJobs is how many cells a guest of o runs at once. Most cells spend
// their time waiting (for RCU grace periods as namespaces come and go, for
// retransmission timers), so more cells at once than CPUs is faster: on
// this project's 2-core TCG host the default matrix --repeat 5 took 37 s
// at 8, 23 s at 16, 18.6 s at 32 and 19 s at 64.
func caseJobs(o Options) int {
	return max(1, min(o.CaseJobs, o.MemoryMB/MiBPerCaseJob))
}

// Run runs the cells in order with the agent, passing each outcome on with
// the console lines the guest printed while it ran.
func (g *Guest) Run(ctx context.Context, cells []results.Cell, emit func(c results.Cell, o outcome.Outcome, console []string) error) error {
	args := []string{"-parallel", strconv.Itoa(caseJobs(g.opts))}
	if g.opts.Shared {
		args = append(args, "-shared")
	}
	for _, c := range cells {
		args = append(args, "-cell", c.Case+"@"+c.Profile)
	}
	_, mark := g.Machine.ConsoleSince(0)
	i := 0
	return g.RunCases(ctx, func(r outcome.Result) error {
		if i >= len(cells) || cells[i].Case != r.Case || cells[i].Profile != r.Profile {
			return fmt.Errorf("agent answered for %s %s out of order", r.Case, r.Profile)
		}
		var console []string
		console, mark = g.Machine.ConsoleSince(mark)
		i++
		return emit(cells[i-1], r.Outcome, console)
	}, args...)
}

// Dir is the guest's working directory on the host (console log, QMP socket).
func (g *Guest) Dir() string { return g.dir }

// ConsoleLog is the path of the guest's console log.
func (g *Guest) ConsoleLog() string { return path.Join(g.dir, vm.ConsoleLog) }

// Close stops QEMU and removes the guest's temporary directory.
func (g *Guest) Close() error {
	if g.Client != nil {
		g.Client.Close()
	}
	if g.Machine != nil {
		g.Machine.Close()
	}
	return os.RemoveAll(g.dir)
}
