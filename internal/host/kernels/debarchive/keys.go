package debarchive

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// keys are Debian's archive signing keys as shipped by debian-archive-keyring
// (current releases, and the removed keys that signed retired releases).
//
//go:embed keys/*.asc
var keys embed.FS

// DebianKeyring returns Debian's archive signing keys. They are parsed (and
// their self-signatures checked) once per process: every suite of every
// kernel reference verifies with them, and parsing took about 30 ms a time.
func DebianKeyring() (openpgp.EntityList, error) {
	kr, err := debianKeyring()
	return append(openpgp.EntityList(nil), kr...), err
}

// debianKeyring parses the embedded keys once; the entities are only read.
var debianKeyring = sync.OnceValues(readDebianKeyring)

func readDebianKeyring() (openpgp.EntityList, error) {
	var all openpgp.EntityList
	err := fs.WalkDir(keys, "keys", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := keys.ReadFile(p)
		if err != nil {
			return err
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("embedded key %s: %w", p, err)
		}
		all = append(all, el...)
		return nil
	})
	return all, err
}

// ReadKeyring reads an armored or binary OpenPGP keyring.
func ReadKeyring(b []byte) (openpgp.EntityList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(b))
}

func armorDecode(b []byte) (io.Reader, error) {
	blk, err := armor.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return blk.Body, nil
}
