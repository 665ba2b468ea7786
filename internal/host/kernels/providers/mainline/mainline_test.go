package mainline_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit/kittest"
	"github.com/runmatrix/runmatrix/internal/host/kernels/providers/mainline"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// addMainlineTag publishes one tag folder of the Ubuntu mainline layout:
// flat (CHECKSUMS and the .debs at the top, as up to about 2020) or with
// one folder per arch (amd64/CHECKSUMS, amd64/*.deb); split puts the
// modules in their own linux-modules-* package (from about 4.18).
func addMainlineTag(f *archivetest.DebianArchive, tag, abi, stamp string, arches []string, perArch, split bool) {
	t := f.T
	var sha1, sha256 []string
	for _, debArch := range arches {
		arch := map[string]string{"amd64": cpu.X86_64, "i386": cpu.I386, "arm64": cpu.ARM64}[debArch]
		release := abi + "-generic"
		version := abi + "." + stamp
		dir := "mainline/" + tag + "/"
		if perArch {
			dir += debArch + "/"
			sha1, sha256 = nil, nil
		}
		publish := func(name string, deb []byte) {
			f.Put(dir+name, deb)
			sha1 = append(sha1, fmt.Sprintf("%040x  %s", len(deb), name))
			sha256 = append(sha256, fmt.Sprintf("%s  %s", archivetest.SHA256(deb), name))
		}
		publish(fmt.Sprintf("linux-headers-%s_%s_all.deb", abi, version), []byte("headers"))
		if split {
			publish(fmt.Sprintf("linux-image-unsigned-%s_%s_%s.deb", release, version, debArch), archivetest.DebianDeb(t, release, arch, "image"))
			publish(fmt.Sprintf("linux-modules-%s_%s_%s.deb", release, version, debArch), archivetest.DebianDeb(t, release, arch, "modules"))
		} else {
			publish(fmt.Sprintf("linux-image-%s_%s_%s.deb", release, version, debArch), archivetest.DebianDeb(t, release, arch, ""))
		}
		publish(fmt.Sprintf("linux-image-%s-lowlatency_%s_%s.deb", abi, version, debArch), []byte("not this flavour"))
		if perArch {
			signChecksums(f, dir, sha1, sha256)
		}
	}
	if !perArch {
		signChecksums(f, "mainline/"+tag+"/", sha1, sha256)
	}
}

func signChecksums(f *archivetest.DebianArchive, dir string, sha1, sha256 []string) {
	text := "# Checksums-Sha1:\n" + strings.Join(sha1, "\n") + "\n# Checksums-Sha256:\n" + strings.Join(sha256, "\n") + "\n"
	var sig bytes.Buffer
	require.NoError(f.T, openpgp.DetachSign(&sig, f.Key, strings.NewReader(text), nil))
	f.Put(dir+"CHECKSUMS", []byte(text))
	f.Put(dir+"CHECKSUMS.gpg", sig.Bytes())
}

// standardMainline publishes v3.6 (flat, amd64 and i386), v3.7-rc1, v3.7,
// v4.0, v4.19.10 (flat, split modules) and v6.1 (per-arch folders).
func standardMainline(f *archivetest.DebianArchive) {
	addMainlineTag(f, "v2.6.32.27", "2.6.32-02063227", "201012101116", []string{"amd64"}, false, false)
	addMainlineTag(f, "v3.6", "3.6.0-030600", "201209271536", []string{"amd64", "i386"}, false, false)
	addMainlineTag(f, "v3.7-rc1", "3.7.0-030700rc1", "201210141935", []string{"amd64"}, false, false)
	addMainlineTag(f, "v3.7", "3.7.0-030700", "201212102335", []string{"amd64"}, false, false)
	addMainlineTag(f, "v4.0", "4.0.0-040000", "201504121935", []string{"amd64"}, false, false)
	addMainlineTag(f, "v4.19.10", "4.19.10-041910", "201812170433", []string{"amd64"}, false, true)
	addMainlineTag(f, "v6.1", "6.1.0-060100", "202212112330", []string{"amd64", "arm64"}, true, true)
	var idx strings.Builder
	idx.WriteString(`<html><body><table><tr><td><a href="../">Parent</a></td></tr>`)
	for _, t := range []string{"daily/", "v2.6.32.27/", "v3.6/", "v3.7-rc1/", "v3.7/", "v4.0/", "v4.19.10/", "v6.1/", "v6.1/", "README"} {
		fmt.Fprintf(&idx, `<tr><td><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="%s">%s</a></td></tr>`+"\n", t, t)
	}
	idx.WriteString("</table></body></html>")
	f.Put("mainline/", []byte(idx.String()))
}

