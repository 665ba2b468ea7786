//go:build embedguest

package guestbin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// prebuilt holds the binaries `make build` compiled before runmatrix itself.
//
//go:embed prebuilt
var prebuilt embed.FS

func (b *Builder) fromEmbedded(goarch string) (Binaries, bool, error) {
	var out, sums [2]string
	for i, name := range []string{"guest-init", "guest-agent"} {
		data, err := prebuilt.ReadFile("prebuilt/linux_" + goarch + "/" + name)
		if err != nil {
			return Binaries{}, false, nil
		}
		sum := sha256.Sum256(data)
		p, err := b.Cache.Path("guestbin", "embedded", hex.EncodeToString(sum[:12]), name)
		if err != nil {
			return Binaries{}, true, err
		}
		// Every writer renames its own temporary file into place, so guests
		// prepared at once, in one process or several, never race.
		if got, err := os.ReadFile(p); err != nil || sha256.Sum256(got) != sum {
			if err := store.WriteFileAtomic(p, data, 0o755); err != nil {
				return Binaries{}, true, err
			}
		}
		out[i], sums[i] = filepath.Clean(p), hex.EncodeToString(sum[:])
	}
	return Binaries{Init: out[0], Agent: out[1], InitSHA256: sums[0], AgentSHA256: sums[1]}, true, nil
}
