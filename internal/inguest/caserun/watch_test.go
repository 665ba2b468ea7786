package caserun

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWatchReadsProc reads /proc/meminfo and /proc/loadavg as the
// program watcher does: MemAvailable where the kernel has it, else
// MemFree+Buffers+Cached (before 3.14), and the total of tasks.
func TestWatchReadsProc(t *testing.T) {
	dir := t.TempDir()
	open := func(name, text string) *os.File {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		f, err := os.Open(p)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	buf := make([]byte, 8192)
	for _, tc := range []struct {
		name, text   string
		total, avail int64
	}{
		{"3.14 and later", "MemTotal:  500000 kB\nMemFree:  1000 kB\nMemAvailable:  300000 kB\nBuffers: 10 kB\nCached:  200000 kB\n", 500000, 300000},
		{"before 3.14", "MemTotal:  500000 kB\nMemFree:  1000 kB\nBuffers: 10 kB\nCached:  200000 kB\nSwapCached: 5 kB\n", 500000, 201010},
		{"unreadable", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total, avail := memory(open(tc.name, tc.text), buf)
			require.Equal(t, tc.total, total)
			require.Equal(t, tc.avail, avail)
		})
	}
	la := open("loadavg", "0.10 0.20 0.30 3/118 4242\n")
	require.Equal(t, 118, tasks(la, buf))
	require.NoError(t, os.WriteFile(la.Name(), []byte("0.10 0.20 0.30 1/97 4243\n"), 0o644))
	require.Equal(t, 97, tasks(la, buf), "read afresh each time from the open file")
	require.Equal(t, 0, tasks(nil, buf))
}