func mainlineOf(f *archivetest.DebianArchive, key *openpgp.Entity) mainline.Config {
	return mainline.Config{URL: f.URL("mainline"), Keyring: openpgp.EntityList{key}}
}

func TestMainline(t *testing.T) {
	f := archivetest.NewDebianArchive(t)
	standardMainline(f)
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: mainlineOf(f, f.Key)}
	ctx := context.Background()
	for _, tc := range []struct {
		ref, release, arch, pkg string
		modules                 bool
	}{
		{"mainline:v2.6.32.27", "2.6.32-02063227-generic", cpu.X86_64, "linux-image-2.6.32-02063227-generic", true},
		{"mainline:v3.6", "3.6.0-030600-generic", cpu.X86_64, "linux-image-3.6.0-030600-generic", true},
		{"mainline:3.6/i686", "3.6.0-030600-generic", cpu.I386, "linux-image-3.6.0-030600-generic", true},
		{"mainline:v3.7-rc1", "3.7.0-030700rc1-generic", cpu.X86_64, "linux-image-3.7.0-030700rc1-generic", true},
		{"mainline:v4.19.10", "4.19.10-041910-generic", cpu.X86_64, "linux-image-unsigned-4.19.10-041910-generic", true},
		{"mainline:v6.1", "6.1.0-060100-generic", cpu.X86_64, "linux-image-unsigned-6.1.0-060100-generic", true},
		{"mainline:v6.1/arm64", "6.1.0-060100-generic", cpu.ARM64, "linux-image-unsigned-6.1.0-060100-generic", true},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			k, err := r.Resolve(ctx, tc.ref)
			require.NoError(t, err)
			require.Equal(t, tc.release, k.Image.Release)
			require.Equal(t, tc.arch, k.Image.Arch)
			require.Equal(t, tc.pkg, k.Origin.Package)
			require.Equal(t, tc.modules, k.ModulesDir != "", "modules dir %q", k.ModulesDir)
			if k.ModulesDir != "" {
				require.FileExists(t, filepath.Join(k.ModulesDir, "modules.dep"))
			}
			require.Contains(t, k.Origin.URL, "/mainline/")
			if tc.arch == cpu.ARM64 {
				// Ubuntu's arm64 vmlinuz is an Image.gz: the Image inside is booted.
				require.Equal(t, "gzip", k.Image.Wrapped)
				img, err := bootimage.ReadImage(k.Path)
				require.NoError(t, err)
				require.Empty(t, img.Wrapped)
				require.Equal(t, cpu.ARM64, img.Arch)
			}
		})
	}

	t.Run("range", func(t *testing.T) {
		got, err := r.Expand(ctx, "mainline:v3.6..v4.0")
		require.NoError(t, err)
		require.Equal(t, []string{"mainline:v3.6", "mainline:v3.7", "mainline:v4.0"}, got)
		got, err = r.Expand(ctx, "mainline:v3.7-rc1..v3.7/i686")
		require.NoError(t, err)
		require.Equal(t, []string{"mainline:v3.7-rc1/i686", "mainline:v3.7/i686"}, got)
		got, err = r.Expand(ctx, "mainline:v6.0..v6.1/arm64")
		require.NoError(t, err)
		require.Equal(t, []string{"mainline:v6.1/arm64"}, got)
		_, err = r.Expand(ctx, "mainline:v5.0..v5.5")
		kittest.RequireInputError(t, err, "has no tag from v5.0 to v5.5")
		_, err = r.Resolve(ctx, "mainline:v3.6..v4.0")
		kittest.RequireInputError(t, err, "a range names many kernels")
	})

	t.Run("offline uses what was fetched", func(t *testing.T) {
		off := &kernels.Resolver{Cache: r.Cache, Mainline: r.Mainline, Offline: true}
		k, err := off.Resolve(ctx, "mainline:v3.6")
		require.NoError(t, err)
		require.Equal(t, "3.6.0-030600-generic", k.Image.Release)
		_, err = off.Resolve(ctx, "mainline:v3.7")
		require.ErrorContains(t, err, "runmatrix kernels fetch mainline:v3.7")
		got, err := off.Expand(ctx, "mainline:v3.6..v3.7")
		require.NoError(t, err)
		require.Len(t, got, 2)
	})
}

