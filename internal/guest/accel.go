package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/runmatrix/runmatrix/internal/vm"
	"github.com/runmatrix/runmatrix/kernels"
)

// KVMProbeTimeout bounds the boot that proves KVM works; a working KVM boots in a few seconds.
const KVMProbeTimeout = 30 * time.Second

type accelVerdict struct {
	Accel string `json:"accel"`
	Why   string `json:"why"`
}

// ChooseAccel returns "kvm" or "tcg" and why. forced wins; otherwise KVM is
// used only if k really boots to its agent under KVM within KVMProbeTimeout.
// The verdict is cached until the host reboots or QEMU changes.
func ChooseAccel(ctx context.Context, env *Env, forced string, k *kernels.Kernel) (accel, why string, err error) {
	switch forced {
	case vm.AccelKVM, vm.AccelTCG:
		return forced, "forced by --accel", nil
	case "", "auto":
	default:
		return "", "", fmt.Errorf("accelerator %q: want kvm, tcg or auto", forced)
	}
	if err := vm.KVMDevice(); err != nil {
		return vm.AccelTCG, err.Error(), nil
	}
	key := accelCacheKey(env.Opts.QEMU)
	p, err := env.Cache.Path("accel", key+".json")
	if err != nil {
		return "", "", err
	}
	var v accelVerdict
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &v) == nil && v.Accel != "" {
		return v.Accel, v.Why + " (cached for this host boot)", nil
	}
	probe := *env
	probe.Opts.BootTimeout = KVMProbeTimeout
	probe.Opts.SSHTimeout = KVMProbeTimeout
	g, err := Boot(ctx, &probe, k, vm.AccelKVM)
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	if err == nil {
		g.Close()
		v = accelVerdict{vm.AccelKVM, "KVM probe boot reached the agent"}
	} else {
		v = accelVerdict{vm.AccelTCG, "KVM probe boot failed: " + firstLine(err.Error())}
		// Blame KVM only if the same kernel comes up without it; a kernel
		// that fails either way says nothing about KVM, so nothing is cached.
		g, terr := Boot(ctx, env, k, vm.AccelTCG)
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		if terr != nil {
			return vm.AccelTCG, v.Why + "; it fails under TCG too, so KVM is not to blame (not cached)", nil
		}
		g.Close()
	}
	b, _ := json.Marshal(v)
	os.WriteFile(p, b, 0o644)
	return v.Accel, v.Why, nil
}

// accelCacheKey identifies this host boot and QEMU build, for which a
// verdict on KVM holds.
func accelCacheKey(qemu string) string {
	if qemu == "" {
		qemu = vm.DefaultQEMU
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ver, _ := exec.Command(qemu, "--version").Output()
	h := sha256.Sum256(append(boot, ver...))
	return hex.EncodeToString(h[:12])
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
