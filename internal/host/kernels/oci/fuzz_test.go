package oci

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzManifest(f *testing.F) {
	d := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+d+`","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"`+d+`","size":10}]}`), MediaManifest)
	f.Add([]byte(`{"manifests":[{"digest":"latest","platform":{"os":"linux","architecture":"amd64"}}]}`), MediaIndex)
	f.Fuzz(func(t *testing.T, b []byte, contentType string) {
		m, err := decodeManifest(b, contentType)
		if err != nil {
			return
		}
		for _, d := range append(m.Manifests, m.Layers...) {
			require.Regexp(t, digestRE, d.Digest)
			require.GreaterOrEqual(t, d.Size, int64(0))
		}
	})
}

func FuzzReference(f *testing.F) {
	for _, s := range []string{"ghcr.io/org/kernels:6.1", "localhost:5000/k@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "alpine"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseReference(s) })
}

// TestIndexChildMustBeADigest: an index (pinned by digest or not) whose
// child names a tag is refused, since the tag could change under it.
func TestIndexChildMustBeADigest(t *testing.T) {
	_, err := decodeManifest([]byte(`{"manifests":[{"digest":"latest","platform":{"os":"linux","architecture":"amd64"}}]}`), MediaIndex)
	require.ErrorContains(t, err, `descriptor digest "latest" is not a sha256 digest`)
}
