package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/initramfs"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/remote"
	"github.com/runmatrix/runmatrix/internal/host/usergo"
	"github.com/runmatrix/runmatrix/internal/host/userprog"
	"github.com/runmatrix/runmatrix/internal/host/vm"
	"github.com/runmatrix/runmatrix/internal/inguest/caserun"
)

// Where exec puts the program and its directory in the guest.
const (
	execBin = "/runmatrix/exec/bin"
	execDir = "/runmatrix/exec/src"
	// execShareTag is the 9p tag of a directory shared in place of shipped.
	execShareTag = "rmexec"
)

// shareModules are the modules a guest mounts a 9p share with (their
// dependencies, 9pnet and netfs, come with them).
var shareModules = []string{"9pnet_virtio", "9p"}

func newExecCmd() *cobra.Command {
	var (
		gf      guestFlags
		refs    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exec --kernel K [--kernel K]... PROGRAM [ARGS...]",
		Short: "Run one static program in a guest of each kernel, as go test -exec does",
		Long: `Boot each kernel, ship PROGRAM (a static binary for the guest's
architecture) with the current directory's files, and run it there in that
directory, in its own network namespace with lo up; its output goes to stdout
and its exit status is runmatrix's (the first non-zero one over the kernels).
This is the go tool's own flow:

    CGO_ENABLED=0 go test -exec 'runmatrix exec --kernel debian:6.12' ./...

(add GOTOOLCHAIN=go1.23.12 for kernels before 3.2). For a table over many
kernels, one row per test, use runmatrix gotest.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(refs) == 0 {
				return usage("exec needs --kernel K (repeatable)")
			}
			if err := gf.check(); err != nil {
				return err
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			return execPrograms(cmd.Context(), &gf, refs, args[0], args[1:], wd, timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after PROGRAM are the program's
	gf.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&refs, "kernel", nil, "kernel to run the program on (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "kill the program after this long")
	return cmd
}

// staticELF checks that path is a static executable and returns its GOARCH.
func staticELF(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", usage("%s is not an ELF executable: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", usage("%s is dynamically linked: build it static (for go test: CGO_ENABLED=0)", path)
		}
	}
	if arch, ok := userprog.GOARCH(f.Machine); ok {
		return arch, nil
	}
	return "", usage("%s is a %v binary: runmatrix runs x86_64 and i386 guests", path, f.Machine)
}

func execPrograms(ctx context.Context, gf *guestFlags, refs []string, prog string, args []string, dir string, timeout time.Duration, stdout, stderr io.Writer) error {
	goarch, err := staticELF(prog)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(prog)
	if err != nil {
		return err
	}
	src, err := usergo.DirFiles(dir, execDir)
	share := errors.Is(err, usergo.ErrTooBig)
	if err != nil && !share {
		return usage("%s: %v", dir, err)
	}
	pool, err := gf.pool(func(s string) { fmt.Fprintln(stderr, s) })
	if err != nil {
		return err
	}
	defer pool.Close()
	goVersion := ""
	if bi, err := buildinfo.ReadFile(prog); err == nil {
		goVersion = bi.GoVersion
	}
	for _, ref := range refs {
		k, err := pool.Kernel(ctx, ref)
		if err != nil {
			return err
		}
		if a, _ := cpu.GOARCH(k.Image.Arch); a != goarch {
			hint := ""
			if goVersion != "" {
				hint = fmt.Sprintf(": build it for them, e.g. GOARCH=%s CGO_ENABLED=0 go test -exec '…'", a)
			}
			return usage("%s is a %s binary and kernel %s runs %s programs%s", prog, goarch, ref, k.Image.Arch, hint)
		}
		if err := goFitsKernel(prog, goVersion, ref, k.Image.Release); err != nil {
			return err
		}
		if share && k.ModulesDir != "" {
			for _, m := range shareModules {
				if !initramfs.HasModule(k.ModulesDir, m) {
					return usage("%s holds more than an initramfs carries, and kernel %s cannot mount it over 9p (no %s module): run from a smaller folder", dir, ref, m)
				}
			}
		}
	}
	if share {
		// Too big for the initramfs: the folder is shared read-only over
		// virtio 9p and mounted where the program runs.
		fmt.Fprintf(stderr, "exec: %s is too big to ship into the guest; it is shared read-only over 9p\n", dir)
		env := pool.Env()
		env.Shares = []vm.Share{{Path: dir, Tag: execShareTag}}
		env.Modules = append(env.Modules, shareModules...)
		env.Opts.NoSnapshot = true // a guest with a host folder is no guest to start others from
		src = nil
	}
	pool.Env().Files = func(context.Context, string) ([]initramfs.File, error) {
		return append([]initramfs.File{{Path: execBin, Mode: 0o755, Data: data}}, src...), nil
	}
	er := caserun.ExecRequest{Bin: execBin, Dir: execDir, Args: args, TimeoutS: int(timeout.Seconds())}
	if share {
		er.Share = execShareTag
	}
	req, err := json.Marshal(er)
	if err != nil {
		return err
	}
	status := 0
	for _, ref := range refs {
		g, err := pool.BootGuest(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		if len(refs) > 1 {
			fmt.Fprintf(stderr, "=== runmatrix exec on %s (%s %s)\n", ref, g.Probe.Release, g.Probe.Machine)
		}
		err = g.Client.Stream(ctx, guest.AgentPath+" exec", bytes.NewReader(req), stdout)
		g.Close()
		var ee *remote.ExitError
		switch {
		case errors.As(err, &ee):
			if status == 0 {
				status = ee.Status
			}
		case err != nil:
			return fmt.Errorf("%s: %w", ref, err)
		}
	}
	if status != 0 {
		return exitError{status}
	}
	return nil
}

// goFitsKernel refuses a Go binary built by a Go that needs a newer
// kernel than release (Go 1.24 on needs Linux 3.2): it would fail in the
// guest for a reason that is not the kernel's behaviour.
func goFitsKernel(prog, goVersion, ref, release string) error {
	if goVersion == "" {
		return nil // not a Go binary
	}
	if old, err := usergo.NeedsOldGo(release); err != nil || !old || !usergo.NeedsNewKernel(goVersion) {
		return nil
	}
	return usage("%s was built by %s, which needs Linux 3.2, and kernel %s is %s: build it with GOTOOLCHAIN=%s (the last Go for older kernels)", prog, goVersion, ref, release, usergo.OldToolchain)
}
