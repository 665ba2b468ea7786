package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// KVMProbeTimeout bounds the boot that proves KVM works; a working KVM boots in a few seconds.
const KVMProbeTimeout = 30 * time.Second

type accelVerdict struct {
	Accel string `json:"accel"`
	Why   string `json:"why"`
}

// accelPath is where the verdict on KVM is kept until the host reboots or
// QEMU changes.
func accelPath(env *Env) (string, error) {
	return env.Cache.Path("accel", accelCacheKey(env.qemuVersion.get(env.Opts.QEMU))+".json")
}

// knownAccel returns the accelerator when no boot is needed to know it:
// forced by the user, no usable /dev/kvm, or a verdict cached earlier.
func knownAccel(env *Env, forced string) (accel, why string, ok bool, err error) {
	switch forced {
	case vm.AccelKVM, vm.AccelTCG:
		return forced, "forced by --accel", true, nil
	case "", "auto":
	default:
		return "", "", false, fmt.Errorf("accelerator %q: want kvm, tcg or auto", forced)
	}
	if err := vm.KVMDevice(); err != nil {
		return vm.AccelTCG, err.Error(), true, nil
	}
	p, err := accelPath(env)
	if err != nil {
		return "", "", false, err
	}
	var v accelVerdict
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &v) == nil && v.Accel != "" {
		return v.Accel, v.Why + " (found by an earlier run; kept until the host reboots or QEMU changes)", true, nil
	}
	return "", "", false, nil
}

// proveKVM boots k to its agent under KVM within KVMProbeTimeout. On hosts
// with broken nested virtualisation a KVM guest hangs after the BIOS, so
// only a real kernel reaching its agent proves KVM works.
func proveKVM(ctx context.Context, env *Env, k *kernels.Kernel) error {
	probe := *env
	probe.Opts.BootTimeout = KVMProbeTimeout
	probe.Opts.SSHTimeout = KVMProbeTimeout
	probe.Opts.NoSnapshot = true // a proof, not a guest to start others from
	g, err := Boot(ctx, &probe, k, vm.AccelKVM)
	if err != nil {
		return err
	}
	return g.Close()
}

func saveVerdict(env *Env, v accelVerdict) {
	if p, err := accelPath(env); err == nil {
		_ = store.WriteJSON(p, v)
	}
}

// accelCacheKey identifies this host boot and QEMU build (its version
// line), for which a verdict on KVM holds.
func accelCacheKey(qemuVersion string) string {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	h := sha256.Sum256(append(boot, qemuVersion...))
	return hex.EncodeToString(h[:12])
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
