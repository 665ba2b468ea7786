package results

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
)

func TestLineageAndLabel(t *testing.T) {
	for _, tc := range []struct {
		name           string
		k              Kernel
		lineage, label string
	}{
		{"a Debian package", Kernel{Ref: "debian:6.1", Release: "6.1.0-57-amd64", Arch: cpu.X86_64,
			Origin: kernels.Origin{Package: "linux-image-6.1.0-57-amd64-unsigned", Suite: "bookworm-security"}}, "debian 6.1", "6.1.0 Debian bookworm"},
		{"a mainline build is upstream's line, though packaged as a .deb", Kernel{Ref: "mainline:v3.6", Release: "3.6.0-030600-generic", Arch: cpu.X86_64,
			Origin: kernels.Origin{Package: "linux-image-3.6.0-030600-generic"}}, "mainline", "3.6.0 mainline"},
		{"another mainline tag, same line", Kernel{Ref: "mainline:v4.19.10/i686", Release: "4.19.10-041910-generic", Arch: cpu.I386,
			Origin: kernels.Origin{Package: "linux-image-unsigned-4.19.10-041910-generic"}}, "mainline", "4.19.10 i386 mainline"},
		{"a file", Kernel{Ref: "/k/arch-3.4.9", Release: "3.4.9-1-fbcondecor", Arch: cpu.I386,
			Origin: kernels.Origin{File: "/k/arch-3.4.9"}}, "", "3.4.9 i386 fbcondecor file"},
		{"an Ubuntu file, known by its uname -v", Kernel{Ref: "/k/vmlinuz", Release: "2.6.32-42-server", Arch: cpu.X86_64,
			UnameVersion: "#96-Ubuntu SMP Wed Aug 15 19:52:20 UTC 2012", Origin: kernels.Origin{File: "/k/vmlinuz"}}, "", "2.6.32 Ubuntu file"},
		{"an Arch file", Kernel{Ref: "/k/vmlinuz-linux", Release: "3.6.2-1-ARCH", Arch: cpu.I386,
			Origin: kernels.Origin{File: "/k/vmlinuz-linux"}}, "", "3.6.2 i386 Arch file"},
		{"a CentOS file", Kernel{Ref: "/k/vmlinuz", Release: "2.6.32-642.el6.i686", Arch: cpu.I386,
			Origin: kernels.Origin{File: "/k/vmlinuz"}}, "", "2.6.32 i386 CentOS/RHEL file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.lineage, tc.k.Lineage())
			require.Equal(t, tc.label, tc.k.Label())
		})
	}
}
