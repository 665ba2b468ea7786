package kernels

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/oci"
)

func TestParseRef(t *testing.T) {
	sum := "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
	for _, tc := range []struct {
		in      string
		want    Ref
		wantErr string
	}{
		{in: "debian:6.1", want: Ref{Raw: "debian:6.1", Kind: KindDebian, Series: "6.1", Arch: cpu.X86_64}},
		{in: "debian:6.1/i686", want: Ref{Raw: "debian:6.1/i686", Kind: KindDebian, Series: "6.1", Arch: cpu.I386}},
		{in: "debian:6.1.0-50", want: Ref{Raw: "debian:6.1.0-50", Kind: KindDebian, Version: "6.1.0-50", Arch: cpu.X86_64}},
		{in: "debian:2.6.32-5/i686", want: Ref{Raw: "debian:2.6.32-5/i686", Kind: KindDebian, Version: "2.6.32-5", Arch: cpu.I386}},
		{in: "debian:6.12.57+deb13", want: Ref{Raw: "debian:6.12.57+deb13", Kind: KindDebian, Version: "6.12.57+deb13", Arch: cpu.X86_64}},
		{in: "debian:bookworm", want: Ref{Raw: "debian:bookworm", Kind: KindDebian, Codename: "bookworm", Arch: cpu.X86_64}},
		{in: "debian:sid", want: Ref{Raw: "debian:sid", Kind: KindDebian, Codename: "sid", Arch: cpu.X86_64}},
		{in: "debian:6.1@bookworm/i686", want: Ref{Raw: "debian:6.1@bookworm/i686", Kind: KindDebian, Series: "6.1", Suite: "bookworm", Arch: cpu.I386}},
		{in: "debian:6.1@", wantErr: "want debian:WHAT@SUITE"},
		{in: "debian:Six!", wantErr: "want debian:SERIES"},
		{in: "debian:6", wantErr: "want debian:SERIES"},
		{in: "debian:6.1/mips", wantErr: "unknown arch"},
		{in: "debian:6.12/arm64", want: Ref{Raw: "debian:6.12/arm64", Kind: KindDebian, Series: "6.12", Arch: cpu.ARM64}},
		{in: "https://h/bzImage#sha256=" + sum, want: Ref{Raw: "https://h/bzImage#sha256=" + sum, Kind: KindURL, URL: "https://h/bzImage", SHA256: sum}},
		{in: "https://h/Image#sha256=" + sum + "&arch=arm64", want: Ref{Raw: "https://h/Image#sha256=" + sum + "&arch=arm64", Kind: KindURL, URL: "https://h/Image", SHA256: sum, Arch: cpu.ARM64}},
		{in: "https://h/Image#sha256=" + sum + "&arch=mips", wantErr: "unknown arch"},
		{in: "mainline:v6.6/arm64", want: Ref{Raw: "mainline:v6.6/arm64", Kind: KindMainline, Tag: "v6.6", Arch: cpu.ARM64}},
		{in: "oci:ghcr.io/cilium/ci-kernels:6.6", want: Ref{Raw: "oci:ghcr.io/cilium/ci-kernels:6.6", Kind: KindOCI, Detail: oci.Reference{Registry: "ghcr.io", Repository: "cilium/ci-kernels", Tag: "6.6"}, Line: "ghcr.io/cilium/ci-kernels"}},
		{in: "oci:ghcr.io/cilium/ci-kernels:6.6/arm64", want: Ref{Raw: "oci:ghcr.io/cilium/ci-kernels:6.6/arm64", Kind: KindOCI, Arch: cpu.ARM64, Detail: oci.Reference{Registry: "ghcr.io", Repository: "cilium/ci-kernels", Tag: "6.6"}, Line: "ghcr.io/cilium/ci-kernels"}},
		{in: "oci:localhost:5000/k@sha256:" + sum, want: Ref{Raw: "oci:localhost:5000/k@sha256:" + sum, Kind: KindOCI, Detail: oci.Reference{Registry: "localhost:5000", Repository: "k", Digest: "sha256:" + sum}, Line: "localhost:5000/k"}},
		{in: "oci:someone/kernels", want: Ref{Raw: "oci:someone/kernels", Kind: KindOCI, Detail: oci.Reference{Registry: "docker.io", Repository: "someone/kernels", Tag: "latest"}, Line: "docker.io/someone/kernels"}},
		{in: "oci:kernel", want: Ref{Raw: "oci:kernel", Kind: KindOCI, Detail: oci.Reference{Registry: "docker.io", Repository: "library/kernel", Tag: "latest"}, Line: "docker.io/library/kernel"}},
		{in: "oci:ghcr.io/cilium/ci-kernels:6.6/mips", wantErr: "unknown arch"},
		{in: "oci:ghcr.io/Cilium/ci-kernels:6.6", wantErr: "want REGISTRY/REPOSITORY:TAG"},
		{in: "oci:ghcr.io/cilium/ci-kernels@sha256:abc", wantErr: "64 lower-case hex digits"},
		{in: "https://h/bzImage", wantErr: "#sha256="},
		{in: "https://h/bzImage#sha256=abc", wantErr: "#sha256="},
		{in: "./bzImage", want: Ref{Raw: "./bzImage", Kind: KindFile, Path: "./bzImage"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRef(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseImageRejects(t *testing.T) {
	notKernel := []byte("#!/bin/sh\necho hello\n")
	header := make([]byte, 0x300)
	copy(header[0x202:], "HdrS")
	header[0x1f1] = 1
	header[0x206], header[0x207] = 0x0f, 0x02
	header[0x1f4] = 0xff // syssize: far more than the file holds
	for _, tc := range []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"text file", notKernel, bootimage.ErrNotKernel},
		{"empty", nil, bootimage.ErrNotKernel},
		{"header promises more than the file has", header, bootimage.ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bootimage.ParseImage(tc.data)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}
