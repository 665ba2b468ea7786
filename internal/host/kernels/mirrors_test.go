package kernels

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// mirrorCase is one provider's kernel on a local mirror in that
// provider's real layout, for the conformance suite.
type mirrorCase struct {
	name string
	// files are the mirror's files by path; forged are files signed by a
	// key the resolver does not trust (or, for a registry, a manifest
	// that is not what its digest says), served in their place to test
	// signatures.
	files, forged map[string][]byte
	// handler serves files itself when the layout needs more than files
	// (a registry); nil serves files.
	handler http.Handler
	// resolver is a resolver of the mirror at url, with an empty cache.
	resolver func(t *testing.T, url string) *Resolver
	// ref names the kernel, missing a release or arch the mirror lacks.
	ref, missing func(url string) string
	release      string
	// pkg says which files are the kernel's package.
	pkg func(p string) bool
}

// tampered serves a mirror's answers, changed by fix where it returns
// other bytes, or a 503 for everything when down.
type tampered struct {
	h    http.Handler
	mu   sync.Mutex
	fix  func(p string, b []byte) []byte
	down bool
}

func (m *tampered) set(fix func(p string, b []byte) []byte, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fix, m.down = fix, down
}

func (m *tampered) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	fix, down := m.fix, m.down
	m.mu.Unlock()
	if down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	b := rec.Body.Bytes()
	if fix != nil && rec.Code == http.StatusOK {
		b = fix(strings.TrimPrefix(r.URL.Path, "/"), b)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	w.Write(b)
}

func suffix(s ...string) func(string) bool {
	return func(p string) bool {
		for _, x := range s {
			if strings.HasSuffix(p, x) {
				return true
			}
		}
		return false
	}
}

// under returns files with their paths under prefix.
func under(prefix string, files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range files {
		out[prefix+p] = b
	}
	return out
}

