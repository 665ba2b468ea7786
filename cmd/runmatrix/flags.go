package main

import (
	"github.com/spf13/pflag"

	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/matrix"
	"github.com/runmatrix/runmatrix/vm"
)

// guestFlags are the flags of every command that boots guests.
type guestFlags struct {
	opts     guest.Options
	accel    string
	jobs     int
	cacheDir string
	debian   kernels.Debian
}

func (f *guestFlags) register(fs *pflag.FlagSet) {
	d := guest.DefaultOptions()
	fs.StringVar(&f.accel, "accel", "auto", "accelerator: kvm, tcg or auto (KVM only if a probe boot proves it works)")
	fs.IntVar(&f.jobs, "jobs", 0, "guests to run at once (0: as many as cores and free memory allow)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "cache directory (default $XDG_CACHE_HOME/runmatrix)")
	fs.StringVar(&f.opts.QEMU, "qemu", vm.DefaultQEMU, "QEMU binary")
	fs.IntVar(&f.opts.MemoryMB, "memory", d.MemoryMB, "guest memory in MiB")
	fs.IntVar(&f.opts.CPUs, "cpus", d.CPUs, "guest CPUs")
	fs.DurationVar(&f.opts.BootTimeout, "boot-timeout", d.BootTimeout, "deadline from QEMU start to the guest init's ready line")
	fs.DurationVar(&f.opts.SSHTimeout, "ssh-timeout", d.SSHTimeout, "deadline for SSH and the agent upload")
	fs.DurationVar(&f.opts.CommandTimeout, "command-timeout", d.CommandTimeout, "deadline for each agent command")
	fs.StringVar(&f.opts.Append, "append", "", "extra kernel command-line arguments")
	fs.BoolVar(&f.opts.NoModules, "no-modules", false, "boot without the kernel's modules (SSH goes over serial unless a NIC driver is built in)")
	env := kernels.DebianFromEnv()
	fs.StringVar(&f.debian.Mirror, "debian-mirror", env.Mirror, "Debian archive for debian: kernels (env RUNMATRIX_DEBIAN_MIRROR)")
	fs.StringVar(&f.debian.SecurityMirror, "debian-security-mirror", env.SecurityMirror, "Debian security archive (env RUNMATRIX_DEBIAN_SECURITY_MIRROR)")
	fs.StringVar(&f.debian.RetiredMirror, "debian-retired-mirror", env.RetiredMirror, "archive of retired Debian releases, squeeze to buster (env RUNMATRIX_DEBIAN_RETIRED_MIRROR)")
	fs.DurationVar(&f.debian.IndexTTL, "index-ttl", kernels.DefaultIndexTTL, "reuse a fetched Debian suite index for this long before reading the archive again")
	fs.BoolVar(&f.debian.Offline, "offline", false, "resolve kernels from the cache only; never touch the network")
}

// resolver resolves kernel references with the flags' cache and archives.
func (f *guestFlags) resolver(cache kernels.Cache, log func(string)) *kernels.Resolver {
	return &kernels.Resolver{Cache: cache, Log: log, Debian: f.debian}
}

func (f *guestFlags) cache() (kernels.Cache, error) {
	if f.cacheDir != "" {
		return kernels.Cache{Dir: f.cacheDir}, nil
	}
	d, err := kernels.DefaultCacheDir()
	return kernels.Cache{Dir: d}, err
}

// parallel is --jobs, or a bound from cores and free memory.
func (f *guestFlags) parallel() int {
	if f.jobs > 0 {
		return f.jobs
	}
	return matrix.DefaultJobs(f.opts.MemoryMB)
}
