package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/matrix/results"
)

// TestBisectGroups: one group per architecture over every kernel given, in
// version order and across lineages; a group per named lineage with several
// kernels besides; a kernel alone of its architecture is left out, never
// "bisected" alone; files are no lineage of their own.
func TestBisectGroups(t *testing.T) {
	deb := func(ref, ver string) results.Kernel {
		return results.Kernel{Ref: ref, Arch: cpu.X86_64, Origin: kernels.Origin{Package: "linux-image", PackageVersion: ver}}
	}
	file := func(ref, rel, arch string) results.Kernel {
		return results.Kernel{Ref: ref, Release: rel, Arch: arch, Origin: kernels.Origin{File: ref}}
	}
	refs := func(ks []results.Kernel) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Ref)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		given  []results.Kernel
		groups [][]string
		alone  []string
	}{
		{"files and a Debian kernel are one order", []results.Kernel{deb("debian:6.12", "6.12.57-1"), file("b", "3.16.4", "x86_64"), file("a", "2.6.32-42-server", "x86_64")},
			[][]string{{"a", "b", "debian:6.12"}}, nil},
		{"a lineage with two kernels is also bisected alone", []results.Kernel{deb("debian:6.12", "6.12.57-1"), deb("debian:6.12@x", "6.12.40-1"), file("a", "4.2.2", "x86_64")},
			[][]string{{"a", "debian:6.12@x", "debian:6.12"}, {"debian:6.12@x", "debian:6.12"}}, nil},
		{"architectures are never mixed", []results.Kernel{file("a", "2.6.32", "x86_64"), file("b", "3.4.9", "i386"), file("c", "3.6.2-1-ARCH", "i686"), deb("debian:6.12", "6.12.57-1")},
			[][]string{{"b", "c"}, {"a", "debian:6.12"}}, nil},
		{"one kernel of an arch is left out", []results.Kernel{file("a", "2.6.32", "x86_64"), file("b", "3.4.9", "i386"), deb("debian:6.12", "6.12.57-1")},
			[][]string{{"a", "debian:6.12"}}, []string{"b"}},
		{"nothing to bisect", []results.Kernel{file("a", "2.6.32", "x86_64"), file("b", "3.4.9", "i386")},
			nil, []string{"b", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups, alone := bisectGroups(tc.given)
			var got [][]string
			for _, g := range groups {
				got = append(got, refs(g.kernels))
			}
			require.Equal(t, tc.groups, got)
			require.Equal(t, tc.alone, refs(alone))
		})
	}
}
