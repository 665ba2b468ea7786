// Command runmatrix boots many Linux kernels under QEMU, runs socket test
// cases in each and tabulates how every kernel behaved.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/suggest"
	"github.com/runmatrix/runmatrix/testcases"
)

// usageError is bad input from the user: one line, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usage(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(finish(os.Stderr, err))
}

// exitCode is the status err ends runmatrix with: 0, 2 for bad input
// (one line saying the fix, before anything booted), an exitError's own,
// else 1.
func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case badInput(err) || strings.HasPrefix(err.Error(), "unknown command "):
		return 2
	default:
		return 1
	}
}

// finish writes err's one line to w, unless its status says it all, and
// returns the status.
func finish(w io.Writer, err error) int {
	code := exitCode(err)
	var ee exitError
	if err != nil && !errors.As(err, &ee) {
		addHints(err)
		fmt.Fprintln(w, "runmatrix:", err)
	}
	return code
}

// addHints puts a "did you mean" into the errors of err's chain that can
// carry one: the case API names what a glob may have meant, and the CLI,
// which talks to the user, picks the nearest.
func addHints(err error) {
	var nm *testcases.NoMatchError
	if errors.As(err, &nm) && nm.Hint == "" {
		nm.Hint = suggest.Hint(nm.Glob, nm.Known)
	}
}

// buildVersion is set by make (-X main.buildVersion=COMMIT).
var buildVersion string

// version is the commit the binary was built from (make's stamp, else the
// go command's VCS stamp), and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown version)"
	}
	v := bi.Main.Version
	if buildVersion != "" {
		return "commit " + buildVersion + " " + bi.GoVersion
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		case "vcs.time":
			at = " " + s.Value
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %.12s%s%s)", rev, at, modified)
	}
	return v + " " + bi.GoVersion
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "runmatrix",
		Short: "Show, with evidence, how each Linux kernel behaves for a syscall sequence",
		Long: `runmatrix boots Linux kernels (2.6.32 to today) under QEMU with a static
guest agent in each, drives it over SSH, runs socket test cases there and gathers
return values, errno and signals into a comparison table.

Your own code on every kernel:
  runmatrix run --cases ./mycases --kernel K...   your Go cases (testcases.Register)
  runmatrix gotest --kernel K... ./...            go test packages, a row per test
  go test -exec 'runmatrix exec --kernel K' ./... the go tool's own flow (CGO_ENABLED=0)
  runmatrix run [--trace] --kernel K... -- ./prog ARGS   any program; --trace records
                                                  its socket calls (ptrace)

Kernel references:
  debian:6.1, debian:6.12      newest Debian kernel of that series in any suite
                               (read from Debian's archive over HTTP; no apt needed)
  debian:6.1.0-50              one kernel ABI; debian:2.6.32-5 comes from the
                               archive of retired releases (squeeze)
  debian:bookworm, debian:sid  the kernel of a release (with its security updates)
  debian:6.1@bookworm          look in that one suite only
  debian:6.1/i686              the 32-bit flavour (any of the forms above)
  debian:6.12/arm64, /armhf, /riscv64, /ppc64el, /s390x   other architectures
                               (their own QEMU, TCG; s390x needs QEMU 8.1+)
  debian:2.6.32-4              an ABI no mirror lists: from the snapshot archive
  mainline:v3.6, mainline:v4.19.10   Ubuntu's build of an upstream tag, checked
                               with the Kernel PPA key (pinned by fingerprint)
  mainline:v6.6/arm64          that tag's build for another architecture
  mainline:v3.0..v4.0          every release tag between (run, probe, bisect)
  ubuntu:18.04, ubuntu:22.04/hwe, ubuntu:4.15.0-20   Ubuntu's kernels, checked
                               with Ubuntu's archive keys
  alpine:3.18, alpine:3.18/virt   Alpine's linux-lts/-virt, signed APKINDEX
  centos:6.5, centos:7, centos:2.6.32-504.el6   CentOS kernels (vault), RPM
                               signatures checked with CentOS's keys
  rocky:8, rocky:8.6, alma:9, fedora:39   Rocky, AlmaLinux, Fedora; /arm64 …
  oci:ghcr.io/cilium/ci-kernels:6.6   a kernel in an OCI image (/boot/vmlinuz),
                               layers checked against their digests; …:6.6/arm64
  ./path/to/bzImage            a local boot image (bzImage, Image, Image.gz,
                               zImage, vmlinux); its arch is read from it
  ./Image.gz/arm64             the same, refused unless it is of that arch
  https://host/bzImage#sha256=HEX   downloaded once, verified, cached
                               (…#sha256=HEX&arch=arm64 checks the arch too)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("runmatrix {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.AddCommand(newRunCmd(), newBisectCmd(), newProbeCmd(), newCasesCmd(), newKernelsCmd(), newDiffCmd(), newMergeCmd(), newTableCmd(), newEvidenceCmd(), newGoTestCmd(), newExecCmd(), newCaseChildCmd())
	argsAreUsage(root)
	return root
}

// argsAreUsage makes a wrong number of arguments bad input (exit 2) on
// every command, with the usage line that says what it takes: cobra's own
// argument checks return plain errors, which exited 1 (for diff, "a cell
// changed").
func argsAreUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ue *usageError
			if err == nil || errors.As(err, &ue) {
				return err
			}
			return usage("%s: %v (usage: %s)", cmd.CommandPath(), err, cmd.UseLine())
		}
	}
	for _, sub := range c.Commands() {
		argsAreUsage(sub)
	}
}
