package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/wire/agentproto"
)

// DefaultSnapshotMaxMB bounds the saved guests kept in the cache (about
// 25 of 80 MB): the least recently used go first.
const DefaultSnapshotMaxMB = 2048

// snapshotDir is the cache folder of saved guests.
const snapshotDir = "snapshots"

// Snapshot describes a saved guest in the cache, for `kernels snapshots`.
type Snapshot struct {
	Key     string    `json:"key"`
	Path    string    `json:"path"`
	Ref     string    `json:"ref"`
	Release string    `json:"release"`
	QEMU    string    `json:"qemu"`
	Bytes   int64     `json:"bytes"`
	Created time.Time `json:"created"`
	Used    time.Time `json:"used"`
	// Probe is what the agent reported in the guest that was saved, and
	// ReadySeconds how long that guest took from QEMU start to ready.
	Probe        *agentproto.Probe `json:"probe,omitempty"`
	ReadySeconds float64           `json:"ready_seconds,omitempty"`
}

// snapshot is where the saved guest of one guest configuration lives; a
// zero snapshot (no path) means none is kept.
type snapshot struct {
	key, path string
	qemu      string // the --version line of the QEMU it is for
}

func (s snapshot) exists() bool {
	_, err := os.Stat(s.path)
	return err == nil
}

// touch marks the snapshot used, for least-recently-used pruning.
func (s snapshot) touch() {
	now := time.Now()
	_ = os.Chtimes(s.path, now, now)
}

func (s snapshot) remove() {
	os.Remove(s.path)
	os.Remove(s.path + ".json")
}

// meta returns what was recorded with the snapshot (zero if nothing).
func (s snapshot) meta() Snapshot {
	var meta Snapshot
	if b, err := os.ReadFile(s.path + ".json"); err == nil {
		_ = json.Unmarshal(b, &meta)
	}
	return meta
}

// written records what was saved beside it (with the agent's probe of the
// guest) and keeps the cache bounded.
func (s snapshot) written(env *Env, k *kernels.Kernel, size int64, probe agentproto.Probe, ready time.Duration) {
	meta := Snapshot{Key: s.key, Ref: k.Ref.Raw, Release: k.Image.Release, QEMU: s.qemu, Bytes: size, Created: time.Now(),
		Probe: &probe, ReadySeconds: ready.Seconds()}
	_ = store.WriteJSON(s.path+".json", meta)
	if _, err := PruneSnapshots(env.Cache, int64(env.Opts.SnapshotMaxMB)<<20); err != nil {
		env.logf("pruning saved guests: %v", err)
	}
}

// snapshotFor returns where the saved guest of cfg on k lives, keyed by
// everything that shapes it: the QEMU binary and its version, the command
// line (machine, devices, memory, CPUs, accelerator, kernel command line,
// and the initramfs, whose name is its content's digest: init, agent,
// modules, user code) and the image's digest. Zero when snapshots are off
// or the image's digest is unknown.
func (env *Env) snapshotFor(ctx context.Context, cfg vm.Config, k *kernels.Kernel) snapshot {
	if env.Opts.NoSnapshot || env.Opts.SnapshotMaxMB <= 0 || k.Origin.SHA256 == "" {
		return snapshot{}
	}
	arch, err := vm.ArchOf(k.Image.Arch)
	if err != nil || arch.NoSnapshot != "" {
		return snapshot{}
	}
	ver := env.qemuVersion.get(arch.Binary(cfg.QEMU))
	if ver == "" {
		return snapshot{}
	}
	h := sha256.New()
	fmt.Fprintf(h, "runmatrix snapshot 1\x00%s\x00%s\x00", ver, k.Origin.SHA256)
	for _, a := range vm.SnapshotArgs(cfg) {
		if a == cfg.Kernel {
			a = "KERNEL" // the image is named by its digest above
		}
		fmt.Fprintf(h, "%s\x00", a)
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	p, err := env.Cache.Path(snapshotDir, key+".qemu")
	if err != nil {
		return snapshot{}
	}
	return snapshot{key: key, path: p, qemu: ver}
}

// qemuVersions remembers each QEMU binary's --version line.
type qemuVersions struct {
	mu sync.Mutex
	m  map[string]string
}

// get returns `QEMU --version`'s first line, "" when it cannot be run.
func (o *qemuVersions) get(qemu string) string {
	if qemu == "" {
		qemu = vm.DefaultQEMU
	}
	if o == nil {
		o = &qemuVersions{} // an Env not made by NewEnv: asked each time
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if v, ok := o.m[qemu]; ok {
		return v
	}
	out, err := exec.Command(qemu, "--version").Output()
	v := ""
	if err == nil {
		v, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	if o.m == nil {
		o.m = map[string]string{}
	}
	o.m[qemu] = v
	return v
}

// Snapshots lists the saved guests in the cache, most recently used first.
func Snapshots(cache store.Cache) ([]Snapshot, error) {
	dir, err := cache.Path(snapshotDir, "x")
	if err != nil {
		return nil, err
	}
	dir = filepath.Dir(dir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []Snapshot
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".qemu")
		if !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		s := Snapshot{Key: key}
		if b, err := os.ReadFile(p + ".json"); err == nil {
			_ = json.Unmarshal(b, &s)
		}
		s.Path, s.Bytes, s.Used = p, fi.Size(), fi.ModTime()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Used.After(out[j].Used) })
	return out, nil
}

// PruneSnapshots removes the least recently used saved guests until the
// rest take at most maxBytes (0 removes them all), and stray temporary
// files of saves that never finished; it returns what it removed.
func PruneSnapshots(cache store.Cache, maxBytes int64) ([]Snapshot, error) {
	all, err := Snapshots(cache)
	if err != nil {
		return nil, err
	}
	var removed []Snapshot
	var total int64
	for _, s := range all {
		if total+s.Bytes <= maxBytes {
			total += s.Bytes
			continue
		}
		snapshot{key: s.Key, path: s.Path}.remove()
		removed = append(removed, s)
	}
	if len(all) > 0 {
		tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(all[0].Path), "*.tmp"))
		for _, t := range tmps {
			if fi, err := os.Stat(t); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.Remove(t)
			}
		}
	}
	return removed, nil
}
