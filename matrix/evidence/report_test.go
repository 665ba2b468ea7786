package evidence

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/kernels"
	"github.com/runmatrix/runmatrix/matrix/results"
)

// TestOriginNamesItsDistribution says where a kernel came from in the
// distribution's own words.
func TestOriginNamesItsDistribution(t *testing.T) {
	for _, tc := range []struct {
		o    kernels.Origin
		want string
	}{
		{kernels.Origin{Package: "linux-image-6.1.0-57-amd64-unsigned", PackageVersion: "6.1.192-3", DebSHA256: "ab", Suite: "bookworm-security", SHA256: "cd"},
			"Debian package `linux-image-6.1.0-57-amd64-unsigned` version `6.1.192-3` (deb sha256 `ab`), image sha256 `cd`"},
		{kernels.Origin{Package: "linux-image-6.8.0-151-generic", PackageVersion: "6.8.0-151.151", DebSHA256: "ab", Suite: "Ubuntu 24.04 noble-security", SHA256: "cd"},
			"Ubuntu package (Ubuntu 24.04 noble-security) `linux-image-6.8.0-151-generic`"},
		{kernels.Origin{Package: "kernel", PackageVersion: "2.6.32-504.el6", PackageSHA256: "ef", Suite: "CentOS 6.6", SHA256: "cd", URL: "https://vault.centos.org/6.6/os/x86_64/Packages/kernel-2.6.32-504.el6.x86_64.rpm"},
			"CentOS 6.6 package `kernel` version `2.6.32-504.el6` (package sha256 `ef`), image sha256 `cd`, from https://vault.centos.org/"},
	} {
		require.Contains(t, origin(results.Kernel{Origin: tc.o}), tc.want)
	}
}
