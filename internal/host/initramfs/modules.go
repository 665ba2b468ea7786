package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Module is a kernel module to load at boot, decompressed.
type Module struct {
	Name string // file name in the initramfs, e.g. "virtio_net.ko"
	Data []byte
}

// HasModule reports whether the kernel whose modules are in modulesDir has
// the module name, as a module or built in (modules.builtin).
func HasModule(modulesDir, name string) bool {
	name = strings.ReplaceAll(name, "-", "_")
	if builtinModules(filepath.Join(modulesDir, "modules.builtin"))[name] {
		return true
	}
	found := false
	_ = filepath.WalkDir(modulesDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if n, ok := moduleName(d.Name()); ok && strings.ReplaceAll(n, "-", "_") == name {
				found = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return found
}

// NICModules returns, in load order, the modules (with dependencies) of
// the driver stacks (each a list of modules to load in order, such as
// virtio_pci then virtio_net) present as modules in modulesDir; drivers
// built into the kernel (modules.builtin) need nothing.
func NICModules(modulesDir string, stacks [][]string) ([]Module, error) {
	index := map[string]string{}
	err := filepath.WalkDir(modulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := moduleName(d.Name()); ok && !d.IsDir() {
			index[name] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules %s: %w", modulesDir, err)
	}
	builtin := builtinModules(filepath.Join(modulesDir, "modules.builtin"))
	var out []Module
	seen := map[string]bool{}
	var visit func(name string, stack int) error
	visit = func(name string, stack int) error {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] || builtin[name] {
			return nil
		}
		seen[name] = true
		if stack > 32 {
			return fmt.Errorf("module %s: dependency loop", name)
		}
		p, ok := index[name]
		if !ok {
			return fmt.Errorf("module %s: not in %s", name, modulesDir)
		}
		data, err := readModule(p)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		for _, d := range deps {
			if err := visit(d, stack+1); err != nil {
				return err
			}
		}
		out = append(out, Module{Name: name + ".ko", Data: data})
		return nil
	}
	for _, stack := range stacks {
		for _, m := range stack {
			if _, ok := index[m]; !ok {
				continue
			}
			if err := visit(m, 0); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func moduleName(file string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(file, ext) {
			return strings.ReplaceAll(strings.TrimSuffix(file, ext), "-", "_"), true
		}
	}
	return "", false
}

func builtinModules(path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if name, ok := moduleName(filepath.Base(strings.TrimSpace(s.Text()))); ok {
			out[name] = true
		}
	}
	return out
}

// maxModule bounds one module once decompressed (the largest in-tree
// modules are a few MiB; a .ko that grows past this is no module).
const maxModule = 64 << 20

func readModule(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(p, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		r = zr
	case strings.HasSuffix(p, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderMaxMemory(maxModule), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(p, ".xz"):
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "xz", "-dc")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("xz -dc: %w (install xz-utils)", err)
		}
		m, rerr := io.ReadAll(io.LimitReader(out, maxModule+1))
		if len(m) > maxModule {
			cancel() // stops an xz with more to say
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s: larger than %d MiB decompressed; not a module", p, maxModule>>20)
		}
		werr := cmd.Wait()
		switch {
		case rerr != nil:
			return nil, rerr
		case werr != nil:
			return nil, fmt.Errorf("xz -dc: %w (install xz-utils)", werr)
		}
		return m, nil
	default:
		return b, nil
	}
	m, err := io.ReadAll(io.LimitReader(r, maxModule+1))
	if err != nil {
		return nil, err
	}
	if len(m) > maxModule {
		return nil, fmt.Errorf("%s: larger than %d MiB decompressed; not a module", p, maxModule>>20)
	}
	return m, nil
}

// moduleDepends reads the depends= field of a module's .modinfo section.
func moduleDepends(data []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an ELF module: %w", err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}
