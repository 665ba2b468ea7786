package rpmdistro_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestRPMDistros resolves centos:, rocky: and fedora: kernels from a local
// server laid out as vault.centos.org, dl.rockylinux.org and the Fedora
// archive are, with packages signed by test keys that stand in for the
// distributions' (the embedded keys are swapped for them by name).
func TestRPMDistros(t *testing.T) {
	rsa := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}
	centos, err := openpgp.NewEntity("CentOS 6 test", "", "c@example.invalid", rsa)
	require.NoError(t, err)
	rocky, err := openpgp.NewEntity("Rocky 8 test", "", "r@example.invalid", rsa)
	require.NoError(t, err)
	stranger, err := openpgp.NewEntity("stranger", "", "s@example.invalid", rsa)
	require.NoError(t, err)
	fedora, err := openpgp.NewEntity("Fedora 39 test", "", "f@example.invalid", rsa)
	require.NoError(t, err)
	alma, err := openpgp.NewEntity("AlmaLinux 9 test", "", "a@example.invalid", rsa)
	require.NoError(t, err)
	swap := map[string]openpgp.EntityList{"centos-6": {centos}, "rocky-8": {rocky}, "fedora-39": {fedora}, "alma-9": {alma}}

	el6 := func(vr, arch string, key *openpgp.Entity) archivetest.RPM {
		v, rel, _ := strings.Cut(vr, "-")
		release := vr + "." + arch
		return archivetest.RPM{Name: "kernel", Version: v, Release: rel, Arch: arch, Key: key, V3: true, Files: map[string][]byte{
			"boot/vmlinuz-" + release:                 archivetest.Image(release+" (mockbuild@c6b8.bsys.dev.centos.org) #1 SMP", map[string]string{"x86_64": cpu.X86_64, "i686": cpu.I386}[arch]),
			"boot/config-" + release:                  []byte("CONFIG_NET=y\n"),
			"lib/modules/" + release + "/modules.dep": nil,
			"lib/modules/" + release + "/kernel/x.ko": []byte("m"),
		}}
	}
	mirror := &archivetest.Mirror{}
	repo := func(prefix string, pkgs ...archivetest.RPM) {
		y := archivetest.YumRepo{Packages: pkgs}
		if pkgs[0].Key == rocky || pkgs[0].Key == alma {
			y.SignWith = pkgs[0].Key // they sign repomd.xml
		}
		files, err := y.Files()
		require.NoError(t, err)
		mirror.Add(prefix, files)
	}
	repo("6.5/os/x86_64/", el6("2.6.32-431.el6", "x86_64", centos))
	repo("6.5/updates/x86_64/", el6("2.6.32-431.29.2.el6", "x86_64", centos), el6("2.6.32-431.3.1.el6", "x86_64", centos))
	repo("6.5/os/i386/", el6("2.6.32-431.el6", "i686", centos))
	repo("6.6/os/x86_64/", el6("2.6.32-504.el6", "x86_64", centos))
	repo("6.6/updates/x86_64/", el6("2.6.32-504.30.3.el6", "x86_64", stranger)) // not CentOS's key
	repo("6.7/os/x86_64/", el6("2.6.32-573.el6", "x86_64", centos))
	// 6.8 lists 2.6.32-642 but serves the (correctly signed) 2.6.32-431.
	old := el6("2.6.32-431.el6", "x86_64", centos)
	old.ListedAs = "2.6.32-642.el6"
	repo("6.8/os/x86_64/", old)
	// EL8 splits the kernel: kernel (empty), kernel-core (image, core modules).
	rel8 := "4.18.0-372.9.1.el8.x86_64"
	core := archivetest.RPM{Name: "kernel-core", Version: "4.18.0", Release: "372.9.1.el8", Arch: "x86_64", Key: rocky, Files: map[string][]byte{
		"lib/modules/" + rel8 + "/vmlinuz":     archivetest.Image(rel8+" (mockbuild@rocky) #1 SMP", cpu.X86_64),
		"lib/modules/" + rel8 + "/config":      []byte("CONFIG_NET=y\n"),
		"lib/modules/" + rel8 + "/modules.dep": nil,
	}}
	meta := archivetest.RPM{Name: "kernel", Version: "4.18.0", Release: "372.9.1.el8", Arch: "x86_64", Key: rocky, Files: map[string][]byte{}}
	repo("pub/rocky/8/BaseOS/x86_64/os/", core, meta)
	// A Rocky 8.5 mirror that drops repomd.xml.asc.
	unsigned, err := archivetest.YumRepo{Packages: []archivetest.RPM{core, meta}}.Files()
	require.NoError(t, err)
	mirror.Add("vault/rocky/8.5/BaseOS/x86_64/os/", unsigned)
	// Fedora 39 is only in the archive; its modules-core package carries
	// the modules, as from Fedora 37.
	fc := "6.5.6-300.fc39.x86_64"
	fcore := archivetest.RPM{Name: "kernel-core", Version: "6.5.6", Release: "300.fc39", Arch: "x86_64", Key: fedora, Files: map[string][]byte{
		"lib/modules/" + fc + "/vmlinuz": archivetest.Image(fc+" (mockbuild@fedora) #1 SMP", cpu.X86_64),
	}}
	fmods := archivetest.RPM{Name: "kernel-modules-core", Version: "6.5.6", Release: "300.fc39", Arch: "x86_64", Key: fedora, Files: map[string][]byte{
		"lib/modules/" + fc + "/modules.dep":             nil,
		"lib/modules/" + fc + "/kernel/virtio_net.ko.xz": []byte("m"),
	}}
	repo("pub/archive/fedora/linux/releases/39/Everything/x86_64/os/", fcore, fmods)
	// AlmaLinux 9.3 is in its vault, for aarch64 too.
	rel9 := "5.14.0-362.8.1.el9_3.aarch64"
	acore := archivetest.RPM{Name: "kernel-core", Version: "5.14.0", Release: "362.8.1.el9_3", Arch: "aarch64", Key: alma, Files: map[string][]byte{
		"lib/modules/" + rel9 + "/vmlinuz":     archivetest.Image(rel9+" (mockbuild@alma) #1 SMP", cpu.ARM64),
		"lib/modules/" + rel9 + "/config":      []byte("CONFIG_NET=y\n"),
		"lib/modules/" + rel9 + "/modules.dep": nil,
	}}
	repo("alma-vault/9.3/BaseOS/aarch64/os/", acore)
	srv := httptest.NewServer(mirror)
	defer srv.Close()
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: map[string]string{"centos": srv.URL, "rocky": srv.URL, "fedora": srv.URL, "fedora-archive": srv.URL, "alma-vault": srv.URL + "/alma-vault"}, Keys: swap}
	ctx := context.Background()

	for _, tc := range []struct{ ref, release, arch, pkg, label string }{
		{"centos:6.5", "2.6.32-431.29.2.el6.x86_64", cpu.X86_64, "kernel", "CentOS 6.5"},
		{"centos:6.5/i686", "2.6.32-431.el6.i686", cpu.I386, "kernel", "CentOS 6.5"},
		{"centos:2.6.32-504.el6", "2.6.32-504.el6.x86_64", cpu.X86_64, "kernel", "CentOS 6.6"},
		{"centos:6.7", "2.6.32-573.el6.x86_64", cpu.X86_64, "kernel", "CentOS 6.7"},
		{"rocky:8", rel8, cpu.X86_64, "kernel-core", "Rocky Linux 8"},
		{"fedora:39", fc, cpu.X86_64, "kernel-core", "Fedora 39"},
		{"alma:9.3/arm64", rel9, cpu.ARM64, "kernel-core", "AlmaLinux 9.3"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.Equal(t, tc.pkg, k.Origin.Package)
			require.Equal(t, tc.label, k.Origin.Suite)
			require.NotEmpty(t, k.ModulesDir)
			if tc.pkg == "kernel" || strings.HasPrefix(tc.ref, "rocky") || strings.HasPrefix(tc.ref, "alma") {
				require.NotEmpty(t, k.Config)
			}
		})
	}

	t.Run("offline uses what was fetched", func(t *testing.T) {
		off := &kernels.Resolver{Cache: r.Cache, Mirrors: r.Mirrors, Keys: swap, Offline: true}
		k, err := off.Resolve(ctx, "centos:6.5")
		require.NoError(t, err)
		require.Equal(t, "2.6.32-431.29.2.el6.x86_64", k.Image.Release)
		_, err = off.Resolve(ctx, "centos:6.8")
		require.ErrorContains(t, err, "--offline forbids the network")
	})

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name, ref, want string
		input           bool
		mirrors         map[string]string
		setup           func() func()
	}{
		{name: "a release that does not exist", ref: "centos:6.11", want: "CentOS has no release 6.11 (releases: 6.0–6.10, 7.0–7.9, 8.0–8.5)", input: true},
		{name: "an arch the release lacks", ref: "centos:7/i686", want: "CentOS 7 has no i686 kernels (it builds amd64)", input: true},
		{name: "a release the mirror lacks", ref: "centos:6.9", want: "CentOS has no release 6.9 for amd64 at", input: true},
		{name: "a kernel version no release has", ref: "centos:2.6.32-999.el6", want: "has kernel 2.6.32-999.el6", input: true},
		{name: "a package signed by another key", ref: "centos:6.6", want: "which is not the distribution's"},
		{name: "a package that is not what primary.xml says", ref: "centos:6.7", want: "primary.xml says",
			setup: func() func() {
				for p, b := range mirror.Files {
					if strings.HasPrefix(p, "6.7/os/x86_64/Packages/") {
						bad := append([]byte{}, b...)
						bad[len(bad)-20] ^= 1
						mirror.Files[p] = bad
						return func() { mirror.Files[p] = b }
					}
				}
				return func() {}
			}},
		{name: "a signed package served under another version's entry", ref: "centos:6.8",
			want: "the signed package is kernel-2.6.32-431.el6.x86_64, but primary.xml lists it as kernel-2.6.32-642.el6.x86_64"},
		{name: "no metadata signature where the distribution signs it", ref: "rocky:8.5",
			want: "the mirror publishes no signature for it (repomd.xml.asc), which this distribution signs"},
		{name: "a truncated download", ref: "centos:6.7", want: "unexpected EOF",
			setup: func() func() {
				for p := range mirror.Files {
					if strings.HasPrefix(p, "6.7/os/x86_64/Packages/") {
						mirror.Truncate = p
					}
				}
				return func() { mirror.Truncate = "" }
			}},
		{name: "an unreachable mirror", ref: "centos:6.5", mirrors: map[string]string{"centos": deadURL}, want: "point --mirror centos=URL (or RUNMATRIX_MIRRORS) at a mirror that carries it", input: false}, // the world failed: exit 1
		{name: "an unknown distribution", ref: "gentoo:23", want: "unknown kind of kernel reference \"gentoo:\"", input: true},
		{name: "RHEL itself", ref: "rhel:8", want: "RHEL's repositories need a subscription", input: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				defer tc.setup()()
			}
			m := r.Mirrors
			if tc.mirrors != nil {
				m = tc.mirrors
			}
			fresh := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: m, Keys: swap}
			_, err := fresh.Resolve(ctx, tc.ref)
			require.ErrorContains(t, err, tc.want)
			var ie *kernels.InputError
			require.Equal(t, tc.input, errors.As(err, &ie), "%v", err)
		})
	}
}
