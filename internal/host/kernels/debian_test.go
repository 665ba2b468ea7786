package kernels

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// fakeArchive serves a Debian archive layout (dists/, pool/) signed with a
// key the test generates and trusts.
type fakeArchive struct {
	t     *testing.T
	key   *openpgp.Entity
	mu    sync.Mutex
	files map[string][]byte
	// tamper, if set, may rewrite what a request gets.
	tamper func(p string, b []byte) []byte
	srv    *httptest.Server
}

type fakePkg struct {
	abi, flavour, version string
	unsigned              bool
	// split puts the image and the modules in linux-binary-* and
	// linux-modules-* packages that the image package depends on.
	split bool
}

func (p fakePkg) name() string {
	n := "linux-image-" + p.abi + "-" + p.flavour
	if p.unsigned {
		n += "-unsigned"
	}
	return n
}

func newFakeArchive(t *testing.T) *fakeArchive {
	key, err := openpgp.NewEntity("runmatrix test archive", "", "test@example.invalid", nil)
	require.NoError(t, err)
	f := &fakeArchive{t: t, key: key, files: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		b, ok := f.files[strings.TrimPrefix(r.URL.Path, "/")]
		tamper := f.tamper
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if tamper != nil {
			b = tamper(strings.TrimPrefix(r.URL.Path, "/"), b)
		}
		w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeArchive) url(root string) string { return f.srv.URL + "/" + root }

func (f *fakeArchive) put(p string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[p] = b
}

func gz(b []byte) []byte { return archivetest.Gzip(b) }

func fakeDeb(t *testing.T, release, arch, part string) []byte {
	files := map[string][]byte{"./usr/share/doc/linux-image/changelog": []byte("not extracted")}
	switch part {
	case "":
		files["./boot/vmlinuz-"+release] = archivetest.Image(release+" (test@example) #1 SMP", arch)
		files["./boot/config-"+release] = []byte("CONFIG_NET=y\n")
	case "image": // an image package whose modules come in another (mainline from 4.18)
		files["./boot/vmlinuz-"+release] = archivetest.Image(release+" (test@example) #1 SMP", arch)
	case "binary": // the layout of Debian's split packages
		files["./usr/lib/modules/"+release+"/vmlinuz"] = archivetest.Image(release+" (test@example) #1 SMP", arch)
	}
	if part == "" || part == "modules" {
		files["./usr/lib/modules/"+release+"/modules.dep"] = []byte("")
		files["./usr/lib/modules/"+release+"/modules.order"] = []byte("")
	}
	deb, err := archivetest.Deb(files)
	require.NoError(t, err)
	return deb
}

func sum(b []byte) string { return archivetest.SHA256(b) }

// addSuite publishes dists/SUITE under root with the packages for debArch;
// detached signs Release with Release.gpg (old layout) instead of InRelease.
func (f *fakeArchive) addSuite(root, suite, codename, debArch string, pkgs []fakePkg, detached bool) {
	t := f.t
	var packages, sources bytes.Buffer
	var binaries []string
	for _, p := range pkgs {
		arch := cpu.X86_64
		if p.flavour == "686" {
			arch = cpu.I386
		}
		release := p.abi + "-" + p.flavour
		publish := func(name, part, depends string) {
			deb := fakeDeb(t, release, arch, part)
			file := fmt.Sprintf("pool/main/l/linux/%s_%s_%s.deb", name, p.version, debArch)
			f.put(root+"/"+file, deb)
			fmt.Fprintf(&packages, "Package: %s\nSource: linux (%s)\nVersion: %s\nArchitecture: %s\nDepends: %s\nFilename: %s\nSize: %d\nSHA256: %s\nDescription: Linux for tests\n\n",
				name, p.version, p.version, debArch, depends, file, len(deb), sum(deb))
			binaries = append(binaries, name)
		}
		if p.split {
			publish("linux-binary-"+release, "binary", "linux-base")
			publish("linux-modules-"+release, "modules", "linux-base")
			publish(p.name(), "none", fmt.Sprintf("initramfs-tools, linux-binary-%s (= %s), linux-modules-%s (= %s)", release, p.version, release, p.version))
			continue
		}
		publish(p.name(), "", "linux-base")
	}
	fmt.Fprintf(&sources, "Package: linux\nBinary: linux-doc, %s\nVersion: 1\n\n", strings.Join(binaries, ", "))
	dist := root + "/dists/" + suite
	idx := map[string][]byte{
		"main/binary-" + debArch + "/Packages.gz": gz(packages.Bytes()),
		"main/source/Sources.gz":                  gz(sources.Bytes()),
	}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Debian\nSuite: %s\nCodename: %s\nDate: %s\nValid-Until: %s\nArchitectures: %s\nComponents: main\nSHA256:\n",
		suite, codename, time.Now().UTC().Format(time.RFC1123), time.Now().Add(7*24*time.Hour).UTC().Format(time.RFC1123), debArch)
	for name, b := range idx {
		f.put(dist+"/"+name, b)
		fmt.Fprintf(&rel, " %s %d %s\n", sum(b), len(b), name)
	}
	if detached {
		var sig bytes.Buffer
		require.NoError(t, openpgp.ArmoredDetachSign(&sig, f.key, bytes.NewReader(rel.Bytes()), nil))
		f.put(dist+"/Release", rel.Bytes())
		f.put(dist+"/Release.gpg", sig.Bytes())
		return
	}
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, f.key.PrivateKey, nil)
	require.NoError(t, err)
	w.Write(rel.Bytes())
	require.NoError(t, w.Close())
	f.put(dist+"/InRelease", in.Bytes())
}

