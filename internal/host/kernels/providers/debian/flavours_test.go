package debian

import (
	"testing"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/stretchr/testify/require"
)

// TestDebianImageFlavours: the image package of every architecture's
// Debian flavour is recognised.
func TestDebianImageFlavours(t *testing.T) {
	for _, a := range cpu.All() {
		flav, _ := cpu.Debian(a)
		require.True(t, imagePackage.MatchString("linux-image-6.12.118+deb13-"+flav), flav)
	}
}
