package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runmatrix/runmatrix/internal/host/guest"
	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/suggest"
)

func newKernelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernels",
		Short: "List the kernels the catalog offers, fill the cache ahead of a run, list and prune saved guests",
	}
	cmd.AddCommand(newKernelsListCmd(), newKernelsFetchCmd(), newKernelsSnapshotsCmd())
	return cmd
}

func newKernelsSnapshotsCmd() *cobra.Command {
	var (
		gf    guestFlags
		prune bool
		keep  int
	)
	cmd := &cobra.Command{
		Use:   "snapshots [--prune [--keep MiB]]",
		Short: "List the saved guests later boots start from (most recently used first), or prune them",
		Long: `A guest is saved (QEMU migration to a file) the first time its kernel boots to
the point where nothing particular to a run has entered it; later guests of the
same kernel, QEMU, machine, memory, CPUs, accelerator and initramfs start from
it in well under a second instead of booting. The cache keeps at most
--snapshot-max MiB of them on every run, the least recently used going first.
--prune removes them down to --keep MiB (0, the default, removes them all).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cache, err := gf.cache()
			if err != nil {
				return err
			}
			if prune {
				if keep < 0 {
					return usage("--keep %d: give 0 or more (MiB)", keep)
				}
				gone, err := guest.PruneSnapshots(cache, int64(keep)<<20)
				if err != nil {
					return err
				}
				var n int64
				for _, s := range gone {
					n += s.Bytes
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d saved guests (%d MiB)\n", len(gone), n>>20)
				return nil
			}
			all, err := guest.Snapshots(cache)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KERNEL\tRELEASE\tMIB\tUSED\tQEMU\tKEY")
			var total int64
			for _, s := range all {
				total += s.Bytes
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", dashIfEmpty(s.Ref), dashIfEmpty(s.Release), s.Bytes>>20, s.Used.Format("2006-01-02 15:04"), dashIfEmpty(s.QEMU), s.Key)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d saved guests, %d MiB\n", len(all), total>>20)
			return nil
		},
	}
	cmd.Flags().StringVar(&gf.cacheDir, "cache-dir", "", "cache directory (default $XDG_CACHE_HOME/runmatrix)")
	cmd.Flags().BoolVar(&prune, "prune", false, "remove saved guests, least recently used first")
	cmd.Flags().IntVar(&keep, "keep", 0, "with --prune: MiB of saved guests to keep")
	return cmd
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newKernelsListCmd() *cobra.Command {
	var gf guestFlags
	cmd := &cobra.Command{
		Use:   "list [PATTERN]",
		Short: "List the kernels a provider offers, newest first (PATTERN: debian:, debian:6.1, debian:bookworm/i686, mainline:, mainline:v4.19, mainline:v3.0..v4.0, or a release range: centos:6.4..6.7, ubuntu:16.04..22.04)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pattern := "debian:"
			if len(args) == 1 {
				pattern = args[0]
			}
			cache, err := gf.cache()
			if err != nil {
				return err
			}
			if strings.HasPrefix(pattern, "mainline:") {
				return listMainline(cmd, gf.resolver(cache, nil), pattern)
			}
			if scheme, _, ok := strings.Cut(pattern, ":"); ok && scheme != "debian" && slices.Contains(kernels.Schemes(), scheme+":") {
				return listRange(cmd, gf.resolver(cache, nil), pattern)
			}
			ref, err := listRef(pattern)
			if err != nil {
				return err
			}
			d := gf.debian
			ks, err := d.Kernels(cmd.Context(), cache, ref, func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) })
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tPACKAGE\tVERSION\tSUITE\tMIRROR")
			for _, row := range listRows(ks, ref.Arch) {
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			return tw.Flush()
		},
	}
	gf.registerKernels(cmd.Flags())
	return cmd
}

// refTypo refuses a reference that looks mistyped, with "did you mean":
// a scheme near a known one where no such file exists ("debain:6.1"
// would otherwise fail later as a missing file), or a Debian release name
// near a known one ("debian:bookwrom", which would otherwise be looked
// for in every archive).
func refTypo(ref string) error {
	if scheme, _, ok := strings.Cut(ref, ":"); ok && !strings.Contains(scheme, "/") && !slices.Contains(kernels.Schemes(), scheme+":") {
		if hint := suggest.Hint(scheme+":", kernels.Schemes()); hint != "" {
			if _, err := os.Stat(ref); err != nil {
				return usage("kernel %q: unknown kind of reference%s", ref, hint)
			}
		}
	}
	r, err := kernels.ParseRef(ref)
	if err != nil || r.Kind != kernels.KindDebian || r.Codename == "" || slices.Contains(kernels.DebianReleases(), r.Codename) {
		return nil
	}
	if hint := suggest.Hint(r.Codename, kernels.DebianReleases()); hint != "" {
		return usage("kernel %q: %q is no Debian release runmatrix knows%s", ref, r.Codename, hint)
	}
	return nil
}

// listRows are the rows of `kernels list debian:`: the newest package of
// each ABI (the one a reference gets), and for a series' metapackage the
// kernel debian:SERIES resolves to, the newest of the series.
func listRows(ks []kernels.DebianKernel, arch string) [][]string {
	var rows [][]string
	seen := map[string]bool{}
	for _, k := range ks {
		if seen[k.ABI] {
			continue
		}
		seen[k.ABI] = true
		r := "debian:" + k.ABI + cpu.Suffix(arch)
		if k.ABI == k.Series() {
			for _, real := range ks {
				if real.ABI != real.Series() && real.Series() == k.Series() {
					k = real
					r += " → " + real.ABI
					break
				}
			}
		}
		rows = append(rows, []string{r, k.Name, k.Version, k.Suite, k.Mirror})
	}
	return rows
}

// listRef turns a list pattern into a reference; "debian:" alone (or with
// only an arch) lists every current kernel.
func listRef(pattern string) (kernels.Ref, error) {
	rest, ok := strings.CutPrefix(pattern, "debian:")
	if !ok {
		return kernels.Ref{}, usage("kernels list %q: list debian: or mainline: patterns (e.g. debian:, debian:6.1, debian:bookworm/i686, mainline:, mainline:v4.19)", pattern)
	}
	if rest == "" || strings.HasPrefix(rest, "/") {
		arch, err := cpu.Parse(strings.TrimPrefix(rest, "/"))
		if err != nil {
			return kernels.Ref{}, usage("kernel %q: %v", pattern, err)
		}
		return kernels.Ref{Raw: pattern, Kind: kernels.KindDebian, Arch: arch}, nil
	}
	ref, err := kernels.ParseRef(pattern)
	if err != nil {
		return ref, usage("%v", err)
	}
	return ref, nil
}

// tagPrefix matches the start of mainline tags: v6, v4.19, v5.0-rc3.
var tagPrefix = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*(-(rc|ckt)[0-9]+)?$`)

// listMainline prints the mainline tags a pattern names: all of them
// (mainline:), those of a series (mainline:v4.19 lists v4.19 and
// v4.19.*), or a range (mainline:v3.0..v4.0).
func listMainline(cmd *cobra.Command, r *kernels.Resolver, pattern string) error {
	what, arch, _ := strings.Cut(strings.TrimPrefix(pattern, "mainline:"), "/")
	suffix := ""
	if arch != "" {
		suffix = "/" + arch
	}
	var refs []string
	if strings.Contains(what, "..") {
		var err error
		if refs, err = r.Expand(cmd.Context(), pattern); err != nil {
			return err
		}
	} else {
		if what != "" && !tagPrefix.MatchString(what) {
			return usage("kernels list %s: want mainline:, mainline:vN[.N…] (every tag under it) or mainline:vA..vB", pattern)
		}
		tags, err := r.MainlineTags(cmd.Context())
		if err != nil {
			return err
		}
		prefix := "v" + strings.TrimPrefix(what, "v")
		for _, t := range tags {
			if what == "" || t == prefix || strings.HasPrefix(t, prefix+".") || strings.HasPrefix(t, prefix+"-") {
				refs = append(refs, "mainline:"+t+suffix)
			}
		}
		if len(refs) == 0 {
			return usage("kernels list %s: %s has no such tag; try `runmatrix kernels list mainline:`", pattern, r.Mainline.URL)
		}
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tTAG\tORIGIN")
	for _, ref := range refs {
		tag, _, _ := strings.Cut(strings.TrimPrefix(ref, "mainline:"), "/")
		fmt.Fprintf(tw, "%s\t%s\t%s/%s/\n", ref, tag, strings.TrimRight(r.Mainline.URL, "/"), tag)
	}
	return tw.Flush()
}

func newKernelsFetchCmd() *cobra.Command {
	var gf guestFlags
	cmd := &cobra.Command{
		Use:   "fetch REF...",
		Short: "Resolve kernels into the cache (for --offline or CI runs) and print each path and sha256",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cache, err := gf.cache()
			if err != nil {
				return err
			}
			if gf.keyring, err = gf.keys(); err != nil {
				return err
			}
			r := gf.resolver(cache, func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) })
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tRELEASE\tARCH\tSHA256\tPATH")
			refs, err := expandRefs(cmd.Context(), r, args)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				k, err := r.Resolve(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ref, k.Image.Release, k.Image.Arch, k.Origin.SHA256, k.Path)
			}
			return tw.Flush()
		},
	}
	gf.registerKernels(cmd.Flags())
	return cmd
}

// expandRefs replaces each range reference with the references it names.
func expandRefs(ctx context.Context, r *kernels.Resolver, refs []string) ([]string, error) {
	var out []string
	for _, ref := range refs {
		if err := refTypo(ref); err != nil {
			return nil, err
		}
		got, err := r.Expand(ctx, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// listRange prints the references a distribution's release range names
// (centos:6.4..6.7); each resolves to its release's newest kernel.
func listRange(cmd *cobra.Command, r *kernels.Resolver, pattern string) error {
	if !strings.Contains(pattern, "..") {
		scheme, release, _ := strings.Cut(pattern, ":")
		example := map[string]string{"ubuntu": "16.04..22.04", "centos": "6.4..6.7", "rocky": "8.6..9.2", "alma": "8.6..9.2", "fedora": "38..40", "alpine": "3.16..3.20"}[scheme]
		if example == "" {
			example = "FROM..TO"
		}
		if release == "" {
			release = "RELEASE"
		}
		return usage("kernels list %s: give a range of releases, e.g. %s:%s, or resolve one release with `runmatrix kernels fetch %s:%s`", pattern, scheme, example, scheme, release)
	}
	refs, err := r.Expand(cmd.Context(), pattern)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	return nil
}
