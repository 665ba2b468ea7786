package guest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/remote"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/wire/bootproto"
)

// PortableSSHPort is the host port a portable guest's SSH is forwarded to.
const PortableSSHPort = 10022

// Portable is a guest that boots from a folder's own files, outside
// runmatrix: what an evidence bundle carries for each kernel.
type Portable struct {
	// Kernel, Initrd, Key and Config are file names in the folder; Config
	// is "" when neither the package nor the image has a .config.
	Kernel, Initrd, Key, Config string
	// InitrdSHA256 identifies the initramfs.
	InitrdSHA256 string
	// Command boots the guest when run in the folder.
	Command []string
	// SSH runs the agent in the booted guest, from the folder.
	SSH []string
}

// WritePortable writes into dir, under names starting with stem, a copy of
// k's image, an initramfs holding the same init, agent, modules and files
// as a run's, with SSH keys made for the bundle (never a run's: the client
// key is written beside it, for the person who boots it), and k's .config
// when the package or image has one.
func (env *Env) WritePortable(ctx context.Context, k *kernels.Kernel, dir, stem string) (*Portable, error) {
	bins, err := env.binaries(ctx, k.Image.Arch)
	if err != nil {
		return nil, err
	}
	extra, err := env.extraFiles(ctx, k)
	if err != nil {
		return nil, err
	}
	base, mods, err := env.base(k, bins, extra...)
	if err != nil {
		return nil, err
	}
	keys, err := remote.NewKeys()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 64)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	p := &Portable{Kernel: stem + "-vmlinuz", Initrd: stem + "-initramfs.cpio", Key: stem + "-ssh-key"}
	h := sha256.New()
	err = store.WriteAtomic(filepath.Join(dir, p.Initrd), 0o644, func(w io.Writer) error {
		return initramfs.Compose(io.MultiWriter(w, h), base, []initramfs.File{
			// The run line a run hands over on ttyS1, here in the initramfs:
			// nobody is there to hand it over (no clock: the guest keeps its own).
			{Path: bootproto.RunPath, Mode: 0o600, Data: bootproto.Run{HostKey: keys.HostSeed, AuthorizedKey: keys.ClientPub, Seed: seed}.Line()},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("initramfs for %s: %w", k.Ref.Raw, err)
	}
	p.InitrdSHA256 = hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(filepath.Join(dir, p.Key), keys.ClientPEM, 0o600); err != nil {
		return nil, err
	}
	if err := copyFile(k.Path, filepath.Join(dir, p.Kernel)); err != nil {
		return nil, fmt.Errorf("copy the image of %s: %w", k.Ref.Raw, err)
	}
	if k.Config != "" {
		p.Config = stem + "-config"
		if err := copyFile(k.Config, filepath.Join(dir, p.Config)); err != nil {
			return nil, fmt.Errorf("copy the .config of %s: %w", k.Ref.Raw, err)
		}
	} else if cfg, err := bootimage.ImageConfig(ctx, k.Path); err == nil && cfg != nil {
		p.Config = stem + "-config"
		if err := os.WriteFile(filepath.Join(dir, p.Config), cfg, 0o644); err != nil {
			return nil, err
		}
	}
	accel := vm.AccelTCG // a pasted line must not depend on the host's KVM
	p.Command = vm.PortableArgs(vm.Config{
		QEMU: env.Opts.QEMU, Arch: k.Image.Arch, Kernel: p.Kernel, Initrd: p.Initrd, Append: env.CommandLine(k.Image.Arch, accel), Accel: accel,
		MemoryMB: env.Opts.MemoryMB, CPUs: env.Opts.CPUs, NICs: chooseNICs(ctx, env.Cache, k, mods, env.Opts.NICs),
	}, PortableSSHPort)
	p.SSH = []string{"ssh", "-i", p.Key, "-p", fmt.Sprint(PortableSSHPort), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "root@127.0.0.1", AgentPath}
	return p, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return store.WriteAtomic(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
