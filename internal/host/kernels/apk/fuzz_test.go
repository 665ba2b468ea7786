package apk

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func fuzzKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
}

// FuzzIndexAndPackage reads an arbitrary APKINDEX.tar.gz and checks an
// arbitrary package against the first entry of a real one.
func FuzzIndexAndPackage(f *testing.F) {
	key := fuzzKey()
	files, err := archivetest.APKRepo(key, "test.rsa.pub", archivetest.APK{Name: "linux-lts", Version: "6.1.0-r0", Arch: "x86_64",
		Files: map[string][]byte{"boot/vmlinuz-lts": []byte("kernel"), "lib/modules/6.1.0-0-lts/modules.dep": nil}})
	if err != nil {
		f.Fatal(err)
	}
	keys := map[string]*rsa.PublicKey{"test.rsa.pub": &key.PublicKey}
	entries, err := ReadIndex(files["APKINDEX.tar.gz"], keys)
	if err != nil || len(entries) != 1 {
		f.Fatal(err)
	}
	f.Add(files["APKINDEX.tar.gz"], files["linux-lts-6.1.0-r0.apk"])
	f.Fuzz(func(t *testing.T, index, pkg []byte) {
		_, _ = ReadIndex(index, keys)
		if data, err := Verify(pkg, entries[0], keys); err == nil {
			_, _ = Extract(data, archivetest.ScratchDir(t), unpack.Options{MaxFile: 1 << 20, MaxTotal: 4 << 20})
		}
	})
}
