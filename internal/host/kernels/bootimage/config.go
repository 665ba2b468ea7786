package bootimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
)

// maxConfig bounds an embedded .config once decompressed (real ones are
// 100-300 KiB).
const maxConfig = 4 << 20

// ImageConfig returns the .config built into the image at path
// (CONFIG_IKCONFIG: gzip data between the markers "IKCFG_ST" and
// "IKCFG_ED" in vmlinux), or nil when the image carries none.
func ImageConfig(ctx context.Context, path string) ([]byte, error) {
	vmlinux, err := Vmlinux(ctx, path)
	if err != nil {
		return nil, err
	}
	return configIn(vmlinux)
}

// configIn finds and inflates the IKCONFIG blob in a decompressed kernel.
func configIn(vmlinux []byte) ([]byte, error) {
	start := bytes.Index(vmlinux, []byte("IKCFG_ST"))
	if start < 0 {
		return nil, nil
	}
	start += len("IKCFG_ST")
	end := bytes.Index(vmlinux[start:], []byte("IKCFG_ED"))
	if end < 0 {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(vmlinux[start : start+end]))
	if err != nil {
		return nil, fmt.Errorf("embedded .config: %w", err)
	}
	cfg, err := io.ReadAll(io.LimitReader(zr, maxConfig+1))
	if err != nil {
		return nil, fmt.Errorf("embedded .config: %w", err)
	}
	if len(cfg) > maxConfig {
		return nil, fmt.Errorf("embedded .config is larger than %d bytes", maxConfig)
	}
	return cfg, nil
}
