package kernels

import (
	"encoding/json"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// writeJSONAtomic writes v as indented JSON to path, atomically.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, b, 0o644)
}
