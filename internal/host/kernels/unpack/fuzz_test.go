package unpack

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func FuzzCpio(f *testing.F) {
	f.Add(cpioOf(entry{name: "boot/vmlinuz", body: "kernel"}, entry{name: "../escape", body: "x"}, entry{name: "lib/link", link: "/etc/passwd", typ: 'l'}))
	f.Add(archivetest.Cpio(map[string][]byte{"lib/modules/1/modules.dep": nil, "boot/config-1": []byte("CONFIG_NET=y\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := filepath.Join(archivetest.ScratchDir(t), "root")
		names, _ := Cpio(bytes.NewReader(b), root, Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		archivetest.CheckExtracted(t, root, names)
	})
}

func FuzzTar(f *testing.F) {
	f.Add(tarOf(&testing.T{}, entry{name: "boot/vmlinuz", body: "kernel"}, entry{name: "../../escape", body: "x"},
		entry{name: "lib/l", link: "../../../etc", typ: '2'}, entry{name: "usr/.wh.gone", body: ""}))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := filepath.Join(archivetest.ScratchDir(t), "root")
		names, _ := Tar(bytes.NewReader(b), root, Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		archivetest.CheckExtracted(t, root, names)
	})
}
