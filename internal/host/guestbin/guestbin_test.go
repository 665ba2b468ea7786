package guestbin

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// TestBuildFromSourceSaysSo: building guest binaries from source takes tens
// of seconds, so the first use says so in one line; the cached second does not.
func TestBuildFromSourceSaysSo(t *testing.T) {
	if _, ok, _ := (&Builder{}).fromEmbedded("amd64"); ok {
		t.Skip("this build embeds the guest binaries")
	}
	src := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(src, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	write("go.mod", "module example.com/tiny\n\ngo 1.21\n")
	write("cmd/guest-init/main.go", "package main\n\nfunc main() {}\n")
	write("cmd/guest-agent/main.go", "package main\n\nfunc main() {}\n")
	var lines []string
	b := &Builder{Cache: store.Cache{Dir: t.TempDir()}, SourceDir: src, Log: func(s string) { lines = append(lines, s) }}
	bins, err := b.Get(context.Background(), cpu.X86_64)
	require.NoError(t, err)
	require.FileExists(t, bins.Agent)
	require.Len(t, lines, 1)
	require.Contains(t, lines[0], "building the guest binaries for linux/amd64")
	_, err = b.Get(context.Background(), cpu.X86_64)
	require.NoError(t, err)
	require.Len(t, lines, 1, "cached: nothing to say")
}
