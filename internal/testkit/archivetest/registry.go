package archivetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// OCIImage is one platform's image for a test Registry: its files (by
// path, as in a layer) go into one gzip tar layer.
type OCIImage struct {
	Arch  string // GOARCH: "amd64", "arm64"
	Files map[string][]byte
}

// Registry serves images over the OCI distribution API (GET manifests
// and blobs, Docker-Content-Digest on manifests), and with Token set asks
// for an anonymous bearer token first, as ghcr.io and Docker Hub do.
// Tests may alter Blobs and Manifests to serve bad content.
type Registry struct {
	Token     bool
	mu        sync.Mutex
	Blobs     map[string][]byte            // digest → content
	Manifests map[string][]byte            // digest → manifest or index
	Tags      map[string]map[string]string // repository → tag → digest
	// Truncate serves only the first half of every blob.
	Truncate bool
	// Requests counts the requests served.
	Requests int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{Blobs: map[string][]byte{}, Manifests: map[string][]byte{}, Tags: map[string]map[string]string{}}
}

func (g *Registry) blob(b []byte) string {
	d := "sha256:" + SHA256(b)
	g.Blobs[d] = b
	return d
}

// Push stores images under repository:tag (an index when more than one)
// and returns the tag's digest.
func (g *Registry) Push(repository, tag string, imgs ...OCIImage) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var entries []map[string]any
	for _, img := range imgs {
		var t bytes.Buffer
		tw := tar.NewWriter(&t)
		var names []string
		for n := range img.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			b := img.Files[n]
			if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
				return "", err
			}
			if _, err := tw.Write(b); err != nil {
				return "", err
			}
		}
		if err := tw.Close(); err != nil {
			return "", err
		}
		layer := Gzip(t.Bytes())
		config, _ := json.Marshal(map[string]any{"architecture": img.Arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + SHA256(t.Bytes())}}})
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": g.blob(config), "size": len(config)},
			"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": g.blob(layer), "size": len(layer)}},
		})
		d := "sha256:" + SHA256(m)
		g.Manifests[d] = m
		entries = append(entries, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": len(m),
			"platform": map[string]any{"architecture": img.Arch, "os": "linux"}})
	}
	top := entries[0]["digest"].(string)
	if len(imgs) > 1 {
		idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
		top = "sha256:" + SHA256(idx)
		g.Manifests[top] = idx
	}
	if g.Tags[repository] == nil {
		g.Tags[repository] = map[string]string{}
	}
	g.Tags[repository][tag] = top
	return top, nil
}

const testToken = "anonymous-test-token"

func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.Requests++
	if r.URL.Path == "/token" {
		if !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:") {
			http.Error(w, "no scope", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": testToken})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if g.Token && r.Header.Get("Authorization") != "Bearer "+testToken {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test-registry",scope="repository:%s:pull"`, r.Host, strings.Split(rest, "/manifests/")[0]))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if i := strings.LastIndex(rest, "/manifests/"); i >= 0 {
		repo, ref := rest[:i], rest[i+len("/manifests/"):]
		d := ref
		if !strings.HasPrefix(ref, "sha256:") {
			d = g.Tags[repo][ref]
		}
		m, ok := g.Manifests[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		var mt struct {
			MediaType string `json:"mediaType"`
		}
		_ = json.Unmarshal(m, &mt)
		w.Header().Set("Content-Type", mt.MediaType)
		w.Header().Set("Docker-Content-Digest", d)
		w.Write(m)
		return
	}
	if i := strings.LastIndex(rest, "/blobs/"); i >= 0 {
		b, ok := g.Blobs[rest[i+len("/blobs/"):]]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		if g.Truncate {
			b = b[:len(b)/2]
		}
		w.Write(b)
		return
	}
	http.NotFound(w, r)
}
