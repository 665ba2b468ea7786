// Package ocikernel resolves oci: references: a kernel shipped in an OCI
// image (ghcr.io/cilium/ci-kernels:6.6, or any image with /boot/vmlinuz
// and modules under /lib/modules or /usr/lib/modules).
package ocikernel

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit"
	"github.com/runmatrix/runmatrix/internal/host/kernels/oci"
	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// maxLayer bounds one compressed layer of a kernel image.
const maxLayer = 2 << 30

// ociPin is what a tag resolved to, kept for the index TTL and --offline.
type ociPin struct {
	Digest  string    `json:"digest"`
	Index   string    `json:"index,omitempty"`
	Fetched time.Time `json:"fetched"`
}

// Kind is a kernel shipped in an OCI image.
const Kind kit.Kind = "oci"

// Provider resolves oci: references.
type Provider struct{}

// Kind is oci.
func (Provider) Kind() kit.Kind { return Kind }

// Schemes is oci:.
func (Provider) Schemes() []string { return []string{"oci:"} }

// Mirrors is none: the reference names its registry.
func (Provider) Mirrors() map[string]string { return nil }

// Examples are an oci: reference.
func (Provider) Examples() []string { return []string{"oci:127.0.0.1:1/cilium/ci-kernels:6.6"} }

// image is the image a reference names.
func image(r kit.Ref) oci.Reference { return r.Detail.(oci.Reference) }

// Parse reads oci:REGISTRY/REPO[:TAG|@sha256:HEX][/ARCH].
func (Provider) Parse(s, _ string) (kit.Ref, error) {
	r := kit.Ref{Raw: s, Kind: Kind}
	what := strings.TrimPrefix(s, "oci:")
	// An arch after the tag or digest (tags and digests hold no "/"): the
	// last element is plain and the one before it has the tag or digest.
	if i := strings.LastIndex(what, "/"); i > 0 {
		last, head := what[i+1:], what[:i]
		if j := strings.LastIndex(head, "/"); j > 0 && !strings.ContainsAny(last, ":@") && strings.ContainsAny(head[j+1:], ":@") {
			a, err := kit.ParseArch(s, last)
			if err != nil {
				return r, err
			}
			r.Arch, what = a, head
		}
	}
	ref, err := oci.ParseReference(what)
	if err != nil {
		return r, fmt.Errorf("kernel %q: %w", s, err)
	}
	r.Detail, r.Line = ref, ref.Registry+"/"+ref.Repository
	return r, nil
}

// Resolve pulls (once) the image a reference names for its arch, checks
// every manifest and layer against its digest, and extracts the kernel,
// its config and modules.
func (Provider) Resolve(ctx context.Context, r *kit.Env, ref kit.Ref) (*kit.Kernel, error) {
	img0 := image(ref)
	arch := ref.Arch
	if arch == "" {
		arch = cpu.X86_64
	}
	goarch, _ := cpu.GOARCH(arch)
	variant := ""
	if goarch == "arm" {
		variant = "v7"
	}
	pinPath, err := r.Cache.Path("oci-index", kit.CacheKey(img0.String())+"_"+goarch+".json")
	if err != nil {
		return nil, err
	}
	// A tag is asked of the registry again once its pin is older than the
	// index TTL, as every provider's index is (always kept offline).
	var pin ociPin
	fresh := img0.Digest == "" && r.FreshIndex(pinPath, &pin, &pin.Fetched) && pin.Digest != ""
	client := &oci.Client{HTTP: r.Client}
	var img *oci.Image
	switch {
	case fresh:
	case r.Offline && img0.Digest == "":
		return nil, kit.OfflineMiss(ref.Raw, "")
	case r.Offline:
		pin.Digest = img0.Digest
	default:
		img, err = client.Resolve(ctx, img0, goarch, variant)
		if err != nil {
			if oci.IsNotFound(err) {
				return nil, kit.Inputf("kernel %s: %v", ref.Raw, err)
			}
			return nil, fmt.Errorf("kernel %s: %w", ref.Raw, err)
		}
		pin = ociPin{Digest: img.Digest, Index: img.Index, Fetched: time.Now().UTC()}
		if err := store.WriteJSON(pinPath, pin); err != nil {
			return nil, err
		}
	}
	hexDigest := strings.TrimPrefix(pin.Digest, "sha256:")
	dir, err := r.Cache.Path("oci", hexDigest)
	if err != nil {
		return nil, err
	}
	k, _, err := r.Unpacked(ref, dir, "oci-"+hexDigest, pin.Digest, "", func(tmp string) (kit.Manifest, []string, error) {
		m := kit.Manifest{Package: img0.Registry + "/" + img0.Repository, Version: pin.Digest, Mirror: img0.Registry}
		if img == nil || img.Digest != pin.Digest {
			var err error
			if img, err = client.Resolve(ctx, oci.Reference{Registry: img0.Registry, Repository: img0.Repository, Digest: pin.Digest}, goarch, variant); err != nil {
				return m, nil, err
			}
		}
		r.Logf("pulling %s (%s, %d layers)", img0, pin.Digest, len(img.Layers))
		var names []string
		for _, l := range img.Layers {
			got, err := applyLayer(ctx, r, client, img.Ref, l, tmp)
			if err != nil {
				return m, nil, err
			}
			names = append(names, got...)
		}
		return m, names, nil
	})
	if err != nil {
		return nil, err
	}
	pinned := img0
	pinned.Tag, pinned.Digest = "", pin.Digest
	k.Origin.URL = "oci:" + pinned.String()
	return k, nil
}

// applyLayer downloads one layer to a temporary file and extracts it.
func applyLayer(ctx context.Context, r *kit.Env, client *oci.Client, ref oci.Reference, l oci.Descriptor, root string) ([]string, error) {
	f, err := r.Cache.TempFile()
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := client.Blob(ctx, ref, l, maxLayer, f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var rd io.Reader = f
	switch mt := l.MediaType; {
	case strings.HasSuffix(mt, "+gzip"), strings.HasSuffix(mt, ".tar.gzip"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s layer %s: %w", ref, l.Digest, err)
		}
		rd = zr
	case strings.HasSuffix(mt, "+zstd"):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	case strings.HasSuffix(mt, ".tar"), strings.HasSuffix(mt, "layer.v1.tar"):
	default:
		return nil, fmt.Errorf("%s layer %s: media type %q is not a tar layer runmatrix reads", ref, l.Digest, mt)
	}
	names, err := unpack.Tar(rd, root, unpack.Options{Keep: kit.KernelFile, Whiteouts: true})
	if err != nil {
		return nil, fmt.Errorf("%s layer %s: %w", ref, l.Digest, err)
	}
	return names, nil
}
