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

	"github.com/runmatrix/runmatrix/guest"
	"github.com/runmatrix/runmatrix/kernels"
)

// probeResult is one kernel's line of `runmatrix probe`.
type probeResult struct {
	Ref          string   `json:"ref"`
	Release      string   `json:"release"`
	Machine      string   `json:"machine"`
	Transport    string   `json:"transport"`
	Driver       string   `json:"driver,omitempty"`
	Accel        string   `json:"accel"`
	ReadySeconds float64  `json:"ready_seconds"`
	ImageRelease string   `json:"image_release,omitempty"`
	ImageArch    string   `json:"image_arch,omitempty"`
	Error        string   `json:"error"`
	Console      []string `json:"console,omitempty"`
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
			return nil, &guest.UsageError{Msg: err.Error()}
		}
	}
	cache, err := gf.cache()
	if err != nil {
		return nil, err
	}
	env, err := guest.NewEnv(cache, gf.opts)
	if err != nil {
		return nil, err
	}
	res := gf.resolver(cache, func(s string) { fmt.Fprintln(log, s) })
	results := make([]probeResult, len(refs))
	ks := make([]*kernels.Kernel, len(refs))
	for i, r := range refs {
		results[i].Ref = r
		k, err := res.Resolve(ctx, r)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		ks[i] = k
		results[i].ImageRelease, results[i].ImageArch = k.Image.Release, k.Image.Arch
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	accel, why := "", ""
	for _, k := range ks {
		if k == nil {
			continue
		}
		if accel, why, err = guest.ChooseAccel(ctx, env, gf.accel, k); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "accelerator: %s (%s)\n", accel, why)
		break
	}
	sem := make(chan struct{}, gf.parallel())
	var wg sync.WaitGroup
	for i, k := range ks {
		if k == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = probeOne(ctx, env, k, accel, results[i])
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return results, ctx.Err()
	}
	return results, nil
}

func probeOne(ctx context.Context, env *guest.Env, k *kernels.Kernel, accel string, r probeResult) probeResult {
	r.Accel = accel
	g, err := guest.Boot(ctx, env, k, accel)
	if err != nil {
		r.Error = err.Error()
		var ge *guest.Error
		if errors.As(err, &ge) {
			r.Console = ge.Console
		}
		return r
	}
	defer g.Close()
	r.Release, r.Machine = g.Probe.Release, g.Probe.Machine
	r.Transport, r.Driver = g.Ready.Transport, g.Ready.Driver
	r.ReadySeconds = float64(g.ReadyAfter.Milliseconds()) / 1000
	return r
}

func printProbe(w io.Writer, results []probeResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRELEASE\tMACHINE\tTRANSPORT\tACCEL\tREADY\tERROR")
	for _, r := range results {
		transport := r.Transport
		if r.Driver != "" {
			transport += " (" + r.Driver + ")"
		}
		ready := ""
		if r.Error == "" {
			ready = fmt.Sprintf("%.1fs", r.ReadySeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref, dash(r.Release), dash(r.Machine), dash(transport), dash(r.Accel), dash(ready), r.Error)
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