func (f *fakeArchive) debian(offline bool) Debian {
	return Debian{Mirror: f.url("debian"), SecurityMirror: f.url("debian-security"), RetiredMirror: f.url("retired/debian"),
		Keyring: openpgp.EntityList{f.key}, Offline: offline}
}

// standard publishes a small current archive: stable=bookworm with 6.1,
// a newer 6.1 in bookworm-security, unstable=sid with 6.12, and squeeze
// (2.6.32) on the archive of retired releases in the old detached layout.
func (f *fakeArchive) standard() {
	for _, alias := range []string{"stable", "bookworm"} {
		f.addSuite("debian", alias, "bookworm", "amd64", []fakePkg{
			{abi: "6.1.0-9", flavour: "amd64", version: "6.1.99-1", unsigned: true},
			{abi: "6.1.0-9", flavour: "amd64", version: "6.1.99-1"},
			{abi: "6.1.0-9", flavour: "cloud-amd64", version: "6.1.99-1"},
		}, false)
	}
	f.addSuite("debian-security", "bookworm-security", "bookworm", "amd64", []fakePkg{
		{abi: "6.1.0-10", flavour: "amd64", version: "6.1.100-1", unsigned: true},
	}, false)
	for _, alias := range []string{"unstable", "sid"} {
		f.addSuite("debian", alias, "sid", "amd64", []fakePkg{{abi: "6.12.9+deb14", flavour: "amd64", version: "6.12.9-1", split: true}}, false)
	}
	f.addSuite("retired/debian", "squeeze", "squeeze", "amd64", []fakePkg{{abi: "2.6.32-5", flavour: "amd64", version: "2.6.32-48squeeze6"}}, true)
}

