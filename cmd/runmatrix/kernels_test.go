package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/debarchive"
)

// TestListRowsShowWhatASeriesResolvesTo: debian:6.1 resolves to the newest
// 6.1 kernel, not to the metapackage an older suite lists as 6.1.
func TestListRowsShowWhatASeriesResolvesTo(t *testing.T) {
	k := func(abi, name, version, suite string) kernels.DebianKernel {
		return kernels.DebianKernel{ABI: abi, Package: debarchive.Package{Name: name, Version: version, Suite: suite}}
	}
	ks := []kernels.DebianKernel{
		k("6.1.0-57", "linux-image-6.1.0-57-amd64-unsigned", "6.1.192-3", "bookworm-security"),
		k("6.1.0-57", "linux-image-6.1.0-57-amd64", "6.1.192-3", "bookworm"),
		k("6.1", "linux-image-6.1-amd64", "6.1.180-1~deb11u1", "bullseye-security"),
		k("6.1.0-52", "linux-image-6.1.0-52-amd64", "6.1.180-1", "bookworm-security"),
	}
	rows := listRows(ks, cpu.X86_64)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"debian:6.1 → 6.1.0-57", "linux-image-6.1.0-57-amd64-unsigned", "6.1.192-3", "bookworm-security", ""}, rows[1])
	require.Equal(t, "debian:6.1.0-52", rows[2][0])
}

func TestRefTypo(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"debain:6.1", "did you mean debian:?"},
		{"mainlne:v3.6", "did you mean mainline:?"},
		{"debian:bookwrom", "did you mean bookworm?"},
		{"debian:stabel", "did you mean stable?"},
		{"debian:bookworm", ""},
		{"debian:6.1", ""},
		{"./bzImage", ""},
		{"zzz:qqq", ""}, // a file name with a colon, far from any scheme
	} {
		err := refTypo(tc.ref)
		if tc.want == "" {
			require.NoError(t, err, tc.ref)
			continue
		}
		require.ErrorContains(t, err, tc.want, tc.ref)
		var ue *usageError
		require.ErrorAs(t, err, &ue, "bad input: exit 2")
	}
}
