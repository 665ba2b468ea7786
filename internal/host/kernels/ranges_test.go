package kernels

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// TestDistroRanges expands release ranges of every distribution, keeping
// their modifiers, and refuses backwards or unknown ends.
func TestDistroRanges(t *testing.T) {
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	ctx := context.Background()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "centos:6.4..6.7", want: []string{"centos:6.4", "centos:6.5", "centos:6.6", "centos:6.7"}},
		{in: "centos:6.10..7.1/i686", want: []string{"centos:6.10/i686", "centos:7.0/i686", "centos:7.1/i686"}},
		{in: "ubuntu:bionic..20.04/hwe", want: []string{"ubuntu:18.04/hwe", "ubuntu:18.10/hwe", "ubuntu:19.04/hwe", "ubuntu:19.10/hwe", "ubuntu:20.04/hwe"}},
		{in: "fedora:37..39", want: []string{"fedora:37", "fedora:38", "fedora:39"}},
		{in: "rocky:8.4..8.6/arm64", want: []string{"rocky:8.4/arm64", "rocky:8.5/arm64", "rocky:8.6/arm64"}},
		{in: "alpine:3.16..3.18/virt", want: []string{"alpine:3.16/virt", "alpine:3.17/virt", "alpine:3.18/virt"}},
		{in: "centos:6.7..6.4", err: "A not after B"},
		{in: "ubuntu:16.04..99.04", err: "releases runmatrix knows"},
		{in: "rocky:8.4..9.1", err: "minor releases of one major version"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := r.Expand(ctx, tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := r.Resolve(ctx, "centos:6.4..6.7")
	require.ErrorContains(t, err, "a range names many kernels")
}