// mirrorCases builds every provider's local mirror.
func mirrorCases(t *testing.T) []mirrorCase {
	rsaCfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}
	pgp := func(name string) *openpgp.Entity {
		k, err := openpgp.NewEntity(name, "", "k@example.invalid", rsaCfg)
		require.NoError(t, err)
		return k
	}
	stranger := pgp("stranger")
	var out []mirrorCase

	// debian: one suite, its index clearsigned in InRelease.
	{
		key := pgp("Debian test")
		debs := func(k *openpgp.Entity) map[string][]byte {
			rel := "6.1.0-9-amd64"
			m := map[string][]byte{}
			for _, suite := range []string{"bookworm", "stable"} {
				files, err := archivetest.AptSuite{Suite: suite, Codename: "bookworm", Arch: "amd64", Packages: []archivetest.AptPackage{
					{Name: "linux-image-" + rel + "-unsigned", Version: "6.1.99-1", Files: map[string][]byte{
						"boot/vmlinuz-" + rel:                 archivetest.Image(rel+" (debian-kernel@lists.debian.org) #1 SMP", cpu.X86_64),
						"boot/config-" + rel:                  []byte("CONFIG_NET=y\n"),
						"lib/modules/" + rel + "/modules.dep": nil,
					}}}}.Files(k)
				require.NoError(t, err)
				maps.Copy(m, under("debian/", files))
			}
			return m
		}
		out = append(out, mirrorCase{name: "debian", files: debs(key), forged: debs(stranger),
			resolver: func(t *testing.T, url string) *Resolver {
				return &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: Debian{Mirror: url + "/debian", SecurityMirror: url + "/debian-security",
					RetiredMirror: url + "/retired", Snapshot: url + "/snapshot", Keyring: openpgp.EntityList{key}}}
			},
			ref: func(string) string { return "debian:6.1" }, missing: func(string) string { return "debian:6.1/arm64" },
			release: "6.1.0-9-amd64", pkg: suffix(".deb")})
	}

	// ubuntu: a release pocket and a meta package naming the kernel.
	{
		key := pgp("Ubuntu test")
		suite := func(k *openpgp.Entity) map[string][]byte {
			rel := "5.15.0-91-generic"
			files, err := archivetest.AptSuite{Suite: "jammy", Codename: "jammy", Arch: "amd64", Packages: []archivetest.AptPackage{
				{Name: "linux-image-" + rel, Version: "5.15.0-91.101", Files: map[string][]byte{
					"boot/vmlinuz-" + rel:                 archivetest.Image(rel+" (buildd@lcy02-amd64-045) #101-Ubuntu SMP", cpu.X86_64),
					"lib/modules/" + rel + "/modules.dep": nil,
				}},
				{Name: "linux-image-generic", Version: "5.15.0.91.88", Depends: "linux-image-" + rel},
			}}.Files(k)
			require.NoError(t, err)
			return under("ubuntu/", files)
		}
		out = append(out, mirrorCase{name: "ubuntu", files: suite(key), forged: suite(stranger),
			resolver: func(t *testing.T, url string) *Resolver {
				return &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Keys: map[string]openpgp.EntityList{"ubuntu-archive": {key}},
					Mirrors: map[string]string{"ubuntu": url + "/ubuntu", "ubuntu-ports": url + "/ports", "ubuntu-old": url + "/old"}}
			},
			ref: func(string) string { return "ubuntu:22.04" }, missing: func(string) string { return "ubuntu:20.04" },
			release: "5.15.0-91-generic", pkg: suffix(".deb")})
	}

	// mainline: a tag folder whose CHECKSUMS are signed in CHECKSUMS.gpg.
	{
		key := pgp("Kernel PPA test")
		tag := func(k *openpgp.Entity) map[string][]byte {
			rel := "6.1.0-060100-generic"
			files, err := archivetest.MainlineTag{Tag: "v6.1", ABI: "6.1.0-060100", Stamp: "202212112330", PerArch: true,
				Image: map[string][]byte{
					"boot/vmlinuz-" + rel:                 archivetest.Image(rel+" (kernel@kathleen) #202212112330 SMP", cpu.X86_64),
					"lib/modules/" + rel + "/modules.dep": nil,
				}}.Files(k)
			require.NoError(t, err)
			m := under("mainline/", files)
			m["mainline/"] = archivetest.MainlineIndex("v6.1")
			return m
		}
		out = append(out, mirrorCase{name: "mainline", files: tag(key), forged: tag(stranger),
			resolver: func(t *testing.T, url string) *Resolver {
				return &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: Mainline{URL: url + "/mainline", Keyring: openpgp.EntityList{key}}}
			},
			ref: func(string) string { return "mainline:v6.1" }, missing: func(string) string { return "mainline:v6.1/arm64" },
			release: "6.1.0-060100-generic", pkg: suffix(".deb")})
	}

	// rocky: a yum repository whose repomd.xml is signed in repomd.xml.asc.
	{
		key := pgp("Rocky 8 test")
		repo := func(k *openpgp.Entity) map[string][]byte {
			rel := "4.18.0-372.9.1.el8.x86_64"
			files, err := archivetest.YumRepo{SignWith: k, Packages: []archivetest.RPM{{Name: "kernel-core", Version: "4.18.0", Release: "372.9.1.el8", Arch: "x86_64", Key: key,
				Files: map[string][]byte{
					"lib/modules/" + rel + "/vmlinuz":     archivetest.Image(rel+" (mockbuild@rocky) #1 SMP", cpu.X86_64),
					"lib/modules/" + rel + "/modules.dep": nil,
				}}}}.Files()
			require.NoError(t, err)
			return under("pub/rocky/8/BaseOS/x86_64/os/", files)
		}
		out = append(out, mirrorCase{name: "rocky", files: repo(key), forged: repo(stranger),
			resolver: func(t *testing.T, url string) *Resolver {
				return &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: map[string]string{"rocky": url}, Keys: map[string]openpgp.EntityList{"rocky-8": {key}}}
			},
			ref: func(string) string { return "rocky:8" }, missing: func(string) string { return "rocky:8/arm64" },
			release: "4.18.0-372.9.1.el8.x86_64", pkg: suffix(".rpm")})
	}

	// alpine: APKINDEX.tar.gz, signed in its first gzip member.
	{
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		const keyName = "alpine-devel@lists.alpinelinux.org-test.rsa.pub"
		repo := func(k *rsa.PrivateKey) map[string][]byte {
			rel := "6.1.55-0-lts"
			files, err := archivetest.APKRepo(k, keyName, archivetest.APK{Name: "linux-lts", Version: "6.1.55-r0", Arch: "x86_64", Files: map[string][]byte{
				"boot/vmlinuz-lts":                    archivetest.Image(rel+" (buildozer@build-3-18-x86_64) #1-Alpine SMP", cpu.X86_64),
				"lib/modules/" + rel + "/modules.dep": nil,
			}})
			require.NoError(t, err)
			return under("v3.18/main/x86_64/", files)
		}
		out = append(out, mirrorCase{name: "alpine", files: repo(key), forged: repo(other),
			resolver: func(t *testing.T, url string) *Resolver {
				return &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mirrors: map[string]string{"alpine": url}, AlpineKeys: map[string]*rsa.PublicKey{keyName: &key.PublicKey}}
			},
			ref: func(string) string { return "alpine:3.18" }, missing: func(string) string { return "alpine:3.18/arm64" },
			release: "6.1.55-0-lts", pkg: suffix(".apk")})
	}

	// oci: a registry; a manifest that is not what its digest says stands
	// for a bad signature.
	{
		reg := archivetest.NewRegistry()
		_, err := reg.Push("ci/kernels", "6.6", archivetest.OCIImage{Arch: "amd64", Files: map[string][]byte{
			"boot/vmlinuz":                       archivetest.Image("6.6.50 (ci@kernels) #1 SMP", cpu.X86_64),
			"usr/lib/modules/6.6.50/modules.dep": nil,
		}})
		require.NoError(t, err)
		host := func(url string) string { return strings.TrimPrefix(url, "http://") }
		out = append(out, mirrorCase{name: "oci", handler: reg,
			forged:   map[string][]byte{"/manifests/": nil}, // see forge
			resolver: func(t *testing.T, _ string) *Resolver { return &Resolver{Cache: store.Cache{Dir: t.TempDir()}} },
			ref:      func(url string) string { return "oci:" + host(url) + "/ci/kernels:6.6" },
			missing:  func(url string) string { return "oci:" + host(url) + "/ci/kernels:6.6/arm64" },
			release:  "6.6.50", pkg: func(p string) bool { return strings.Contains(p, "/blobs/") }})
	}

	// url: an image pinned by its digest; it has no signature.
	{
		img := archivetest.Image("6.6.0 (me@host) #1 SMP", cpu.X86_64)
		out = append(out, mirrorCase{name: "url", files: map[string][]byte{"bzImage": img},
			resolver: func(t *testing.T, _ string) *Resolver { return &Resolver{Cache: store.Cache{Dir: t.TempDir()}} },
			ref:      func(url string) string { return url + "/bzImage#sha256=" + archivetest.SHA256(img) },
			missing:  func(url string) string { return url + "/vmlinuz#sha256=" + archivetest.SHA256(img) },
			release:  "6.6.0", pkg: suffix("bzImage")})
	}
	return out
}

