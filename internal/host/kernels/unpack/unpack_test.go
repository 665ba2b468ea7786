package unpack

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

func tarOf(t *testing.T, es ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Size: int64(len(e.body)), Mode: 0o644}))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

// cpioOf writes a newc archive; mode 0 is a regular file.
func cpioOf(es ...entry) []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	write := func(name string, mode int, body string) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 0, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		pad()
		b.WriteString(body)
		pad()
	}
	for _, e := range es {
		mode := 0o100644
		if e.typ == tar.TypeSymlink {
			mode, e.body = 0o120777, e.link
		}
		if e.typ == tar.TypeDir {
			mode = 0o40755
		}
		write(e.name, mode, e.body)
	}
	write("TRAILER!!!", 0, "")
	return b.Bytes()
}

// TestHostileArchives extracts archives whose names climb out of the root,
// hold links and devices, or are larger than allowed: only local regular
// files arrive, and a too-large member stops the extraction.
func TestHostileArchives(t *testing.T) {
	es := []entry{
		{name: "./boot/vmlinuz", body: "kernel"},
		{name: "../../etc/evil", body: "x"},
		{name: "/abs/evil", body: "abs"},
		{name: "lib/modules/6.1/link", typ: tar.TypeSymlink, link: "/etc/passwd"},
		{name: "lib/modules/6.1/dir", typ: tar.TypeDir},
		{name: "lib/modules/6.1/kernel/x.ko", body: "module"},
		{name: "boot/skip", body: "not kept"},
	}
	keep := func(n string) bool { return n != "boot/skip" }
	for name, extract := range map[string]func(root string, opt Options) ([]string, error){
		"tar": func(root string, opt Options) ([]string, error) {
			return Tar(bytes.NewReader(tarOf(t, es...)), root, opt)
		},
		"cpio": func(root string, opt Options) ([]string, error) {
			return Cpio(bytes.NewReader(cpioOf(es...)), root, opt)
		},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			names, err := extract(root, Options{Keep: keep})
			require.NoError(t, err)
			want := []string{"boot/vmlinuz", "abs/evil", "lib/modules/6.1/kernel/x.ko"}
			require.Equal(t, want, names)
			require.NoFileExists(t, filepath.Join(parent, "etc", "evil"))
			require.NoFileExists(t, filepath.Join(root, "lib/modules/6.1/link"))
			b, err := os.ReadFile(filepath.Join(root, "boot/vmlinuz"))
			require.NoError(t, err)
			require.Equal(t, "kernel", string(b))

			_, err = extract(t.TempDir(), Options{MaxFile: 5})
			require.ErrorIs(t, err, ErrTooLarge)
			_, err = extract(t.TempDir(), Options{MaxTotal: 10})
			require.ErrorIs(t, err, ErrTooLarge)
		})
	}
	t.Run("truncated cpio", func(t *testing.T) {
		b := cpioOf(es...)
		_, err := Cpio(bytes.NewReader(b[:len(b)/2]), t.TempDir(), Options{})
		require.Error(t, err)
	})
}

// TestWhiteouts applies two OCI layers: the second deletes one file of
// the first and empties a folder.
func TestWhiteouts(t *testing.T) {
	root := t.TempDir()
	opt := Options{Whiteouts: true}
	_, err := Tar(bytes.NewReader(tarOf(t, entry{name: "boot/vmlinuz", body: "a"}, entry{name: "boot/old", body: "b"}, entry{name: "lib/modules/x/a.ko", body: "c"})), root, opt)
	require.NoError(t, err)
	names, err := Tar(bytes.NewReader(tarOf(t, entry{name: "boot/.wh.old"}, entry{name: "lib/modules/.wh..wh..opq"}, entry{name: "lib/modules/y/b.ko", body: "d"})), root, opt)
	require.NoError(t, err)
	require.Equal(t, []string{"lib/modules/y/b.ko"}, names)
	require.FileExists(t, filepath.Join(root, "boot/vmlinuz"))
	require.NoFileExists(t, filepath.Join(root, "boot/old"))
	require.NoDirExists(t, filepath.Join(root, "lib/modules/x"))
}
