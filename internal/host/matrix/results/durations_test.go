package results

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

func TestDurations(t *testing.T) {
	cell := func(c string, ms float64) Record {
		return Record{Cell: Cell{Key: Key{Case: c, Profile: "default", Kernel: "k"}}, Outcome: outcome.Outcome{DurMS: ms}}
	}
	d := Durations{}
	d.Add([]Record{cell("slow", 3000), cell("quick", 20), cell("lost", 0)})
	require.Equal(t, 3*time.Second, d.Of(cell("slow", 0).Cell))
	require.Equal(t, time.Duration(0), d.Of(cell("lost", 0).Cell), "no duration, nothing remembered")
	d.Add([]Record{cell("slow", 100), cell("quick", 900)})
	require.Equal(t, 1500*time.Millisecond, d.Of(cell("slow", 0).Cell), "became quick: forgotten slowly")
	require.Equal(t, 900*time.Millisecond, d.Of(cell("quick", 0).Cell), "became slow: remembered at once")
	p := filepath.Join(t.TempDir(), "d.json")
	require.NoError(t, d.Write(p))
	require.Equal(t, d, ReadDurations(p))
	require.Empty(t, ReadDurations(filepath.Join(t.TempDir(), "none.json")))
}
