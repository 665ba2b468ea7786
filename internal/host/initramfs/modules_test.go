package initramfs

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

func TestModuleName(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		ok         bool
	}{
		{"virtio_net.ko", "virtio_net", true},
		{"virtio-net.ko.xz", "virtio_net", true},
		{"e1000.ko.zst", "e1000", true},
		{"modules.dep", "", false},
	} {
		got, ok := moduleName(tc.file)
		require.Equal(t, tc.ok, ok, tc.file)
		require.Equal(t, tc.want, got, tc.file)
	}
}

// TestReadModule decompresses modules as packages ship them (.ko.xz,
// .ko.zst, .ko.gz, plain) and refuses one that grows past maxModule.
func TestReadModule(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("module body "), 1000)
	big := make([]byte, maxModule+1)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	xzOf := func(b []byte) []byte {
		cmd := exec.Command("xz", "-0", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		require.NoError(t, err)
		return out
	}
	zstOf := func(b []byte) []byte {
		var z bytes.Buffer
		w, err := zstd.NewWriter(&z)
		require.NoError(t, err)
		_, _ = w.Write(b)
		require.NoError(t, w.Close())
		return z.Bytes()
	}
	gzOf := func(b []byte) []byte {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		_, _ = w.Write(b)
		require.NoError(t, w.Close())
		return z.Bytes()
	}
	for i, tc := range []struct {
		name string
		file []byte
		want []byte
	}{
		{"a.ko", body, body},
		{"b.ko.xz", xzOf(body), body},
		{"c.ko.zst", zstOf(body), body},
		{"d.ko.gz", gzOf(body), body},
		{"e.ko.xz", xzOf(big), nil},
		{"f.ko.zst", zstOf(big), nil},
		{"g.ko.gz", gzOf(big), nil},
	} {
		for range 3 { // the xz path once raced its own cancel
			got, err := readModule(write(tc.name, tc.file))
			if tc.want == nil {
				require.ErrorContains(t, err, "not a module", "%d %s", i, tc.name)
				continue
			}
			require.NoError(t, err, tc.name)
			require.Equal(t, tc.want, got, tc.name)
		}
	}
}
