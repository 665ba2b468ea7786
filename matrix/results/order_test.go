package results

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/kernels"
)

func TestLineageAndLabel(t *testing.T) {
	for _, tc := range []struct {
		name           string
		k              Kernel
		lineage, label string
	}{
		{"a Debian package", Kernel{Ref: "debian:6.1", Release: "6.1.0-57-amd64", Arch: kernels.ArchX86_64,
			Origin: kernels.Origin{Package: "linux-image-6.1.0-57-amd64-unsigned"}}, "debian 6.1", "6.1.0 (debian)"},
		{"a mainline build is upstream's line, though packaged as a .deb", Kernel{Ref: "mainline:v3.6", Release: "3.6.0-030600-generic", Arch: kernels.ArchX86_64,
			Origin: kernels.Origin{Package: "linux-image-3.6.0-030600-generic"}}, "mainline", "3.6.0 (mainline)"},
		{"another mainline tag, same line", Kernel{Ref: "mainline:v4.19.10/i686", Release: "4.19.10-041910-generic", Arch: kernels.ArchI386,
			Origin: kernels.Origin{Package: "linux-image-unsigned-4.19.10-041910-generic"}}, "mainline", "4.19.10 i386 (mainline)"},
		{"a file", Kernel{Ref: "/k/arch-3.4.9", Release: "3.4.9-1-fbcondecor", Arch: kernels.ArchI386,
			Origin: kernels.Origin{File: "/k/arch-3.4.9"}}, "", "3.4.9 i386 (file fbcondecor)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.lineage, tc.k.Lineage())
			require.Equal(t, tc.label, tc.k.Label())
		})
	}
}