func TestDebianCatalog(t *testing.T) {
	f := newFakeArchive(t)
	f.standard()
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: f.debian(false)}
	ctx := context.Background()
	for _, tc := range []struct {
		ref, release, pkg, suite string
	}{
		{"debian:6.1", "6.1.0-10-amd64", "linux-image-6.1.0-10-amd64-unsigned", "bookworm-security"},
		{"debian:bookworm", "6.1.0-10-amd64", "linux-image-6.1.0-10-amd64-unsigned", "bookworm-security"},
		{"debian:stable", "6.1.0-10-amd64", "linux-image-6.1.0-10-amd64-unsigned", "bookworm-security"},
		{"debian:6.1.0-9", "6.1.0-9-amd64", "linux-image-6.1.0-9-amd64-unsigned", "bookworm"},
		{"debian:6.1.0-9@bookworm", "6.1.0-9-amd64", "linux-image-6.1.0-9-amd64-unsigned", "bookworm"},
		{"debian:6.12", "6.12.9+deb14-amd64", "linux-image-6.12.9+deb14-amd64", "sid"},
		{"debian:sid", "6.12.9+deb14-amd64", "linux-image-6.12.9+deb14-amd64", "sid"},
		{"debian:2.6.32-5", "2.6.32-5-amd64", "linux-image-2.6.32-5-amd64", "squeeze"},
		{"debian:squeeze", "2.6.32-5-amd64", "linux-image-2.6.32-5-amd64", "squeeze"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.pkg, k.Origin.Package)
			require.Equal(t, tc.suite, k.Origin.Suite)
			require.FileExists(t, path.Join(k.ModulesDir, "modules.dep"))
			require.NoFileExists(t, path.Join(path.Dir(path.Dir(k.ModulesDir)), "usr/share/doc/linux-image/changelog"))
		})
	}

	t.Run("offline uses the cache and names what is missing", func(t *testing.T) {
		off := &Resolver{Cache: r.Cache, Debian: f.debian(true)}
		k, err := off.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		require.Equal(t, "6.1.0-10-amd64", k.Image.Release)
		_, err = (&Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: f.debian(true)}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "--offline forbids the network; run `runmatrix kernels fetch debian:6.1` first")
	})

	t.Run("a damaged cached image is fetched again", func(t *testing.T) {
		var log []string
		r := &Resolver{Cache: r.Cache, Debian: f.debian(false), Log: func(s string) { log = append(log, s) }}
		k, err := r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		good := k.Origin.SHA256
		b, err := os.ReadFile(k.Path)
		require.NoError(t, err)
		b[len(b)-20] ^= 0xff
		require.NoError(t, os.WriteFile(k.Path, b, 0o644))
		k, err = r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		require.Equal(t, good, k.Origin.SHA256)
		require.Contains(t, strings.Join(log, "\n"), "is damaged (sha256 ")
		// Offline, a damaged image cannot be mended: it is refused in one line.
		b[len(b)-20] ^= 0xff
		b[len(b)-21] ^= 0xff
		require.NoError(t, os.WriteFile(k.Path, b, 0o644))
		_, err = (&Resolver{Cache: r.Cache, Debian: f.debian(true)}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "is not in the cache (or is damaged there), and --offline forbids the network")
	})

	t.Run("what one keyring accepted is not reused under another", func(t *testing.T) {
		_, err := r.Resolve(ctx, "debian:6.1") // cached under the archive's key
		require.NoError(t, err)
		other, err := openpgp.NewEntity("another archive", "", "o@example.invalid", nil)
		require.NoError(t, err)
		d := f.debian(false)
		d.Keyring = openpgp.EntityList{other}
		_, err = (&Resolver{Cache: r.Cache, Debian: d}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "bad OpenPGP signature", "verified again under the run's keys, not taken from the cache")
		d.Offline = true
		_, err = (&Resolver{Cache: r.Cache, Debian: d}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "--offline forbids the network", "offline, nothing cached under these keys")
	})

	t.Run("a damaged modules tree or config is fetched again", func(t *testing.T) {
		var log []string
		r := &Resolver{Cache: r.Cache, Debian: f.debian(false), Log: func(s string) { log = append(log, s) }}
		k, err := r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		dep := path.Join(k.ModulesDir, "modules.dep")
		good, err := os.ReadFile(dep)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dep, append(good, "x"...), 0o644))
		k, err = r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		got, err := os.ReadFile(path.Join(k.ModulesDir, "modules.dep"))
		require.NoError(t, err)
		require.Equal(t, good, got)
		require.Contains(t, strings.Join(log, "\n"), "modules.dep: ")
		if k.Config != "" {
			require.NoError(t, os.WriteFile(k.Config, []byte("CONFIG_X=y\n"), 0o644))
			log = nil
			_, err = r.Resolve(ctx, "debian:6.1")
			require.NoError(t, err)
			require.Contains(t, strings.Join(log, "\n"), "is damaged")
		}
	})

	t.Run("unknown series is one line naming the archives", func(t *testing.T) {
		_, err := r.Resolve(ctx, "debian:9.99")
		require.ErrorContains(t, err, "no Debian archive")
		require.NotContains(t, err.Error(), "\n")
		require.NotContains(t, err.Error(), "apt-get")
	})

	t.Run("a missing security pocket is said, not passed over silently", func(t *testing.T) {
		g := newFakeArchive(t)
		g.standard()
		g.mu.Lock()
		for p := range g.files {
			if strings.HasPrefix(p, "debian-security/") {
				delete(g.files, p)
			}
		}
		g.mu.Unlock()
		var log []string
		r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: g.debian(false), Log: func(s string) { log = append(log, s) }}
		k, err := r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		require.Equal(t, "6.1.0-9-amd64", k.Image.Release, "bookworm's own kernel")
		require.Contains(t, strings.Join(log, "\n"), "debian:6.1: "+g.url("debian-security")+"/dists/bookworm-security is not on the mirror, so its kernels (security fixes) are not considered")
	})

	t.Run("missing suite", func(t *testing.T) {
		_, err := r.Resolve(ctx, "debian:testing")
		require.ErrorContains(t, err, "has no suite testing")
	})
}