// forge is what a mirror case serves to test signatures: the forged
// file in place of the signed one.
func (mc mirrorCase) forge(p string, b []byte) []byte {
	if mc.name == "oci" {
		if strings.Contains(p, "/manifests/") {
			return append(bytes.Clone(b), ' ') // no longer what Docker-Content-Digest says
		}
		return b
	}
	if f, ok := mc.forged[p]; ok && !bytes.Equal(f, mc.files[p]) && !mc.pkg(p) {
		return f
	}
	return b
}

// TestProvidersAlikeOnMirrors holds every provider to the same answers
// over a local mirror in its real layout: a kernel resolved once is
// answered from the cache (online with the mirror down, and offline), a
// damaged cache entry is fetched again, and an index that its keys do
// not sign, a package that is not what the signed index says and a
// release or arch the mirror lacks are each refused in one line naming
// the reference, as a failure of the mirror (exit 1) or, for what the
// mirror lacks, of the reference (exit 2), leaving nothing in the cache
// that a later honest answer would not replace.
func TestProvidersAlikeOnMirrors(t *testing.T) {
	ctx := context.Background()
	for _, mc := range mirrorCases(t) {
		t.Run(mc.name, func(t *testing.T) {
			h := mc.handler
			if h == nil {
				h = &archivetest.Mirror{Files: mc.files}
			}
			srv := &tampered{h: h}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			ref := mc.ref(ts.URL)
			oneLine := func(t *testing.T, err error, ref string) {
				t.Logf("%v", err)
				require.Error(t, err)
				require.NotContains(t, err.Error(), "\n")
				require.True(t, strings.HasPrefix(err.Error(), "kernel "+ref), "names the reference first: %v", err)
			}

			r := mc.resolver(t, ts.URL)
			k, err := r.Resolve(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, mc.release, k.Image.Release)
			want := k.Origin.SHA256

			t.Run("cache hit with the mirror down", func(t *testing.T) {
				srv.set(nil, true)
				defer srv.set(nil, false)
				again, err := r.Resolve(ctx, ref)
				require.NoError(t, err)
				require.Equal(t, want, again.Origin.SHA256)
				off := *r
				off.Offline = true
				again, err = off.Resolve(ctx, ref)
				require.NoError(t, err, "offline")
				require.Equal(t, want, again.Origin.SHA256)
			})
			t.Run("damaged cache entry", func(t *testing.T) {
				b, err := os.ReadFile(k.Path)
				require.NoError(t, err)
				b[len(b)/2] ^= 0xff
				require.NoError(t, os.WriteFile(k.Path, b, 0o644))
				again, err := r.Resolve(ctx, ref)
				require.NoError(t, err)
				require.Equal(t, want, again.Origin.SHA256, "fetched again, not served damaged")
				got, err := store.FileSHA256(again.Path)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
			if mc.forged != nil {
				t.Run("index signed by a key the resolver lacks", func(t *testing.T) {
					srv.set(mc.forge, false)
					defer srv.set(nil, false)
					_, err := mc.resolver(t, ts.URL).Resolve(ctx, ref)
					oneLine(t, err, ref)
					require.Regexp(t, `(?i)signature|signed|digest`, err.Error())
					var ie *InputError
					require.False(t, errors.As(err, &ie), "the mirror's fault, not the reference's (exit 1): %v", err)
				})
			}
			t.Run("package that is not what the signed index says", func(t *testing.T) {
				srv.set(func(p string, b []byte) []byte {
					if !mc.pkg(p) {
						return b
					}
					c := bytes.Clone(b)
					c[len(c)-1] ^= 0xff
					return c
				}, false)
				fresh := mc.resolver(t, ts.URL)
				_, err := fresh.Resolve(ctx, ref)
				oneLine(t, err, ref)
				require.Regexp(t, `(?i)sha256|checksum|digest`, err.Error())
				var ie *InputError
				require.Equal(t, mc.name == "url", errors.As(err, &ie),
					"a URL's digest is the user's (exit 2); a mirror's index is the mirror's (exit 1): %v", err)
				srv.set(nil, false)
				again, err := fresh.Resolve(ctx, ref)
				require.NoError(t, err, "nothing of the bad package is left to poison the cache")
				require.Equal(t, want, again.Origin.SHA256)
			})
			t.Run("release or arch the mirror lacks", func(t *testing.T) {
				missing := mc.missing(ts.URL)
				_, err := mc.resolver(t, ts.URL).Resolve(ctx, missing)
				oneLine(t, err, missing)
				var ie *InputError
				require.True(t, errors.As(err, &ie), "the reference names what is not there (exit 2): %v", err)
			})
		})
	}
}

// TestMirrorsCoverEveryProvider: the suite above has a mirror for every
// provider in the list, so a provider added there is held to it.
func TestMirrorsCoverEveryProvider(t *testing.T) {
	have := map[Kind]bool{}
	for _, mc := range mirrorCases(t) {
		ref, err := ParseRef(mc.ref("http://127.0.0.1:1"))
		require.NoError(t, err, mc.name)
		have[ref.Kind] = true
	}
	for _, p := range providersOf(nil) {
		require.True(t, have[p.Kind()], "no mirror for the %s provider in TestProvidersAlikeOnMirrors", p.Kind())
	}
}
