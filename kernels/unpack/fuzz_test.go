package unpack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/archivetest"
)

// requireRegular checks that every name an extraction returns is local and
// every file under root is a regular file or a directory: no link, device
// or FIFO, nothing outside root.
func requireRegular(t *testing.T, root string, names []string) {
	t.Helper()
	for _, n := range names {
		require.True(t, filepath.IsLocal(n), "extracted %q", n)
	}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != root {
			require.True(t, d.Type().IsRegular() || d.IsDir(), "%s is %v", p, d.Type())
		}
		return nil
	})
}

func FuzzCpio(f *testing.F) {
	f.Add(cpioOf(entry{name: "boot/vmlinuz", body: "kernel"}, entry{name: "../escape", body: "x"}, entry{name: "lib/link", link: "/etc/passwd", typ: 'l'}))
	f.Add(archivetest.Cpio(map[string][]byte{"lib/modules/1/modules.dep": nil, "boot/config-1": []byte("CONFIG_NET=y\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := filepath.Join(archivetest.ScratchDir(t), "root")
		names, _ := Cpio(bytes.NewReader(b), root, Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		requireRegular(t, root, names)
	})
}

func FuzzTar(f *testing.F) {
	f.Add(tarOf(&testing.T{}, entry{name: "boot/vmlinuz", body: "kernel"}, entry{name: "../../escape", body: "x"},
		entry{name: "lib/l", link: "../../../etc", typ: '2'}, entry{name: "usr/.wh.gone", body: ""}))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := filepath.Join(archivetest.ScratchDir(t), "root")
		names, _ := Tar(bytes.NewReader(b), root, Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		requireRegular(t, root, names)
	})
}
