package alpine_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestAlpine resolves alpine: kernels from a local server laid out as
// dl-cdn.alpinelinux.org is (vVERSION/main/ARCH/APKINDEX.tar.gz and the
// .apk files), signed by a test RSA key in place of Alpine's.
func TestAlpine(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	const keyName = "alpine-devel@lists.alpinelinux.org-test.rsa.pub"
	kernel := func(flavour, version, arch string) archivetest.APK {
		rel := version[:len(version)-3] + "-0-" + flavour
		return archivetest.APK{Name: "linux-" + flavour, Version: version, Arch: map[string]string{cpu.X86_64: "x86_64", cpu.ARM64: "aarch64"}[arch], Files: map[string][]byte{
			"boot/vmlinuz-" + flavour:                archivetest.Image(rel+" (buildozer@build-3-18-x86_64) #1-Alpine SMP", arch),
			"boot/config-" + flavour:                 []byte("CONFIG_NET=y\n"),
			"lib/modules/" + rel + "/modules.dep":    nil,
			"lib/modules/" + rel + "/kernel/x.ko.gz": []byte("m"),
		}}
	}
	mirror := &archivetest.Mirror{}
	repo := func(prefix string, pkgs ...archivetest.APK) {
		files, err := archivetest.APKRepo(key, keyName, pkgs...)
		require.NoError(t, err)
		mirror.Add(prefix, files)
	}
	repo("v3.18/main/x86_64/", kernel("lts", "6.1.55-r0", cpu.X86_64), kernel("virt", "6.1.55-r0", cpu.X86_64))
	repo("v3.18/main/aarch64/", kernel("lts", "6.1.55-r0", cpu.ARM64))
	// 3.17's index lists, as linux-lts 6.1.55-r0, a package whose own
	// .PKGINFO is linux-lts 5.15.0-r0.
	old := kernel("lts", "5.15.0-r0", cpu.X86_64)
	old.ListedAs = "linux-lts 6.1.55-r0"
	repo("v3.17/main/x86_64/", old)
	srv := httptest.NewServer(mirror)
	defer srv.Close()
	keys := map[string]*rsa.PublicKey{keyName: &key.PublicKey}
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: map[string]string{"alpine": srv.URL}, AlpineKeys: keys}
	ctx := context.Background()
	for _, tc := range []struct{ ref, release, arch, pkg string }{
		{"alpine:3.18", "6.1.55-0-lts", cpu.X86_64, "linux-lts"},
		{"alpine:3.18/virt", "6.1.55-0-virt", cpu.X86_64, "linux-virt"},
		{"alpine:3.18/arm64", "6.1.55-0-lts", cpu.ARM64, "linux-lts"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.Equal(t, tc.pkg, k.Origin.Package)
			require.Equal(t, "Alpine 3.18", k.Origin.Suite)
			require.FileExists(t, k.ModulesDir+"/kernel/x.ko.gz")
		})
	}
	t.Run("offline uses what was fetched", func(t *testing.T) {
		off := &kernels.Resolver{Cache: r.Cache, Mirrors: r.Mirrors, AlpineKeys: keys, Offline: true}
		_, err := off.Resolve(ctx, "alpine:3.18")
		require.NoError(t, err)
		_, err = off.Resolve(ctx, "alpine:3.19")
		require.ErrorContains(t, err, "--offline forbids the network")
	})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pkgPath := "v3.18/main/x86_64/linux-lts-6.1.55-r0.apk"
	good := mirror.Files[pkgPath]
	for _, tc := range []struct {
		name, ref, want string
		input           bool
		keys            map[string]*rsa.PublicKey
		setup           func() func()
	}{
		{name: "a release the mirror lacks", ref: "alpine:3.99", want: "Alpine has no v3.99 main repository for x86_64", input: true},
		{name: "a flavour the release lacks", ref: "alpine:3.18/vanilla", want: "lists no linux-vanilla", input: true},
		{name: "an index signed by another key", ref: "alpine:3.18", keys: map[string]*rsa.PublicKey{keyName: &other.PublicKey}, want: "APKINDEX: signed by alpine-devel@lists.alpinelinux.org-test.rsa.pub (does not verify)"},
		{name: "a package that is not what the index says", ref: "alpine:3.18", want: "control checksum",
			setup: func() func() {
				pkg, _, err := archivetest.APK{Name: "linux-lts", Version: "6.1.55-r0", Arch: "x86_64", Files: map[string][]byte{"boot/vmlinuz-lts": []byte("x")}}.APKFile(key, keyName)
				require.NoError(t, err)
				mirror.Files[pkgPath] = pkg
				return func() { mirror.Files[pkgPath] = good }
			}},
		{name: "a package whose .PKGINFO is not the entry's", ref: "alpine:3.17", want: ".PKGINFO names linux-lts-5.15.0-r0, APKINDEX lists linux-lts-6.1.55-r0"},
		{name: "a truncated package", ref: "alpine:3.18", want: "gzip member",
			setup: func() func() {
				mirror.Files[pkgPath] = good[:len(good)-100]
				return func() { mirror.Files[pkgPath] = good }
			}},
		{name: "an unreachable mirror", ref: "alpine:3.18", want: "point --mirror alpine=URL", input: false, // the world failed, not the input: exit 1
			setup: func() func() {
				old := r.Mirrors["alpine"]
				r.Mirrors["alpine"] = "http://127.0.0.1:1"
				return func() { r.Mirrors["alpine"] = old }
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				defer tc.setup()()
			}
			k := keys
			if tc.keys != nil {
				k = tc.keys
			}
			fresh := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: r.Mirrors, AlpineKeys: k}
			_, err := fresh.Resolve(ctx, tc.ref)
			require.ErrorContains(t, err, tc.want)
			var ie *kernels.InputError
			require.Equal(t, tc.input, errors.As(err, &ie), "%v", err)
		})
	}
}
