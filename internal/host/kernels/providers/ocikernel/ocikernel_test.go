package ocikernel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// TestOCI pulls kernels from a local registry that serves the OCI
// distribution API with anonymous bearer tokens (as ghcr.io does), laid out
// as cilium/ci-kernels images are: /boot/vmlinuz and /usr/lib/modules.
func TestOCI(t *testing.T) {
	reg := archivetest.NewRegistry()
	reg.Token = true
	files := func(release, arch string) map[string][]byte {
		return map[string][]byte{
			"boot/vmlinuz": archivetest.Image(release+" (ci@kernels) #1 SMP", arch),
			"usr/lib/modules/" + release + "/modules.dep":  []byte(""),
			"usr/lib/modules/" + release + "/kernel/x.ko":  []byte("module"),
			"usr/lib/modules/" + release + "/../../../etc": []byte("climbs out"),
		}
	}
	idx, err := reg.Push("cilium/ci-kernels", "6.6", archivetest.OCIImage{Arch: "amd64", Files: files("6.6.50", cpu.X86_64)}, archivetest.OCIImage{Arch: "arm64", Files: files("6.6.50", cpu.ARM64)})
	require.NoError(t, err)
	one, err := reg.Push("cilium/ci-kernels", "6.1", archivetest.OCIImage{Arch: "amd64", Files: files("6.1.100", cpu.X86_64)})
	require.NoError(t, err)
	_, err = reg.Push("cilium/ci-kernels", "empty", archivetest.OCIImage{Arch: "amd64", Files: map[string][]byte{"etc/hostname": []byte("x")}})
	require.NoError(t, err)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	ctx := context.Background()

	for _, tc := range []struct {
		ref, release, arch string
	}{
		{"oci:" + host + "/cilium/ci-kernels:6.6", "6.6.50", cpu.X86_64},
		{"oci:" + host + "/cilium/ci-kernels:6.6/arm64", "6.6.50", cpu.ARM64},
		{"oci:" + host + "/cilium/ci-kernels:6.1", "6.1.100", cpu.X86_64},
		{"oci:" + host + "/cilium/ci-kernels@" + one, "6.1.100", cpu.X86_64},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.FileExists(t, k.ModulesDir+"/kernel/x.ko")
			require.Contains(t, k.Origin.URL, "oci:"+host+"/cilium/ci-kernels@sha256:", "the run records the digest it measured")
		})
	}
	require.NotContains(t, idx, one)

	t.Run("offline uses what was pulled", func(t *testing.T) {
		off := &kernels.Resolver{Cache: r.Cache, Offline: true}
		n := reg.Requests
		k, err := off.Resolve(ctx, "oci:"+host+"/cilium/ci-kernels:6.6")
		require.NoError(t, err)
		require.Equal(t, "6.6.50", k.Image.Release)
		require.Equal(t, n, reg.Requests, "no request offline")
		_, err = off.Resolve(ctx, "oci:"+host+"/cilium/ci-kernels:6.12")
		require.ErrorContains(t, err, "--offline forbids the network")
	})

	t.Run("a registry that answers 503 once for each path", func(t *testing.T) {
		var mu sync.Mutex
		failed := map[string]bool{}
		flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			first := !failed[req.URL.Path]
			failed[req.URL.Path] = true
			mu.Unlock()
			if first {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			reg.ServeHTTP(w, req)
		}))
		defer flaky.Close()
		fresh := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}}
		k, err := fresh.Resolve(ctx, "oci:"+strings.TrimPrefix(flaky.URL, "http://")+"/cilium/ci-kernels:6.1")
		require.NoError(t, err, "each manifest and blob is asked again")
		require.Equal(t, "6.1.100", k.Image.Release)
		mu.Lock()
		defer mu.Unlock()
		require.Contains(t, failed, "/v2/cilium/ci-kernels/blobs/"+layerOf(t, reg, one), "the layer's first answer was a 503")
	})

	layer := layerOf(t, reg, one)
	goodLayer := reg.Blobs[layer]
	for _, tc := range []struct {
		name, ref, want string
		input           bool
		tamper          func()
		undo            func()
	}{
		{name: "a tag the registry lacks", ref: "/cilium/ci-kernels:9.9", want: "cilium/ci-kernels:9.9: not found in the registry", input: true},
		{name: "an arch the index lacks", ref: "/cilium/ci-kernels:6.6/riscv64", want: "for linux/riscv64 (the index has linux/amd64, linux/arm64)", input: true},
		{name: "an image with no kernel", ref: "/cilium/ci-kernels:empty", want: "holds no kernel image", input: true},
		{name: "a layer that is not what its digest says", ref: "/cilium/ci-kernels:6.1", want: "blob: digest sha256:",
			tamper: func() {
				bad := append([]byte{}, goodLayer...)
				bad[len(bad)/2] ^= 0xff
				reg.Blobs[layer] = bad
			}, undo: func() { reg.Blobs[layer] = goodLayer }},
		{name: "a truncated layer", ref: "/cilium/ci-kernels:6.1", want: "unexpected EOF",
			tamper: func() { reg.Truncate = true }, undo: func() { reg.Truncate = false }},
		{name: "a manifest that is not what the registry says it is", ref: "/cilium/ci-kernels:6.1", want: "digest sha256:",
			tamper: func() { reg.Manifests[one] = append([]byte(" "), reg.Manifests[one]...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tamper != nil {
				tc.tamper()
			}
			if tc.undo != nil {
				defer tc.undo()
			}
			fresh := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}}
			_, err := fresh.Resolve(ctx, "oci:"+host+tc.ref)
			require.ErrorContains(t, err, tc.want)
			var ie *kernels.InputError
			require.Equal(t, tc.input, errors.As(err, &ie), "%v", err)
		})
	}
}

// layerOf returns the digest of the one layer of the manifest d.
func layerOf(t *testing.T, reg *archivetest.Registry, d string) string {
	m := string(reg.Manifests[d])
	i := strings.Index(m, `"layers":[{`)
	require.GreaterOrEqual(t, i, 0)
	j := strings.Index(m[i:], `"digest":"`) + i + len(`"digest":"`)
	return m[j : j+71]
}
