package vm

import (
	"fmt"
	"os"
)

// KVMDevice reports whether /dev/kvm can be opened; a usable device does not
// mean KVM guests work (nested virtualisation can hang them), so callers must
// still prove it with a real boot.
func KVMDevice() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/kvm: %w", err)
	}
	return f.Close()
}
