package debian_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/kit/kittest"
	"github.com/runmatrix/runmatrix/internal/host/store"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

// addSnapshot publishes, under snapshot/, the snapshot archive's API
// answers for one image package and the archive as it was at stamp, where
// the package's suite is squeeze (stable then).
func addSnapshot(f *archivetest.DebianArchive, abi, version, stamp string) {
	name := "linux-image-" + abi + "-amd64"
	f.Put("snapshot/mr/binary/"+name+"/", []byte(fmt.Sprintf(
		`{"_comment":"foo","binary":"%s","result":[{"binary_version":"2.6.32-1","name":"%s","source":"linux-2.6","version":"2.6.32-1"},{"binary_version":"%s","name":"%s","source":"linux-2.6","version":"%s"}]}`,
		name, name, version, name, version)))
	f.Put("snapshot/mr/binary/"+name+"/"+version+"/binfiles", []byte(fmt.Sprintf(
		`{"binary":"%s","binary_version":"%s","result":[{"architecture":"i386","hash":"aaaa"},{"architecture":"amd64","hash":"bbbb"}],`+
			`"fileinfo":{"bbbb":[{"archive_name":"debian-backports","first_seen":"20110101T000000Z","name":"x.deb","path":"/pool/main/l/linux-2.6","size":1},`+
			`{"archive_name":"debian","first_seen":"%s","name":"%s_%s_amd64.deb","path":"/pool/main/l/linux-2.6","size":1}]}}`,
		name, version, stamp, name, version)))
	root := "snapshot/archive/debian/" + stamp
	for _, alias := range []string{"stable", "squeeze"} {
		f.AddSuite(root, alias, "squeeze", "amd64", []archivetest.DebianPkg{{ABI: abi, Flavour: "amd64", Version: version}}, true)
	}
	f.AddSuite(root, "oldstable", "lenny", "amd64", []archivetest.DebianPkg{{ABI: "2.6.26-2", Flavour: "amd64", Version: "2.6.26-26lenny3"}}, true)
}

func TestDebianSnapshot(t *testing.T) {
	ctx := context.Background()
	f := archivetest.NewDebianArchive(t)
	f.Standard()
	addSnapshot(f, "2.6.32-4", "2.6.32-11", "20100412T083355Z")
	d := debianOf(f, false)
	d.Snapshot = f.URL("snapshot")
	r := &kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: d}

	k, err := r.Resolve(ctx, "debian:2.6.32-4")
	require.NoError(t, err)
	require.Equal(t, "2.6.32-4-amd64", k.Image.Release)
	require.Equal(t, "linux-image-2.6.32-4-amd64", k.Origin.Package)
	require.Equal(t, "2.6.32-11", k.Origin.PackageVersion, "the newest build, not 2.6.32-1")
	require.Equal(t, "squeeze", k.Origin.Suite)
	require.Contains(t, k.Origin.URL, "/snapshot/archive/debian/20100412T083355Z/pool/")

	// The retired archive is asked before the snapshot one.
	k, err = r.Resolve(ctx, "debian:2.6.32-5")
	require.NoError(t, err)
	require.Contains(t, k.Origin.URL, "/retired/debian/")

	t.Run("offline after a fetch", func(t *testing.T) {
		off := *r
		off.Offline = true
		k, err := off.Resolve(ctx, "debian:2.6.32-4")
		require.NoError(t, err)
		require.Equal(t, "2.6.32-11", k.Origin.PackageVersion)
	})

	t.Run("unknown everywhere", func(t *testing.T) {
		_, err := r.Resolve(ctx, "debian:2.6.18-6")
		kittest.RequireInputError(t, err, "no Debian archive")
	})

	t.Run("signed by a key the keyring lacks", func(t *testing.T) {
		g := archivetest.NewDebianArchive(t)
		g.Standard()
		other := archivetest.NewDebianArchive(t) // signs the snapshot with its own key
		addSnapshot(other, "2.6.32-4", "2.6.32-11", "20100412T083355Z")
		g.Mu.Lock()
		for p, b := range other.Files {
			g.Files[p] = b
		}
		g.Mu.Unlock()
		d := debianOf(g, false)
		d.Snapshot = g.URL("snapshot")
		_, err := (&kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: d}).Resolve(ctx, "debian:2.6.32-4")
		require.ErrorContains(t, err, "bad OpenPGP signature")
	})

	t.Run("snapshot off", func(t *testing.T) {
		d := debianOf(f, false)
		_, err := (&kernels.Resolver{Cache: store.Cache{Dir: t.TempDir()}, Debian: d}).Resolve(ctx, "debian:2.6.32-4")
		kittest.RequireInputError(t, err, "no Debian archive")
	})
}
