package debian_test

import (
	"bytes"
	"context"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func TestDebianCatalog(t *testing.T) {
	f := archivetest.NewDebianArchive(t)
	f.Standard()
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: debianOf(f, false)}
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
		off := &kernels.Resolver{Cache: r.Cache, Debian: debianOf(f, true)}
		k, err := off.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		require.Equal(t, "6.1.0-10-amd64", k.Image.Release)
		_, err = (&kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: debianOf(f, true)}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "--offline forbids the network; run `runmatrix kernels fetch debian:6.1` first")
	})

	t.Run("a damaged cached image is fetched again", func(t *testing.T) {
		var log []string
		r := &kernels.Resolver{Cache: r.Cache, Debian: debianOf(f, false), Log: func(s string) { log = append(log, s) }}
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
		_, err = (&kernels.Resolver{Cache: r.Cache, Debian: debianOf(f, true)}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "is not in the cache (or is damaged there), and --offline forbids the network")
	})

	t.Run("what one keyring accepted is not reused under another", func(t *testing.T) {
		_, err := r.Resolve(ctx, "debian:6.1") // cached under the archive's key
		require.NoError(t, err)
		other, err := openpgp.NewEntity("another archive", "", "o@example.invalid", nil)
		require.NoError(t, err)
		d := debianOf(f, false)
		d.Keyring = openpgp.EntityList{other}
		_, err = (&kernels.Resolver{Cache: r.Cache, Debian: d}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "bad OpenPGP signature", "verified again under the run's keys, not taken from the cache")
		d.Offline = true
		_, err = (&kernels.Resolver{Cache: r.Cache, Debian: d}).Resolve(ctx, "debian:6.1")
		require.ErrorContains(t, err, "--offline forbids the network", "offline, nothing cached under these keys")
	})

	t.Run("a damaged modules tree or config is fetched again", func(t *testing.T) {
		var log []string
		r := &kernels.Resolver{Cache: r.Cache, Debian: debianOf(f, false), Log: func(s string) { log = append(log, s) }}
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
		g := archivetest.NewDebianArchive(t)
		g.Standard()
		g.Mu.Lock()
		for p := range g.Files {
			if strings.HasPrefix(p, "debian-security/") {
				delete(g.Files, p)
			}
		}
		g.Mu.Unlock()
		var log []string
		r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: debianOf(g, false), Log: func(s string) { log = append(log, s) }}
		k, err := r.Resolve(ctx, "debian:6.1")
		require.NoError(t, err)
		require.Equal(t, "6.1.0-9-amd64", k.Image.Release, "bookworm's own kernel")
		require.Contains(t, strings.Join(log, "\n"), "debian:6.1: "+g.URL("debian-security")+"/dists/bookworm-security is not on the mirror, so its kernels (security fixes) are not considered")
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
		setup   func(f *archivetest.DebianArchive)
		wantErr string
	}{
		{"signature by an unknown key", func(f *archivetest.DebianArchive) {
			other, err := openpgp.NewEntity("intruder", "", "x@example.invalid", nil)
			require.NoError(t, err)
			f.Key = other
			f.AddSuite("debian", "bookworm", "bookworm", "amd64", []archivetest.DebianPkg{{ABI: "6.1.0-11", Flavour: "amd64", Version: "6.1.101-1"}}, false)
		}, "bad OpenPGP signature"},
		{"tampered Release text", func(f *archivetest.DebianArchive) {
			f.Tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, "bookworm/InRelease") {
					return bytes.Replace(b, []byte("Codename: bookworm"), []byte("Codename: bookwork"), 1)
				}
				return b
			}
		}, "bad OpenPGP signature"},
		{"another suite's signed Release under this suite's name", func(f *archivetest.DebianArchive) {
			f.AddSuite("debian-security", "oldsec", "bullseye-security", "amd64", []archivetest.DebianPkg{{ABI: "6.1.0-1", Flavour: "amd64", Version: "6.1.1-1"}}, false)
			f.Mu.Lock()
			defer f.Mu.Unlock()
			for p, b := range f.Files {
				if rest, ok := strings.CutPrefix(p, "debian-security/dists/oldsec/"); ok {
					f.Files["debian-security/dists/bookworm-security/"+rest] = b
				}
			}
		}, `it is the Release of suite "oldsec" (codename "bullseye-security"), not of "bookworm-security"`},
		{"Packages index that does not match the Release", func(f *archivetest.DebianArchive) {
			f.Tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, "debian-security/dists/bookworm-security/main/binary-amd64/Packages.gz") {
					return b[:len(b)-1]
				}
				return b
			}
		}, "the mirror is probably mid-sync (tried 3 times); try again later, pin a suite that is whole (debian:SERIES@SUITE"},
		{"truncated package download", func(f *archivetest.DebianArchive) {
			f.Tamper = func(p string, b []byte) []byte {
				if strings.HasSuffix(p, ".deb") {
					return b[:len(b)/2]
				}
				return b
			}
		}, "the signed index says"},
		{"package that is not what the index says", func(f *archivetest.DebianArchive) {
			f.Tamper = func(p string, b []byte) []byte {
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
			f := archivetest.NewDebianArchive(t)
			f.Standard()
			tc.setup(f)
			r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: debianOf(f, false)}
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
	f := archivetest.NewDebianArchive(t)
	f.Standard()
	f.AddSuite("debian", "oldstable", "bullseye", "amd64", []archivetest.DebianPkg{{ABI: "5.10.0-30", Flavour: "amd64", Version: "5.10.220-1", Unsigned: true}}, false)
	f.AddSuite("debian", "bullseye", "bullseye", "amd64", []archivetest.DebianPkg{{ABI: "5.10.0-30", Flavour: "amd64", Version: "5.10.220-1", Unsigned: true}}, false)
	f.Tamper = func(p string, b []byte) []byte {
		if strings.HasSuffix(p, "bookworm-security/main/binary-amd64/Packages.gz") {
			return b[:len(b)-1]
		}
		return b
	}
	var log []string
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: debianOf(f, false), Log: func(s string) { log = append(log, s) }}
	k, err := r.Resolve(context.Background(), "debian:5.10")
	require.NoError(t, err)
	require.Equal(t, "5.10.0-30-amd64", k.Image.Release)
	require.Contains(t, strings.Join(log, "\n"), "bookworm-security/main/binary-amd64/Packages.gz: size")
	require.Contains(t, strings.Join(log, "\n"), "its Sources show it builds no 5.10 kernel")

	_, err = r.Resolve(context.Background(), "debian:6.1")
	require.ErrorContains(t, err, "mid-sync")
}

// debianOf is the Debian settings that read f.
func debianOf(f *archivetest.DebianArchive, offline bool) kernels.Debian {
	return kernels.Debian{Mirror: f.URL("debian"), SecurityMirror: f.URL("debian-security"), RetiredMirror: f.URL("retired/debian"),
		Keyring: openpgp.EntityList{f.Key}, Offline: offline}
}