func TestDebianCatalogRefusesBadArchives(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		setup   func(f *fakeArchive)
		wantErr string
	}{
		{"signature by an unknown key", func(f *fakeArchive) {
			other, err := openpgp.NewEntity("intruder", "", "x@example.invalid", nil)
			require.NoError(t, err)
			f.key = other
			f.addSuite("debian", "bookworm", "bookworm", "amd64", []fakePkg{{abi: "6.1.0-11", flavour: "amd64", version: "6.1.101-1"}}, false)
		}, "bad OpenPGP signature"},
		{"tampered Release text", func(f *fakeArchive) {
			f.tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, "bookworm/InRelease") {
					return bytes.Replace(b, []byte("Codename: bookworm"), []byte("Codename: bookwork"), 1)
				}
				return b
			}
		}, "bad OpenPGP signature"},
		{"another suite's signed Release under this suite's name", func(f *fakeArchive) {
			f.addSuite("debian-security", "oldsec", "bullseye-security", "amd64", []fakePkg{{abi: "6.1.0-1", flavour: "amd64", version: "6.1.1-1"}}, false)
			f.mu.Lock()
			defer f.mu.Unlock()
			for p, b := range f.files {
				if rest, ok := strings.CutPrefix(p, "debian-security/dists/oldsec/"); ok {
					f.files["debian-security/dists/bookworm-security/"+rest] = b
				}
			}
		}, `it is the Release of suite "oldsec" (codename "bullseye-security"), not of "bookworm-security"`},
		{"Packages index that does not match the Release", func(f *fakeArchive) {
			f.tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, "debian-security/dists/bookworm-security/main/binary-amd64/Packages.gz") {
					return b[:len(b)-1]
				}
				return b
			}
		}, "the mirror is probably mid-sync (tried 3 times); try again later, pin a suite that is whole (debian:SERIES@SUITE"},
		{"truncated package download", func(f *fakeArchive) {
			f.tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, ".deb") {
					return b[:len(b)/2]
				}
				return b
			}
		}, "the signed index says"},
		{"package that is not what the index says", func(f *fakeArchive) {
			f.tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, ".deb") {
					c := bytes.Clone(b)
					c[len(c)-1] ^= 0xff
					return c
				}
				return b
			}
		}, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeArchive(t)
			f.standard()
			tc.setup(f)
			r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: f.debian(false)}
			_, err := r.Resolve(ctx, "debian:6.1")
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), "\n")
			require.True(t, strings.HasPrefix(err.Error(), "kernel debian:6.1: "), err.Error())
		})
	}
}

// TestDebianCatalogMidSync: an inconsistent index in a suite whose Sources
// build no kernel of the wanted series is passed over (with a line that
// says so); one that may hold it stops the lookup.
func TestDebianCatalogMidSync(t *testing.T) {
	f := newFakeArchive(t)
	f.standard()
	f.addSuite("debian", "oldstable", "bullseye", "amd64", []fakePkg{{abi: "5.10.0-30", flavour: "amd64", version: "5.10.220-1", unsigned: true}}, false)
	f.addSuite("debian", "bullseye", "bullseye", "amd64", []fakePkg{{abi: "5.10.0-30", flavour: "amd64", version: "5.10.220-1", unsigned: true}}, false)
	f.tamper = func(p string, b []byte) []byte {
		if strings.HasSuffix(p, "bookworm-security/main/binary-amd64/Packages.gz") {
			return b[:len(b)-1]
		}
		return b
	}
	var log []string
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: f.debian(false), Log: func(s string) { log = append(log, s) }}
	k, err := r.Resolve(context.Background(), "debian:5.10")
	require.NoError(t, err)
	require.Equal(t, "5.10.0-30-amd64", k.Image.Release)
	require.Contains(t, strings.Join(log, "\n"), "bookworm-security/main/binary-amd64/Packages.gz: size")
	require.Contains(t, strings.Join(log, "\n"), "its Sources show it builds no 5.10 kernel")

	_, err = r.Resolve(context.Background(), "debian:6.1")
	require.ErrorContains(t, err, "mid-sync")
}

// TestURLCacheVerified: a cached download is checked on every use and
// downloaded again when it no longer matches the reference's digest.
func TestURLCacheVerified(t *testing.T) {
	img := archivetest.Image("6.1.0-1-amd64 (test) #1", cpu.X86_64)
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gets++; w.Write(img) }))
	defer srv.Close()
	ref := srv.URL + "/bzImage#sha256=" + sum(img)
	r := &Resolver{Cache: store.Cache{Dir: t.TempDir()}}
	k, err := r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	_, err = r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	require.Equal(t, 1, gets, "a good cached copy is reused")
	require.NoError(t, os.WriteFile(k.Path, append(img[:len(img)-1:len(img)-1], 0x42), 0o644))
	k, err = r.Resolve(context.Background(), ref)
	require.NoError(t, err)
	require.Equal(t, 2, gets, "a damaged copy is downloaded again")
	require.Equal(t, sum(img), k.Origin.SHA256)
}

// TestDebianImageFlavours: the image package of every architecture's
// Debian flavour is recognised.
func TestDebianImageFlavours(t *testing.T) {
	for _, a := range cpu.All() {
		flav, _ := cpu.Debian(a)
		require.True(t, imagePackage.MatchString("linux-image-6.12.118+deb13-"+flav), flav)
	}
}
