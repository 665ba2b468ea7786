package vm

import (
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// flood is n bytes of 'A' with no newline, then tail.
type flood struct {
	n    int64
	tail *strings.Reader
}

func (f *flood) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return f.tail.Read(p)
	}
	m := min(int64(len(p)), f.n)
	for i := range p[:m] {
		p[i] = 'A'
	}
	f.n -= m
	return int(m), nil
}

// TestConsoleFloodBounded: a guest that prints 256 MiB without a newline
// leaves the runner holding one cut line (before: the whole line, 768 MiB
// of heap), and the lines after it are read as usual.
func TestConsoleFloodBounded(t *testing.T) {
	c := newConsole(100)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c.run(&flood{n: 256 << 20, tail: strings.NewReader("\nnext line\n")}, io.Discard)
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	lines, _ := c.since(0)
	require.Len(t, lines, 2)
	require.LessOrEqual(t, len(lines[0]), maxConsoleLine+len(cutMark))
	require.True(t, strings.HasSuffix(lines[0], "[line cut: longer than 4 KiB]"), lines[0][len(lines[0])-40:])
	require.Equal(t, "next line", lines[1])
}
