package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/pflag"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// guestFlags are the flags of every command that boots guests.
type guestFlags struct {
	opts     guest.Options
	accel    string
	jobs     int
	cacheDir string
	debian   kernels.Debian
	mainline kernels.Mainline
	mirrors  map[string]string
	keyrings map[string]string
	keyring  map[string]openpgp.EntityList // read from keyrings by check
	alpine   map[string]*rsa.PublicKey
}

// register adds every flag of a command that boots guests.
func (f *guestFlags) register(fs *pflag.FlagSet) {
	d := guest.DefaultOptions()
	f.opts = d // what no flag of the command sets (registerCells' on probe) keeps its default
	fs.StringVar(&f.accel, "accel", "auto", "accelerator: kvm, tcg or auto (KVM only if a probe boot proves it works)")
	fs.IntVar(&f.jobs, "jobs", 0, "guests to run at once (0: as many as cores and free memory allow)")
	fs.StringVar(&f.opts.QEMU, "qemu", vm.DefaultQEMU, "QEMU binary for x86 guests (other architectures use their own: qemu-system-aarch64, -arm, -riscv64, -ppc64, -s390x)")
	fs.IntVar(&f.opts.MemoryMB, "memory", d.MemoryMB, "guest memory in MiB")
	fs.IntVar(&f.opts.CPUs, "cpus", d.CPUs, "guest CPUs")
	fs.DurationVar(&f.opts.BootTimeout, "boot-timeout", d.BootTimeout, "longest deadline from QEMU start to the guest init's ready line (a kernel booted before gets five times its slowest boot, at least a minute)")
	fs.DurationVar(&f.opts.SSHTimeout, "ssh-timeout", d.SSHTimeout, "deadline for SSH and the agent upload")
	fs.DurationVar(&f.opts.CommandTimeout, "command-timeout", d.CommandTimeout, "deadline for each agent command other than cases (probe, upload)")
	fs.StringVar(&f.opts.Append, "append", "", "extra kernel command-line arguments")
	fs.StringSliceVar(&f.opts.NICs, "nic", nil, "offer only these NIC models ("+strings.Join(guest.NICModels(), ", ")+"; default: those the kernel has drivers for)")
	fs.BoolVar(&f.opts.NoModules, "no-modules", false, "boot without the kernel's modules (SSH goes over serial unless a NIC driver is built in)")
	fs.BoolVar(&f.opts.NoSnapshot, "no-snapshot", false, "boot every guest cold: save no guest, start none from a saved one")
	fs.IntVar(&f.opts.SnapshotMaxMB, "snapshot-max", guest.DefaultSnapshotMaxMB, "MiB of saved guests the cache keeps (least recently used go first; 'runmatrix kernels snapshots' lists them)")
	f.registerKernels(fs)
}

// registerCells adds what a command that runs cells in its guests takes
// beside register's: how many at once, their deadline, namespaces or not.
func (f *guestFlags) registerCells(fs *pflag.FlagSet) {
	f.register(fs)
	d := guest.DefaultOptions()
	fs.DurationVar(&f.opts.CaseTimeout, "case-timeout", d.CaseTimeout, "deadline for each case's result; a guest silent for longer is killed and retried")
	fs.IntVar(&f.opts.CaseJobs, "case-jobs", d.CaseJobs, "cells a guest runs at once (1: one at a time; at most one per 16 MiB of --memory); never where it could change an outcome")
	fs.BoolVar(&f.opts.Shared, "shared", false, "run cases without network namespaces, as on kernels built without them")
}

// registerKernels adds the flags that say where kernels come from and how
// they are checked: what a command that only resolves kernels takes.
func (f *guestFlags) registerKernels(fs *pflag.FlagSet) {
	fs.StringVar(&f.cacheDir, "cache-dir", "", "cache directory (default $XDG_CACHE_HOME/runmatrix)")
	env := kernels.DebianFromEnv()
	fs.StringVar(&f.debian.Mirror, "debian-mirror", env.Mirror, "Debian archive for debian: kernels (env RUNMATRIX_DEBIAN_MIRROR)")
	fs.StringVar(&f.debian.SecurityMirror, "debian-security-mirror", env.SecurityMirror, "Debian security archive (env RUNMATRIX_DEBIAN_SECURITY_MIRROR)")
	fs.StringVar(&f.debian.RetiredMirror, "debian-retired-mirror", env.RetiredMirror, "archive of retired Debian releases, squeeze to buster (env RUNMATRIX_DEBIAN_RETIRED_MIRROR)")
	fs.StringVar(&f.debian.Snapshot, "debian-snapshot", env.Snapshot, "Debian snapshot archive, asked for an exact ABI (debian:2.6.32-5) no other archive has; \"\" never asks it (env RUNMATRIX_DEBIAN_SNAPSHOT)")
	fs.DurationVar(&f.debian.IndexTTL, "index-ttl", kernels.DefaultIndexTTL, "reuse a fetched Debian suite index or mainline tag list for this long before reading it again")
	ml := kernels.MainlineFromEnv()
	fs.StringVar(&f.mainline.URL, "mainline-url", ml.URL, "Ubuntu mainline builds for mainline: kernels (env RUNMATRIX_MAINLINE_URL)")
	fs.StringVar(&f.mainline.KeyringFile, "mainline-keyring", ml.KeyringFile, "OpenPGP keyring with the key that signs mainline CHECKSUMS (default: the Kernel PPA key by its pinned fingerprint, from --keyserver) (env RUNMATRIX_MAINLINE_KEYRING)")
	fs.StringVar(&f.mainline.KeyServer, "keyserver", ml.KeyServer, "key server for keys runmatrix knows by fingerprint; only the key with that fingerprint is taken (env RUNMATRIX_KEYSERVER)")
	fs.BoolVar(&f.debian.Offline, "offline", false, "resolve kernels from the cache only; never touch the network")
	fs.StringToStringVar(&f.mirrors, "mirror", kernels.MirrorsFromEnv(), "NAME=URL: read a distribution's repositories from URL ("+strings.Join(mirrorNames(), ", ")+") (env RUNMATRIX_MIRRORS=NAME=URL,…)")
	fs.StringToStringVar(&f.keyrings, "keyring", nil, "NAME=FILE: verify with the OpenPGP keys in FILE instead of the embedded key file NAME (centos-6, rocky-8, fedora-39, ubuntu-archive, …), or accept the Alpine RSA key in FILE as NAME.rsa.pub; for a rebuild or a private mirror")
}

