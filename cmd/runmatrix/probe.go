package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/matrix"
	"github.com/runmatrix/runmatrix/internal/host/vm"
)

// probeResult is one kernel's line of `runmatrix probe`.
type probeResult struct {
	Ref          string  `json:"ref"`
	Release      string  `json:"release"`
	Machine      string  `json:"machine"`
	Transport    string  `json:"transport"`
	Driver       string  `json:"driver,omitempty"`
	Accel        string  `json:"accel"`
	ReadySeconds float64 `json:"ready_seconds"`
	// Restored is set when the guest started from a saved guest;
	// SavedSeconds and SnapshotBytes when this boot saved one.
	Restored      bool    `json:"restored"`
	SavedSeconds  float64 `json:"saved_seconds,omitempty"`
	SnapshotBytes int64   `json:"snapshot_bytes,omitempty"`
	// HostKey is the fingerprint of the guest's own SSH host key.
	HostKey      string   `json:"host_key,omitempty"`
	ImageRelease string   `json:"image_release,omitempty"`
	ImageArch    string   `json:"image_arch,omitempty"`
	Error        string   `json:"error"`
	Console      []string `json:"console,omitempty"`
	// err is why the kernel could not be resolved.
	err error
}

func newProbeCmd() *cobra.Command {
	var gf guestFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "probe KERNEL...",
		Short: "Boot each kernel and report the release, machine and readiness time its agent reports",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			results, err := probe(cmd.Context(), &gf, args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				printProbe(cmd.OutOrStdout(), results)
			}
			for _, r := range results {
				if r.Error != "" {
					return exitError{1}
				}
			}
			return nil
		},
	}
	gf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func probe(ctx context.Context, gf *guestFlags, refs []string, log io.Writer) ([]probeResult, error) {
	for _, r := range refs {
		if _, err := kernels.ParseRef(r); err != nil {
			return nil, usage("%v", err)
		}
	}
	refs, err := gf.expand(ctx, refs)
	if err != nil {
		return nil, err
	}
	pool, err := gf.pool(func(s string) { fmt.Fprintln(log, s) })
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	// Every reference is resolved and checked before anything boots, so a
	// wrong one is refused (exit 2) without starting a VM; one that cannot
	// be had for now (a download that broke off) is that kernel's row.
	kinfo, errs := matrix.PrepareEach(ctx, pool, refs)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	results := make([]probeResult, len(refs))
	for i, ref := range refs {
		results[i].Ref, results[i].ImageRelease = ref, kinfo[i].ImageRelease
		if errs[i] != nil {
			results[i].Error, results[i].err = errs[i].Error(), errs[i]
		}
	}
	var bad []error
	for _, r := range results {
		var ie *kernels.InputError
		if errors.As(r.err, &ie) {
			bad = append(bad, r.err)
		}
	}
	if len(bad) > 0 {
		return nil, &matrix.KernelsError{Errs: bad}
	}
	var wg sync.WaitGroup
	for i := range results {
		if results[i].err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = probeOne(ctx, pool, results[i])
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return results, ctx.Err()
	}
	return results, nil
}

// probeOne boots one prepared kernel; boots start as soon as the pool has
// a slot.
func probeOne(ctx context.Context, pool *guest.Pool, r probeResult) probeResult {
	g, err := pool.BootGuest(ctx, r.Ref)
	if err != nil {
		r.Error = err.Error()
		var be *vm.BootError
		if errors.As(err, &be) {
			r.Console = be.Console
		}
		return r
	}
	defer g.Close()
	r.Accel = g.Accel
	r.ImageArch = g.Booted.Image.Arch
	r.Release, r.Machine = g.Probe.Release, g.Probe.Machine
	r.Transport, r.Driver = g.Ready.Transport, g.Ready.Driver
	r.ReadySeconds = float64(g.ReadyAfter.Milliseconds()) / 1000
	r.Restored, r.SavedSeconds, r.SnapshotBytes = g.Restored, g.Saved.Seconds(), g.SavedBytes
	r.HostKey = g.HostKeyFingerprint()
	return r
}

func printProbe(w io.Writer, results []probeResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRELEASE\tMACHINE\tTRANSPORT\tACCEL\tREADY\tFROM\tERROR")
	for _, r := range results {
		transport := r.Transport
		if r.Driver != "" {
			transport += " (" + r.Driver + ")"
		}
		ready, from := "", ""
		if r.Error == "" {
			ready = fmt.Sprintf("%.2fs", r.ReadySeconds)
			switch {
			case r.Restored:
				from = "saved guest"
			case r.SnapshotBytes > 0:
				from = fmt.Sprintf("boot (saved, %.2fs, %d MiB)", r.SavedSeconds, r.SnapshotBytes>>20)
			default:
				from = "boot"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref, dash(r.Release), dash(r.Machine), dash(transport), dash(r.Accel), dash(ready), dash(from), r.Error)
	}
	tw.Flush()
	for _, r := range results {
		if len(r.Console) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: last console lines:\n", r.Ref)
		for _, l := range r.Console[max(0, len(r.Console)-10):] {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
