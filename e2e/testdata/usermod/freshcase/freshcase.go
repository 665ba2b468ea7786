// Package freshcase has two cases that leave a file behind in the guest,
// state outside their network namespaces: one asks for a guest of its
// own (Fresh), the other shares its kernel's guest.
package freshcase

import (
	"errors"
	"io/fs"
	"os"

	"github.com/runmatrix/runmatrix/testcases"
)

func init() {
	testcases.Register(&testcases.Case{
		ID:    "usermod.fresh-guest",
		Title: "leaves a file behind, on a guest of its own",
		Fresh: true,
		Run:   leave("/tmp/usermod-fresh-marker"),
	})
	testcases.Register(&testcases.Case{
		ID:    "usermod.shared-guest",
		Title: "leaves a file behind, on the kernel's shared guest",
		Run:   leave("/tmp/usermod-shared-marker"),
	})
}

// leave creates marker, failing if it exists (O_EXCL: of two cells on one
// guest, exactly one finds it), and notes which it was.
func leave(marker string) func(t *testcases.T) error {
	return func(t *testcases.T) error {
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		switch {
		case errors.Is(err, fs.ErrExist):
			t.Notef("left behind by another cell")
		case err != nil:
			return err
		default:
			f.Close()
			t.Notef("a clean guest")
		}
		return nil
	}
}
