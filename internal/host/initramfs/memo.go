package initramfs

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// A Memo remembers which cached base archive a set of inputs built, so a
// later run need not find, decompress and archive the same modules again
// to learn it. It is only a shortcut: an archive whose digest is no longer
// the one recorded is not used, and the caller builds it again.
type Memo struct {
	Cache store.Cache
	// Key names the inputs (binaries, modules directory, module stacks,
	// extra files); equal keys must mean equal archives.
	Key string
}

// memoEntry is what a Memo file holds.
type memoEntry struct {
	Archive string   `json:"archive"` // file name under the cache's initramfs directory
	SHA256  string   `json:"sha256"`
	Modules []string `json:"modules"` // the module file names in it, in order
}

func (m Memo) path() (string, error) { return m.Cache.Path("initramfs", m.Key+".base.json") }

// Lookup returns the remembered archive and the names of the modules in
// it; ok is false when nothing is remembered or the archive changed.
func (m Memo) Lookup() (archive string, modules []Module, ok bool) {
	p, err := m.path()
	if err != nil {
		return "", nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", nil, false
	}
	var e memoEntry
	if json.Unmarshal(b, &e) != nil || e.Archive != filepath.Base(e.Archive) {
		return "", nil, false
	}
	archive = filepath.Join(filepath.Dir(p), e.Archive)
	if sum, err := store.FileSHA256(archive); err != nil || sum != e.SHA256 {
		return "", nil, false
	}
	for _, name := range e.Modules {
		modules = append(modules, Module{Name: name})
	}
	return archive, modules, true
}

// Remember records that the inputs built archive with these modules.
func (m Memo) Remember(archive string, modules []Module) error {
	sum, err := store.FileSHA256(archive)
	if err != nil {
		return err
	}
	e := memoEntry{Archive: filepath.Base(archive), SHA256: sum, Modules: []string{}}
	for _, mod := range modules {
		e.Modules = append(e.Modules, mod.Name)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p, err := m.path()
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(p, b, 0o644)
}
