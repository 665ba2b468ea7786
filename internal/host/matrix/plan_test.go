package matrix

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/catalog"
	"github.com/runmatrix/runmatrix/internal/host/matrix/spec"
)

func TestDefaultPlan(t *testing.T) {
	s, err := spec.Default()
	require.NoError(t, err)
	p, err := NewPlan(s, catalog.New())
	require.NoError(t, err)
	require.Len(t, p.Cells, 5*20*2)
	require.Equal(t, []string{"debian:6.1", "debian:6.12", "debian:squeeze", "debian:wheezy", "debian:jessie"}, p.Kernels, "optional kernels last")
	// Optional kernels that cannot be had leave with their cells.
	p = p.WithoutKernels(map[string]bool{"debian:squeeze": true, "debian:wheezy": true, "debian:jessie": true})
	require.Len(t, p.Cells, 2*20*2)
	require.Equal(t, []string{"debian:6.1", "debian:6.12"}, p.Kernels)
}

func TestShardsPartitionThePlan(t *testing.T) {
	s, err := spec.Parse("m", []byte("kernels: [debian:6.1, debian:6.12, ./a]\nprofiles: [default, tfo=3]\nrepeat: 2\n"))
	require.NoError(t, err)
	p, err := NewPlan(s, catalog.New())
	require.NoError(t, err)
	for _, n := range []int{1, 2, 3, 7} {
		seen := map[Cell]int{}
		// A second plan from the same spec, as another CI job would build it.
		again, err := NewPlan(s, catalog.New())
		require.NoError(t, err)
		for i := 1; i <= n; i++ {
			a, b := p.Shard(i, n), again.Shard(i, n)
			require.Equal(t, a, b, "shard %d/%d is the same in every job", i, n)
			for _, c := range a.Cells {
				seen[c]++
			}
			require.LessOrEqual(t, len(a.Kernels), len(p.Kernels)/n+2, "a shard boots few kernels")
		}
		require.Len(t, seen, len(p.Cells))
		for k, v := range seen {
			require.Equal(t, 1, v, k.Key.String())
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		_, _, err := ParseShard(bad)
		require.Error(t, err, bad)
	}
}