func mirrorNames() []string {
	var out []string
	for n := range kernels.DefaultMirrors() {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// keys reads the --keyring files: OpenPGP keyrings, and Alpine RSA keys
// (a NAME ending in .rsa.pub) into f.alpine.
func (f *guestFlags) keys() (map[string]openpgp.EntityList, error) {
	out := map[string]openpgp.EntityList{}
	f.alpine = map[string]*rsa.PublicKey{}
	for name, file := range f.keyrings {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usage("--keyring %s=%s: %v", name, file, err)
		}
		if strings.HasSuffix(name, ".rsa.pub") {
			blk, _ := pem.Decode(b)
			var k any
			if blk != nil {
				k, err = x509.ParsePKIXPublicKey(blk.Bytes)
			}
			rk, ok := k.(*rsa.PublicKey)
			if blk == nil || err != nil || !ok {
				return nil, usage("--keyring %s=%s: not a PEM RSA public key, as Alpine's keys are", name, file)
			}
			f.alpine[name] = rk
			continue
		}
		kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil {
			kr, err = openpgp.ReadKeyRing(bytes.NewReader(b))
		}
		if err != nil {
			return nil, usage("--keyring %s=%s: not an OpenPGP keyring (%v)", name, file, err)
		}
		out[name] = kr
	}
	return out, nil
}

// check refuses flag values that cannot work, before anything starts.
func (f *guestFlags) check() error {
	switch f.accel {
	case vm.AccelKVM, vm.AccelTCG, "auto":
	default:
		return usage("--accel %q: use kvm, tcg or auto", f.accel)
	}
	o := f.opts
	switch {
	case o.MemoryMB < 64:
		return usage("--memory %d: give at least 64 (MiB)", o.MemoryMB)
	case o.CPUs < 1:
		return usage("--cpus %d: give at least 1", o.CPUs)
	case o.CaseJobs < 1:
		return usage("--case-jobs %d: give at least 1", o.CaseJobs)
	case f.jobs < 0:
		return usage("--jobs %d: give 0 (automatic) or more", f.jobs)
	case o.SnapshotMaxMB < 0:
		return usage("--snapshot-max %d: give 0 (keep none) or more (MiB)", o.SnapshotMaxMB)
	case o.BootTimeout <= 0 || o.SSHTimeout <= 0 || o.CommandTimeout <= 0 || o.CaseTimeout <= 0:
		return usage("timeouts must be positive durations such as 90s or 3m")
	}
	for _, n := range o.NICs {
		if !slices.Contains(guest.NICModels(), n) {
			return usage("--nic %q: use one of %s", n, strings.Join(guest.NICModels(), ", "))
		}
	}
	for name := range f.mirrors {
		if _, ok := kernels.DefaultMirrors()[name]; !ok {
			return usage("--mirror %s=…: no mirror is named %s (use %s)", name, name, strings.Join(mirrorNames(), ", "))
		}
	}
	var err error
	if f.keyring, err = f.keys(); err != nil {
		return err
	}
	// The default binaries are checked per architecture, for the kernels
	// of the plan only (an arm64-only plan needs no qemu-system-x86).
	if _, err := exec.LookPath(o.QEMU); err != nil && o.QEMU != vm.DefaultQEMU {
		return usage("--qemu %s: not found; point --qemu at a QEMU binary, or leave it out for %s", o.QEMU, vm.DefaultQEMU)
	}
	return nil
}

func (f *guestFlags) cache() (store.Cache, error) {
	if f.cacheDir != "" {
		return store.Cache{Dir: f.cacheDir}, nil
	}
	d, err := store.DefaultCacheDir()
	return store.Cache{Dir: d}, err
}

// resolver resolves kernel references with the flags' cache and archives.
func (f *guestFlags) resolver(cache store.Cache, log func(string)) *kernels.Resolver {
	m := f.mainline
	return &kernels.Resolver{Cache: cache, Log: log, Offline: f.debian.Offline, IndexTTL: f.debian.IndexTTL, Debian: f.debian, Mainline: m, Mirrors: f.mirrors, Keys: f.keyring, AlpineKeys: f.alpine}
}

// expand replaces range references (mainline:v3.0..v4.0) with the kernels they name.
func (f *guestFlags) expand(ctx context.Context, refs []string) ([]string, error) {
	cache, err := f.cache()
	if err != nil {
		return nil, err
	}
	return expandRefs(ctx, f.resolver(cache, nil), refs)
}

// pool checks the flags and returns the guest pool they describe.
func (f *guestFlags) pool(log func(string)) (*guest.Pool, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	cache, err := f.cache()
	if err != nil {
		return nil, err
	}
	env := guest.NewEnv(cache, f.opts)
	env.Bins.Log = log
	env.Log = log
	return guest.NewPool(env, f.resolver(cache, log), f.accel, f.jobs, log), nil
}
