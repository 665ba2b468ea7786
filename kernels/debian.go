package kernels

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// debianManifest records what a cached Debian kernel was extracted from.
type debianManifest struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	DebSHA256 string `json:"deb_sha256"`
	Image     string `json:"image"`
	Modules   string `json:"modules"`
	Config    string `json:"config"`
}

// debianFlavour maps an arch to Debian's image flavour and package architecture.
func debianFlavour(arch string) (flavour, debArch string) {
	if arch == ArchI386 {
		return "686", "i386"
	}
	return "amd64", "amd64"
}

// newestDebianPackage finds the newest linux-image-SERIES…-FLAVOUR-unsigned package apt knows.
func newestDebianPackage(ctx context.Context, series, arch string) (name, version string, err error) {
	flavour, debArch := debianFlavour(arch)
	pat := fmt.Sprintf(`^linux-image-%s[.-][0-9][^ ]*-%s-unsigned$`, regexp.QuoteMeta(series), flavour)
	re := regexp.MustCompile(pat)
	out, err := run(ctx, "apt-cache", "search", "--names-only", pat)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		n, _, _ := strings.Cut(line, " ")
		if !re.MatchString(n) {
			continue
		}
		pkg := n
		if debArch != "amd64" {
			pkg = n + ":" + debArch
		}
		v, err := candidateVersion(ctx, pkg)
		if err != nil {
			return "", "", err
		}
		if v == "" {
			continue
		}
		if version == "" || debVersionGreater(ctx, v, version) {
			name, version = pkg, v
		}
	}
	if err := ctx.Err(); err != nil {
		return "", "", err // a cancelled comparison must not pick an older package
	}
	if name == "" {
		fix := "run: apt-get update"
		if debArch != "amd64" {
			fix = "run: dpkg --add-architecture " + debArch + " && apt-get update"
		}
		return "", "", fmt.Errorf("no Debian package linux-image-%s…-%s-unsigned is known to apt; %s", series, flavour, fix)
	}
	return name, version, nil
}

func candidateVersion(ctx context.Context, pkg string) (string, error) {
	out, err := run(ctx, "apt-cache", "policy", pkg)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok {
			v = strings.TrimSpace(v)
			if v == "(none)" {
				return "", nil
			}
			return v, nil
		}
	}
	return "", nil
}

func debVersionGreater(ctx context.Context, a, b string) bool {
	return exec.CommandContext(ctx, "dpkg", "--compare-versions", a, "gt", b).Run() == nil
}

// resolveDebian downloads and extracts (once) the newest kernel package of a series.
func (r *Resolver) resolveDebian(ctx context.Context, ref Ref) (*Kernel, error) {
	pkg, version, err := newestDebianPackage(ctx, ref.Series, ref.Arch)
	if err != nil {
		return nil, err
	}
	key := strings.NewReplacer(":", "_", "+", "_", "~", "_").Replace(pkg + "_" + version)
	dir, err := r.Cache.Path("debian", key)
	if err != nil {
		return nil, err
	}
	unlock, err := r.Cache.Lock("debian-" + key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := readManifest(dir)
	if err != nil {
		r.logf("downloading %s %s", pkg, version)
		if m, err = r.fetchDebian(ctx, pkg, version, dir); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Raw, err)
		}
	}
	k, err := newKernel(ref, filepath.Join(dir, m.Image))
	if err != nil {
		return nil, err
	}
	k.ModulesDir = filepath.Join(dir, m.Modules)
	if m.Config != "" {
		k.Config = filepath.Join(dir, m.Config)
	}
	k.Origin.Package, k.Origin.PackageVersion, k.Origin.DebSHA256 = m.Package, m.Version, m.DebSHA256
	return k, nil
}

func readManifest(dir string) (debianManifest, error) {
	var m debianManifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

func (r *Resolver) fetchDebian(ctx context.Context, pkg, version, dir string) (debianManifest, error) {
	m := debianManifest{Package: pkg, Version: version}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-*")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "apt-get", "download", pkg+"="+version)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return m, fmt.Errorf("apt-get download %s: %v: %s", pkg, err, lastLine(out))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return m, fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	if m.DebSHA256, err = FileSHA256(debs[0]); err != nil {
		return m, err
	}
	root := filepath.Join(tmp, "root")
	if err := extractDeb(ctx, debs[0], root, &m); err != nil {
		return m, err
	}
	if m.Image == "" {
		return m, fmt.Errorf("%s has no boot/vmlinuz", pkg)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(root, "manifest.json"), b, 0o644); err != nil {
		return m, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(root, dir); err != nil {
		return m, fmt.Errorf("cache: %w", err)
	}
	return m, nil
}

// extractDeb unpacks the image, its config and the modules tree of a kernel package.
func extractDeb(ctx context.Context, deb, root string, m *debianManifest) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w (install dpkg)", err)
	}
	terr := extractTar(out, root, m)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb %s: %v: %s", filepath.Base(deb), err, lastLine(stderr.Bytes()))
	}
	return terr
}

func extractTar(r io.Reader, root string, m *debianManifest) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read package: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		keep := strings.HasPrefix(name, "boot/vmlinuz-") || strings.HasPrefix(name, "boot/config-") ||
			strings.HasPrefix(name, "lib/modules/")
		if !keep || h.Typeflag != tar.TypeReg || strings.Contains(name, "..") {
			continue
		}
		dst := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		switch {
		case strings.HasPrefix(name, "boot/vmlinuz-"):
			m.Image = name
		case strings.HasPrefix(name, "boot/config-"):
			m.Config = name
		default:
			if parts := strings.SplitN(name, "/", 4); len(parts) == 4 && m.Modules == "" {
				m.Modules = strings.Join(parts[:3], "/")
			}
		}
	}
}

func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%s: %v: %s", name, err, lastLine(ee.Stderr))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
