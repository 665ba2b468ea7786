package kit

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// keysID names a set of keys by their fingerprints, sorted and hashed.
// Cached indexes and extracted kernels record the keys that vouched for
// them and are used only under the same keys: a kernel accepted under
// --debian-keyring (or a test's key) is not reused by a run without it.
func keysID(fingerprints [][]byte) string {
	hexes := make([]string, 0, len(fingerprints))
	for _, f := range fingerprints {
		hexes = append(hexes, hex.EncodeToString(f))
	}
	sort.Strings(hexes)
	h := sha256.New()
	for _, s := range hexes {
		h.Write([]byte(s + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// OpenPGPKeysID is keysID of an OpenPGP keyring's primary keys and subkeys.
func OpenPGPKeysID(el openpgp.EntityList) string {
	var fps [][]byte
	for _, e := range el {
		if e.PrimaryKey != nil {
			fps = append(fps, e.PrimaryKey.Fingerprint)
		}
		for _, s := range e.Subkeys {
			if s.PublicKey != nil {
				fps = append(fps, s.PublicKey.Fingerprint)
			}
		}
	}
	return keysID(fps)
}

// RSAKeysID is keysID of named RSA keys (Alpine's).
func RSAKeysID(keys map[string]*rsa.PublicKey) string {
	var fps [][]byte
	for name, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			continue
		}
		s := sha256.Sum256(append([]byte(name+"\x00"), der...))
		fps = append(fps, s[:])
	}
	return keysID(fps)
}

// treeOf records the size of every regular file extracted under dir.
func treeOf(dir string, names []string) (map[string]int64, error) {
	tree := map[string]int64{}
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			tree[n] = fi.Size()
		}
	}
	return tree, nil
}

// checkTree compares the files under dir with what the Manifest recorded
// when they were extracted: each is still there, a regular file of its
// size, and the config has its digest. It costs a stat per file.
func checkTree(dir string, m Manifest) error {
	for n, size := range m.Files {
		fi, err := os.Lstat(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if !fi.Mode().IsRegular() || fi.Size() != size {
			return fmt.Errorf("%s: %d bytes (%v), extracted with %d", n, fi.Size(), fi.Mode().Type(), size)
		}
	}
	if m.Config != "" && m.ConfigSHA256 != "" {
		sum, err := store.FileSHA256(filepath.Join(dir, m.Config))
		if err != nil {
			return err
		}
		if sum != m.ConfigSHA256 {
			return fmt.Errorf("%s: sha256 %s, extracted as %s", m.Config, sum, m.ConfigSHA256)
		}
	}
	return nil
}
