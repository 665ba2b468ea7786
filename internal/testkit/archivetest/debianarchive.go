package archivetest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/stretchr/testify/require"
)

// DebianArchive serves a Debian archive layout (dists/, pool/) signed with a
// key the test generates and trusts.
type DebianArchive struct {
	T   *testing.T
	Key *openpgp.Entity
	// Mu guards Files and Tamper.
	Mu    sync.Mutex
	Files map[string][]byte
	// Tamper, if set, may rewrite what a request gets.
	Tamper func(p string, b []byte) []byte
	Srv    *httptest.Server
}

// DebianPkg is a kernel image package AddSuite publishes.
type DebianPkg struct {
	ABI, Flavour, Version string
	Unsigned              bool
	// Split puts the image and the modules in linux-binary-* and
	// linux-modules-* packages that the image package depends on.
	Split bool
}

// Name is the package name.
func (p DebianPkg) Name() string {
	n := "linux-image-" + p.ABI + "-" + p.Flavour
	if p.Unsigned {
		n += "-unsigned"
	}
	return n
}

// NewDebianArchive serves an empty archive until the test ends.
func NewDebianArchive(t *testing.T) *DebianArchive {
	key, err := openpgp.NewEntity("runmatrix test archive", "", "test@example.invalid", nil)
	require.NoError(t, err)
	f := &DebianArchive{T: t, Key: key, Files: map[string][]byte{}}
	f.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Mu.Lock()
		b, ok := f.Files[strings.TrimPrefix(r.URL.Path, "/")]
		tamper := f.Tamper
		f.Mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if tamper != nil {
			b = tamper(strings.TrimPrefix(r.URL.Path, "/"), b)
		}
		w.Write(b)
	}))
	t.Cleanup(f.Srv.Close)
	return f
}

// URL is the address of the folder root.
func (f *DebianArchive) URL(root string) string { return f.Srv.URL + "/" + root }

// Put serves b at p.
func (f *DebianArchive) Put(p string, b []byte) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Files[p] = b
}

// DebianDeb is a kernel .deb of release for arch: the whole kernel (part
// ""), its image only ("image"), the split layout's binary ("binary") or
// modules ("modules").
func DebianDeb(t *testing.T, release, arch, part string) []byte {
	files := map[string][]byte{"./usr/share/doc/linux-image/changelog": []byte("not extracted")}
	switch part {
	case "":
		files["./boot/vmlinuz-"+release] = Image(release+" (test@example) #1 SMP", arch)
		files["./boot/config-"+release] = []byte("CONFIG_NET=y\n")
	case "image": // an image package whose modules come in another (mainline from 4.18)
		files["./boot/vmlinuz-"+release] = Image(release+" (test@example) #1 SMP", arch)
	case "binary": // the layout of Debian's split packages
		files["./usr/lib/modules/"+release+"/vmlinuz"] = Image(release+" (test@example) #1 SMP", arch)
	}
	if part == "" || part == "modules" {
		files["./usr/lib/modules/"+release+"/modules.dep"] = []byte("")
		files["./usr/lib/modules/"+release+"/modules.order"] = []byte("")
	}
	deb, err := Deb(files)
	require.NoError(t, err)
	return deb
}

// AddSuite publishes dists/SUITE under root with the packages for debArch;
// detached signs Release with Release.gpg (old layout) instead of InRelease.
func (f *DebianArchive) AddSuite(root, suite, codename, debArch string, pkgs []DebianPkg, detached bool) {
	t := f.T
	var packages, sources bytes.Buffer
	var binaries []string
	for _, p := range pkgs {
		arch := cpu.X86_64
		if p.Flavour == "686" {
			arch = cpu.I386
		}
		release := p.ABI + "-" + p.Flavour
		publish := func(name, part, depends string) {
			deb := DebianDeb(t, release, arch, part)
			file := fmt.Sprintf("pool/main/l/linux/%s_%s_%s.deb", name, p.Version, debArch)
			f.Put(root+"/"+file, deb)
			fmt.Fprintf(&packages, "Package: %s\nSource: linux (%s)\nVersion: %s\nArchitecture: %s\nDepends: %s\nFilename: %s\nSize: %d\nSHA256: %s\nDescription: Linux for tests\n\n",
				name, p.Version, p.Version, debArch, depends, file, len(deb), SHA256(deb))
			binaries = append(binaries, name)
		}
		if p.Split {
			publish("linux-binary-"+release, "binary", "linux-base")
			publish("linux-modules-"+release, "modules", "linux-base")
			publish(p.Name(), "none", fmt.Sprintf("initramfs-tools, linux-binary-%s (= %s), linux-modules-%s (= %s)", release, p.Version, release, p.Version))
			continue
		}
		publish(p.Name(), "", "linux-base")
	}
	fmt.Fprintf(&sources, "Package: linux\nBinary: linux-doc, %s\nVersion: 1\n\n", strings.Join(binaries, ", "))
	dist := root + "/dists/" + suite
	idx := map[string][]byte{
		"main/binary-" + debArch + "/Packages.gz": Gzip(packages.Bytes()),
		"main/source/Sources.gz":                  Gzip(sources.Bytes()),
	}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Debian\nSuite: %s\nCodename: %s\nDate: %s\nValid-Until: %s\nArchitectures: %s\nComponents: main\nSHA256:\n",
		suite, codename, time.Now().UTC().Format(time.RFC1123), time.Now().Add(7*24*time.Hour).UTC().Format(time.RFC1123), debArch)
	for name, b := range idx {
		f.Put(dist+"/"+name, b)
		fmt.Fprintf(&rel, " %s %d %s\n", SHA256(b), len(b), name)
	}
	if detached {
		var sig bytes.Buffer
		require.NoError(t, openpgp.ArmoredDetachSign(&sig, f.Key, bytes.NewReader(rel.Bytes()), nil))
		f.Put(dist+"/Release", rel.Bytes())
		f.Put(dist+"/Release.gpg", sig.Bytes())
		return
	}
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, f.Key.PrivateKey, nil)
	require.NoError(t, err)
	w.Write(rel.Bytes())
	require.NoError(t, w.Close())
	f.Put(dist+"/InRelease", in.Bytes())
}

// Standard publishes a small current archive: stable=bookworm with 6.1,
// a newer 6.1 in bookworm-security, unstable=sid with 6.12, and squeeze
// (2.6.32) on the archive of retired releases in the old detached layout.
func (f *DebianArchive) Standard() {
	for _, alias := range []string{"stable", "bookworm"} {
		f.AddSuite("debian", alias, "bookworm", "amd64", []DebianPkg{
			{ABI: "6.1.0-9", Flavour: "amd64", Version: "6.1.99-1", Unsigned: true},
			{ABI: "6.1.0-9", Flavour: "amd64", Version: "6.1.99-1"},
			{ABI: "6.1.0-9", Flavour: "cloud-amd64", Version: "6.1.99-1"},
		}, false)
	}
	f.AddSuite("debian-security", "bookworm-security", "bookworm", "amd64", []DebianPkg{
		{ABI: "6.1.0-10", Flavour: "amd64", Version: "6.1.100-1", Unsigned: true},
	}, false)
	for _, alias := range []string{"unstable", "sid"} {
		f.AddSuite("debian", alias, "sid", "amd64", []DebianPkg{{ABI: "6.12.9+deb14", Flavour: "amd64", Version: "6.12.9-1", Split: true}}, false)
	}
	f.AddSuite("retired/debian", "squeeze", "squeeze", "amd64", []DebianPkg{{ABI: "2.6.32-5", Flavour: "amd64", Version: "2.6.32-48squeeze6"}}, true)
}
