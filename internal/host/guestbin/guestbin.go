// Package guestbin provides the static guest binaries (init and agent) for a
// guest architecture, built with the Go toolchain that still supports Linux
// 2.6.32 and cached by the hash of their source.
package guestbin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Toolchain is the newest Go release that still runs on Linux 2.6.32.
const Toolchain = "go1.23.12"

// Binaries are the paths of one architecture's guest programs, with the
// sha256 of each (hex).
type Binaries struct {
	Init        string
	Agent       string
	InitSHA256  string
	AgentSHA256 string
}

// Builder produces guest binaries.
type Builder struct {
	Cache store.Cache
	// SourceDir is the runmatrix source tree; empty means the tree this
	// package was compiled from, or $RUNMATRIX_SRC.
	SourceDir string
	// Agent, when set, builds the guest agent for a GOARCH in place of the
	// built-in one (a user's case packages linked in) and returns its path.
	Agent func(ctx context.Context, goarch string) (string, error)
	// Log, when set, is told when binaries are built from source (tens
	// of seconds on first use), so a run does not seem to hang.
	Log func(string)
}

// Get returns the binaries for arch, from the embedded set or built from source.
func (b *Builder) Get(ctx context.Context, arch string) (Binaries, error) {
	goarch, err := cpu.GOARCH(arch)
	if err != nil {
		return Binaries{}, err
	}
	bins, err := b.builtin(ctx, goarch)
	if err != nil {
		return Binaries{}, err
	}
	if b.Agent != nil {
		if bins.Agent, err = b.Agent(ctx, goarch); err != nil {
			return Binaries{}, err
		}
		bins.AgentSHA256 = ""
	}
	for _, f := range []struct{ path, sum *string }{{&bins.Init, &bins.InitSHA256}, {&bins.Agent, &bins.AgentSHA256}} {
		if *f.sum == "" {
			if *f.sum, err = store.FileSHA256(*f.path); err != nil {
				return Binaries{}, err
			}
		}
	}
	return bins, nil
}

// builtin returns runmatrix's own init and agent for goarch.
func (b *Builder) builtin(ctx context.Context, goarch string) (Binaries, error) {
	if bins, ok, err := b.fromEmbedded(goarch); ok || err != nil {
		return bins, err
	}
	src, err := b.sourceDir()
	if err != nil {
		return Binaries{}, err
	}
	digest, err := treeHash(src)
	if err != nil {
		return Binaries{}, err
	}
	dir, err := b.Cache.Path("guestbin", digest[:24], "linux_"+goarch, "x")
	if err != nil {
		return Binaries{}, err
	}
	dir = filepath.Dir(dir)
	bins := Binaries{Init: filepath.Join(dir, "guest-init"), Agent: filepath.Join(dir, "guest-agent")}
	unlock, err := b.Cache.Lock("guestbin-" + digest[:24] + "-" + goarch)
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	told := false
	for _, p := range []struct{ pkg, out string }{{"./cmd/guest-init", bins.Init}, {"./cmd/guest-agent", bins.Agent}} {
		if _, err := os.Stat(p.out); err == nil {
			continue
		}
		if !told && b.Log != nil {
			b.Log(fmt.Sprintf("building the guest binaries for linux/%s from %s (this binary has none embedded; about 30 s, once per source tree, then cached)", goarch, src))
			told = true
		}
		if err := Build(ctx, src, p.pkg, goarch, p.out); err != nil {
			return Binaries{}, err
		}
	}
	return bins, nil
}

// Build compiles one guest package as a static binary for goarch.
func Build(ctx context.Context, src, pkg, goarch, out string) error {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+Toolchain, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM=7")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s with %s: %v: %s (is go on PATH and the module proxy reachable?)",
			pkg, goarch, Toolchain, err, strings.TrimSpace(string(outb)))
	}
	return os.Rename(tmp, out)
}

func (b *Builder) sourceDir() (string, error) {
	for _, d := range []string{b.SourceDir, os.Getenv("RUNMATRIX_SRC"), compiledSourceDir()} {
		if d == "" {
			continue
		}
		if mod, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.Contains(string(mod), "module github.com/runmatrix/runmatrix\n") {
			return d, nil
		}
	}
	return "", fmt.Errorf("no guest binaries: build runmatrix with `make build`, or set RUNMATRIX_SRC to the runmatrix source tree")
}

func compiledSourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file)))) // internal/host/guestbin/guestbin.go
}

// treeHash hashes the Go sources, go.mod and go.sum of the tree and the toolchain name.
func treeHash(root string) (string, error) {
	h := sha256.New()
	io.WriteString(h, Toolchain+"\n")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !(strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) && name != "go.mod" && name != "go.sum" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash guest sources: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
