package ubuntu_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestUbuntu resolves ubuntu: kernels from a local server laid out as
// archive.ubuntu.com, ports.ubuntu.com and old-releases.ubuntu.com are,
// signed by a test key in place of Ubuntu's archive keys.
func TestUbuntu(t *testing.T) {
	key, err := openpgp.NewEntity("Ubuntu test", "", "u@example.invalid", nil)
	require.NoError(t, err)
	image := func(abi, arch string, modules bool) []archivetest.AptPackage {
		rel := abi + "-generic"
		out := []archivetest.AptPackage{{Name: "linux-image-" + rel, Version: abi + ".1", Files: map[string][]byte{
			"boot/vmlinuz-" + rel: archivetest.Image(rel+" (buildd@lcy01-amd64-029) #21-Ubuntu SMP", arch),
			"boot/config-" + rel:  []byte("CONFIG_NET=y\n"),
		}}}
		if modules {
			out = append(out, archivetest.AptPackage{Name: "linux-modules-" + rel, Version: abi + ".1", Files: map[string][]byte{
				"lib/modules/" + rel + "/modules.dep": nil,
			}})
		} else {
			out[0].Files["lib/modules/"+rel+"/modules.dep"] = nil
		}
		return out
	}
	meta := func(name, version, abi string) archivetest.AptPackage {
		return archivetest.AptPackage{Name: name, Version: version, Depends: "linux-image-" + abi + "-generic, linux-firmware"}
	}
	mirror := &archivetest.Mirror{}
	suite := func(root, suite, code, arch string, pkgs ...archivetest.AptPackage) {
		files, err := archivetest.AptSuite{Suite: suite, Codename: code, Arch: arch, Packages: pkgs}.Files(key)
		require.NoError(t, err)
		mirror.Add(root+"/", files)
	}
	suite("ubuntu", "bionic", "bionic", "amd64", append(image("4.15.0-20", cpu.X86_64, true), meta("linux-image-generic", "4.15.0.20.23", "4.15.0-20"))...)
	suite("ubuntu", "bionic-updates", "bionic", "amd64", append(append(image("4.15.0-213", cpu.X86_64, true), image("5.4.0-150", cpu.X86_64, true)...),
		meta("linux-image-generic", "4.15.0.213.196", "4.15.0-213"), meta("linux-image-generic-hwe-18.04", "5.4.0.150.167~18.04.121", "5.4.0-150"))...)
	suite("ubuntu", "bionic-security", "bionic", "amd64")
	suite("ubuntu", "xenial", "xenial", "amd64", append(image("4.4.0-21", cpu.X86_64, false), meta("linux-image-generic", "4.4.0.21.22", "4.4.0-21"), meta("linux-image-virtual", "4.4.0.21.22", "4.4.0-21"))...)
	suite("ports", "bionic", "bionic", "arm64", append(image("4.15.0-20", cpu.ARM64, true), meta("linux-image-generic", "4.15.0.20.23", "4.15.0-20"))...)
	suite("old", "trusty", "trusty", "amd64", append(image("3.13.0-24", cpu.X86_64, false), meta("linux-image-generic", "3.13.0.24.28", "3.13.0-24"))...)
	srv := httptest.NewServer(mirror)
	defer srv.Close()
	mirrors := map[string]string{"ubuntu": srv.URL + "/ubuntu", "ubuntu-ports": srv.URL + "/ports", "ubuntu-old": srv.URL + "/old"}
	keys := map[string]openpgp.EntityList{"ubuntu-archive": {key}}
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: mirrors, Keys: keys}
	ctx := context.Background()

	for _, tc := range []struct{ ref, release, arch, suite string }{
		{"ubuntu:18.04", "4.15.0-213-generic", cpu.X86_64, "Ubuntu 18.04 bionic-updates"},
		{"ubuntu:bionic", "4.15.0-213-generic", cpu.X86_64, "Ubuntu 18.04 bionic-updates"},
		{"ubuntu:18.04/hwe", "5.4.0-150-generic", cpu.X86_64, "Ubuntu 18.04 bionic-updates"},
		{"ubuntu:4.15.0-20", "4.15.0-20-generic", cpu.X86_64, "Ubuntu 18.04 bionic"},
		{"ubuntu:16.04/virtual", "4.4.0-21-generic", cpu.X86_64, "Ubuntu 16.04 xenial"},
		{"ubuntu:18.04/arm64", "4.15.0-20-generic", cpu.ARM64, "Ubuntu 18.04 bionic"},
		{"ubuntu:14.04", "3.13.0-24-generic", cpu.X86_64, "Ubuntu 14.04 trusty"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.Equal(t, tc.suite, k.Origin.Suite)
			require.NotEmpty(t, k.ModulesDir)
		})
	}
	t.Run("pockets no mirror has are said", func(t *testing.T) {
		var log []string
		r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: mirrors, Keys: keys, Log: func(s string) { log = append(log, s) }}
		_, err := r.Resolve(ctx, "ubuntu:16.04/virtual")
		require.NoError(t, err)
		require.Contains(t, strings.Join(log, "\n"), "ubuntu:16.04/virtual: no Ubuntu mirror has xenial-security or xenial-updates, so its kernels are not considered")
		log = nil
		_, err = r.Resolve(ctx, "ubuntu:18.04")
		require.NoError(t, err)
		require.NotContains(t, strings.Join(log, "\n"), "not considered", "bionic has every pocket")
	})
	t.Run("offline uses what was fetched", func(t *testing.T) {
		off := &kernels.Resolver{Cache: r.Cache, Mirrors: mirrors, Keys: keys, Offline: true}
		k, err := off.Resolve(ctx, "ubuntu:18.04")
		require.NoError(t, err)
		require.Equal(t, "4.15.0-213-generic", k.Image.Release)
		_, err = off.Resolve(ctx, "ubuntu:20.04")
		require.ErrorContains(t, err, "--offline forbids the network")
	})
	other, err := openpgp.NewEntity("someone", "", "s@example.invalid", nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, ref, want string
		input           bool
		keys            map[string]openpgp.EntityList
		setup           func() func()
	}{
		{name: "a release no archive has", ref: "ubuntu:17.10", want: "no Ubuntu archive", input: true},
		{name: "a release runmatrix does not know", ref: "ubuntu:99.04", want: "Ubuntu has no release 99.04", input: true},
		{name: "an arch the release lacks", ref: "ubuntu:16.04/arm64", want: "no Ubuntu archive", input: true},
		{name: "no hardware-enablement kernel", ref: "ubuntu:16.04/hwe", want: "has no hardware-enablement kernel", input: true},
		{name: "an ABI no release has", ref: "ubuntu:4.15.0-999", want: "no Ubuntu release has linux-image-4.15.0-999-generic", input: true},
		{name: "an index signed by another key", ref: "ubuntu:18.04", keys: map[string]openpgp.EntityList{"ubuntu-archive": {other}}, want: "bionic"},
		{name: "a truncated package", ref: "ubuntu:16.04", want: "(truncated download?)",
			setup: func() func() {
				for p := range mirror.Files {
					if strings.HasPrefix(p, "ubuntu/pool/") && strings.Contains(p, "4.4.0-21") {
						mirror.Truncate = p
					}
				}
				return func() { mirror.Truncate = "" }
			}},
		{name: "a package that is not what its index says", ref: "ubuntu:16.04", want: ", the signed index says",
			setup: func() func() {
				for p, b := range mirror.Files {
					if strings.HasPrefix(p, "ubuntu/pool/") && strings.Contains(p, "4.4.0-21") {
						bad := append([]byte{}, b...)
						bad[len(bad)-5] ^= 1
						mirror.Files[p] = bad
						return func() { mirror.Files[p] = b }
					}
				}
				return func() {}
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
			fresh := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: mirrors, Keys: k}
			_, err := fresh.Resolve(ctx, tc.ref)
			require.ErrorContains(t, err, tc.want)
			var ie *kernels.InputError
			require.Equal(t, tc.input, errors.As(err, &ie), "%v", err)
		})
	}
}