func TestMainlineRefusesBadBuilds(t *testing.T) {
	other, err := openpgp.NewEntity("someone else", "", "other@example.invalid", nil)
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		name, ref string
		setup     func(f *archivetest.DebianArchive, m *mainline.Config)
		want      string
		input     bool
	}{
		{name: "signature by another key", ref: "mainline:v3.6",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) { m.Keyring = openpgp.EntityList{other} },
			want:  "bad OpenPGP signature"},
		{name: "CHECKSUMS changed after signing", ref: "mainline:v6.1",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				f.Tamper = func(p string, b []byte) []byte {
					if strings.HasSuffix(p, "amd64/CHECKSUMS") {
						return append(b, []byte("0000000000000000000000000000000000000000000000000000000000000000  extra.deb\n")...)
					}
					return b
				}
			},
			want: "bad OpenPGP signature"},
		{name: "checksum mismatch", ref: "mainline:v4.19.10",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				f.Tamper = func(p string, b []byte) []byte {
					if strings.HasSuffix(p, ".deb") && strings.Contains(p, "linux-modules-") {
						b = append([]byte(nil), b...)
						b[len(b)-1] ^= 0xff
					}
					return b
				}
			},
			want: "the signed index says"},
		{name: "truncated download", ref: "mainline:v3.6",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				f.Tamper = func(p string, b []byte) []byte {
					if strings.HasSuffix(p, ".deb") {
						return b[:len(b)/2]
					}
					return b
				}
			},
			want: "sha256"},
		{name: "another tag's signed checksums", ref: "mainline:v4.19.10",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				f.Mu.Lock()
				defer f.Mu.Unlock()
				for p, b := range f.Files { // v3.6's flat layout, served under v4.19.10
					if rest, ok := strings.CutPrefix(p, "mainline/v3.6/"); ok && strings.HasPrefix(rest, "CHECKSUMS") {
						f.Files["mainline/v4.19.10/"+rest] = b
						delete(f.Files, "mainline/v4.19.10/amd64/"+rest)
					}
				}
			},
			want: "lists images of 3.6.0-030600, not of v4.19.10: the mirror serves another tag's signed checksums"},
		{name: "no such tag", ref: "mainline:v9.9", want: "has no such tag", input: true},
		{name: "a tag without signed checksums", ref: "mainline:v2.6.38",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				f.Put("mainline/v2.6.38/", []byte(`<a href="linux-image-2.6.38-020638-generic_2.6.38-020638.201103151303_amd64.deb">`))
				f.Put("mainline/v2.6.38/linux-image-2.6.38-020638-generic_2.6.38-020638.201103151303_amd64.deb", []byte("unverifiable"))
			},
			want: "has no CHECKSUMS for amd64", input: true},
		{name: "no build for the arch", ref: "mainline:v4.0/i686", want: "lists no linux-image-…-generic .deb for i386", input: true},
		{name: "no keyring and no key server", ref: "mainline:v3.6",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				m.Keyring, m.KeyServer = nil, "http://127.0.0.1:1"
			},
			want: "and pass --mainline-keyring kernel-ppa.gpg"},
		{name: "keyring file that is no keyring", ref: "mainline:v3.6",
			setup: func(f *archivetest.DebianArchive, m *mainline.Config) {
				m.Keyring = nil
				m.KeyringFile = filepath.Join(f.T.TempDir(), "k.gpg")
				require.NoError(f.T, os.WriteFile(m.KeyringFile, []byte("hello"), 0o644))
			},
			want: "not an OpenPGP keyring", input: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := archivetest.NewDebianArchive(t)
			standardMainline(f)
			m := mainlineOf(f, f.Key)
			if tc.setup != nil {
				tc.setup(f, &m)
			}
			r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: m}
			_, err := r.Resolve(ctx, tc.ref)
			if tc.input {
				kittest.RequireInputError(t, err, tc.want)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestCompareTags(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"v3.6", "v3.6", 0},
		{"v3.6-rc7", "v3.6", -1},
		{"v3.6", "v3.6.1", -1},
		{"v3.6.11", "v3.7-rc1", -1},
		{"v3.10", "v3.9", 1},
		{"v4.19.10", "v4.19.9", 1},
		{"v5.0-rc10", "v5.0-rc9", 1},
		{"v2.6.32.27", "v2.6.32", 1},
		{"v2.6.32.27", "v2.6.33-rc1", -1},
		{"v3.13.11-ckt39", "v3.13.11", 1},
		{"v3.13.11-ckt39", "v3.13.11-ckt4", 1},
		{"v3.13.11-ckt39", "v3.14-rc1", -1},
	} {
		require.Equal(t, tc.want, mainline.CompareTags(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
	}
}

// TestMainlineKeyFromKeyServer: with no keyring given, the key with the
// pinned fingerprint comes from the key server, once; whatever else the
// server sends is not trusted.
func TestMainlineKeyFromKeyServer(t *testing.T) {
	ctx := context.Background()
	other, err := openpgp.NewEntity("someone else", "", "other@example.invalid", nil)
	require.NoError(t, err)
	armored := func(es ...*openpgp.Entity) []byte {
		var b bytes.Buffer
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		require.NoError(t, err)
		for _, e := range es {
			require.NoError(t, e.Serialize(w))
		}
		require.NoError(t, w.Close())
		return b.Bytes()
	}
	f := archivetest.NewDebianArchive(t)
	standardMainline(f)
	fpr := hex.EncodeToString(f.Key.PrimaryKey.Fingerprint)
	pinnedTo := func(server string) mainline.Config {
		return mainline.Config{URL: f.URL("mainline"), KeyFingerprint: fpr, KeyServer: server}
	}

	// The server sends the right key among others: only it is kept.
	f.Put("ks/pks/lookup", armored(other, f.Key))
	cache := store.Cache{Dir: t.TempDir()}
	k, err := (&kernels.Resolver{Cache: cache, Mainline: pinnedTo(f.URL("ks"))}).Resolve(ctx, "mainline:v3.6")
	require.NoError(t, err)
	require.Equal(t, "3.6.0-030600-generic", k.Image.Release)
	// Cached: the key server is not asked again.
	_, err = (&kernels.Resolver{Cache: cache, Mainline: pinnedTo("http://127.0.0.1:1")}).Resolve(ctx, "mainline:v3.7")
	require.NoError(t, err)

	t.Run("a server that sends another key", func(t *testing.T) {
		f.Put("bad/pks/lookup", armored(other))
		_, err := (&kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: pinnedTo(f.URL("bad"))}).Resolve(ctx, "mainline:v3.6")
		require.ErrorContains(t, err, "sent no key with fingerprint "+strings.ToUpper(fpr))
		require.NotContains(t, err.Error(), "\n")
	})
	t.Run("builds signed by another key the server also sent", func(t *testing.T) {
		g := archivetest.NewDebianArchive(t)
		g.Key = other
		standardMainline(g)
		g.Put("ks/pks/lookup", armored(f.Key, other))
		m := mainline.Config{URL: g.URL("mainline"), KeyFingerprint: fpr, KeyServer: g.URL("ks")}
		_, err := (&kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: m}).Resolve(ctx, "mainline:v3.6")
		require.ErrorContains(t, err, "bad OpenPGP signature")
	})
	t.Run("offline without the key cached", func(t *testing.T) {
		r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Mainline: pinnedTo(f.URL("ks")), Offline: true}
		_, err := r.Resolve(ctx, "mainline:v3.6")
		require.ErrorContains(t, err, "--offline")
	})
}
