package rpm

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/unpack"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func rsaKey(t *testing.T, name string) *openpgp.Entity {
	e, err := openpgp.NewEntity(name, "", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	require.NoError(t, err)
	return e
}

func write(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "p.rpm")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestVerify signs packages as rpm did before 4.14 (a version 3 RSA
// signature over header and payload, CentOS 6 and 7) and after (a
// version 4 header signature and a payload digest), and checks that each
// verifies with its key only, and not once a byte of it changed.
func TestVerify(t *testing.T) {
	key, other := rsaKey(t, "distro"), rsaKey(t, "someone else")
	files := map[string][]byte{"boot/vmlinuz-2.6.32-504.el6.x86_64": []byte("kernel"), "lib/modules/2.6.32-504.el6.x86_64/modules.dep": nil}
	for _, v3 := range []bool{true, false} {
		name := map[bool]string{true: "v3", false: "v4"}[v3]
		t.Run(name, func(t *testing.T) {
			b, err := archivetest.RPM{Name: "kernel", Version: "2.6.32", Release: "504.el6", Arch: "x86_64", Files: files, Key: key, V3: v3}.RPMFile()
			require.NoError(t, err)
			p, err := Open(write(t, b))
			require.NoError(t, err)
			defer p.Close()
			require.Equal(t, []string{"kernel", "2.6.32", "504.el6", "x86_64"}, []string{p.Name, p.Version, p.Release, p.Arch})
			id, err := p.Verify(openpgp.EntityList{key})
			require.NoError(t, err)
			require.Equal(t, key.PrimaryKey.KeyIdString(), strings.ToUpper(id))
			_, err = p.Verify(openpgp.EntityList{other})
			require.ErrorContains(t, err, "which is not the distribution's")
			names, err := p.Extract(t.TempDir(), unpack.Options{})
			require.NoError(t, err)
			require.Len(t, names, 2)

			// A changed byte in the payload's compressed stream.
			bad := append([]byte{}, b...)
			bad[len(bad)-10] ^= 0xff
			p2, err := Open(write(t, bad))
			require.NoError(t, err)
			defer p2.Close()
			_, err = p2.Verify(openpgp.EntityList{key})
			require.Error(t, err)

			_, err = Open(write(t, b[:200]))
			require.Error(t, err)
		})
	}
	t.Run("unsigned", func(t *testing.T) {
		b, err := archivetest.RPM{Name: "kernel", Version: "1", Release: "1", Arch: "x86_64", Files: files}.RPMFile()
		require.NoError(t, err)
		p, err := Open(write(t, b))
		require.NoError(t, err)
		defer p.Close()
		_, err = p.Verify(openpgp.EntityList{key})
		require.ErrorContains(t, err, "not signed")
	})
	t.Run("not an rpm", func(t *testing.T) {
		_, err := Open(write(t, []byte("hello")))
		require.ErrorContains(t, err, "not an RPM")
	})
}

// TestRepo reads a repository in createrepo's layout: a signed repomd.xml
// is verified, primary.xml is checked against it and packages against
// primary.xml.
func TestRepo(t *testing.T) {
	key := rsaKey(t, "distro")
	files, err := archivetest.YumRepo{SignWith: key, Packages: []archivetest.RPM{
		{Name: "kernel", Version: "2.6.32", Release: "504.el6", Arch: "x86_64", Files: map[string][]byte{"boot/vmlinuz-x": []byte("k")}, Key: key, V3: true},
		{Name: "bash", Version: "4.1", Release: "1.el6", Arch: "x86_64", Files: map[string][]byte{"bin/bash": []byte("b")}, Key: key, V3: true},
	}}.Files()
	require.NoError(t, err)
	srv := httptest.NewServer(&archivetest.Mirror{Files: files})
	defer srv.Close()
	repo := &Repo{URL: srv.URL + "/", Keys: openpgp.EntityList{key}}
	ctx := context.Background()
	pkgs, signed, err := repo.Packages(ctx, func(name, arch string) bool { return name == "kernel" })
	require.NoError(t, err)
	require.True(t, signed)
	require.Len(t, pkgs, 1)
	require.Equal(t, "2.6.32-504.el6", pkgs[0].VR())
	require.NoError(t, repo.Download(ctx, pkgs[0], scratch(t), 1<<20))

	t.Run("a package that is not what primary.xml says", func(t *testing.T) {
		good := files[pkgs[0].Location]
		defer func() { files[pkgs[0].Location] = good }()
		bad := append([]byte{}, good...)
		bad[len(bad)/2] ^= 1
		files[pkgs[0].Location] = bad
		require.ErrorContains(t, repo.Download(ctx, pkgs[0], scratch(t), 1<<20), "primary.xml says")
		files[pkgs[0].Location] = good[:len(good)/2]
		require.ErrorContains(t, repo.Download(ctx, pkgs[0], scratch(t), 1<<20), "unexpected EOF")
	})
	t.Run("a repomd.xml signed by another key", func(t *testing.T) {
		_, _, err := (&Repo{URL: repo.URL, Keys: openpgp.EntityList{rsaKey(t, "other")}}).Packages(ctx, func(string, string) bool { return true })
		require.ErrorContains(t, err, "signature does not verify")
	})
	t.Run("a primary.xml that is not what repomd.xml says", func(t *testing.T) {
		for p, b := range files {
			if strings.HasSuffix(p, "primary.xml.gz") {
				defer func() { files[p] = b }()
				files[p] = archivetest.Gzip([]byte("<metadata/>"))
			}
		}
		_, _, err := repo.Packages(ctx, func(string, string) bool { return true })
		require.ErrorContains(t, err, "repomd.xml says")
	})
	t.Run("no repository there", func(t *testing.T) {
		_, _, err := (&Repo{URL: srv.URL + "/nothing/"}).Packages(ctx, func(string, string) bool { return true })
		var nf *NotFoundError
		require.ErrorAs(t, err, &nf)
	})
}

// TestPrimaryEntriesAreChecked: a checksum names cache entries and a
// location a URL, so primary.xml entries with anything but a hex digest or a
// path inside the repository are refused.
func TestPrimaryEntriesAreChecked(t *testing.T) {
	entry := func(typ, sum, loc string) string {
		return `<metadata><package type="rpm"><name>kernel</name><arch>x86_64</arch><version epoch="0" ver="2.6.32" rel="754.el6"/>` +
			`<checksum type="` + typ + `" pkgid="YES">` + sum + `</checksum><location href="` + loc + `"/><size package="1"/></package></metadata>`
	}
	good := strings.Repeat("ab", 32)
	for _, tc := range []struct{ name, typ, sum, loc, want string }{
		{"good", "sha256", good, "Packages/kernel.rpm", ""},
		{"a path for a checksum", "sha256", "/../../../../tmp/x", "Packages/kernel.rpm", "not a lower-case hex digest"},
		{"a short digest", "sha256", "abcd", "Packages/kernel.rpm", "not a lower-case hex digest"},
		{"an unknown algorithm", "md5", strings.Repeat("ab", 16), "Packages/kernel.rpm", "not a lower-case hex digest"},
		{"a location outside", "sha256", good, "../../other/kernel.rpm", "not a path inside the repository"},
		{"an absolute location", "sha256", good, "/etc/passwd", "not a path inside the repository"},
		{"another host", "sha256", good, "http://evil.example/kernel.rpm", "not a path inside the repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := parsePrimary(strings.NewReader(entry(tc.typ, tc.sum, tc.loc)), func(string, string) bool { return true })
			if tc.want == "" {
				require.NoError(t, err)
				require.Len(t, pkgs, 1)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// scratch is a file to download into.
func scratch(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "pkg")
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}
