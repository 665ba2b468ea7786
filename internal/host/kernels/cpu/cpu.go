// Package cpu is the one table of the architectures a guest can have, and
// the names each distribution and toolchain gives them.
package cpu

import (
	"fmt"
	"strings"
)

// Architectures a guest can have (uname -m; i386 for every 32-bit x86).
const (
	X86_64  = "x86_64"
	I386    = "i386"
	ARM64   = "aarch64"
	RISCV64 = "riscv64"
	ARM     = "armv7l"
	PPC64LE = "ppc64le"
	S390X   = "s390x"
)

// info is what runmatrix knows of one architecture: the names a
// reference may give it (the first is the one shown), Debian's image
// flavour and port, the Go architecture of its guest binaries (the
// Makefile builds them for each: TestTable checks), the RPM package
// architecture and repository folder, and Alpine's repository folder.
// Adding an architecture is adding a row (and its machine in vm.Arch).
type info struct {
	arch            string
	names           []string
	flavour, debian string
	goarch          string
	rpmPkg, rpmDir  string
	alpine          string
}

var table = []info{
	{X86_64, []string{"amd64", "x86_64"}, "amd64", "amd64", "amd64", "x86_64", "x86_64", "x86_64"},
	{I386, []string{"i686", "686", "i386"}, "686", "i386", "386", "i686", "i386", "x86"},
	{ARM64, []string{"arm64", "aarch64"}, "arm64", "arm64", "arm64", "aarch64", "aarch64", "aarch64"},
	{ARM, []string{"armhf", "armv7l", "arm"}, "armmp", "armhf", "arm", "armv7l", "armv7l", "armv7"},
	{RISCV64, []string{"riscv64"}, "riscv64", "riscv64", "riscv64", "riscv64", "riscv64", "riscv64"},
	{PPC64LE, []string{"ppc64el", "ppc64le"}, "powerpc64le", "ppc64el", "ppc64le", "ppc64le", "ppc64le", "ppc64le"},
	{S390X, []string{"s390x"}, "s390x", "s390x", "s390x", "s390x", "s390x", "s390x"},
}

// infoOf returns the row of arch; x86_64 for "".
func infoOf(arch string) (info, bool) {
	if arch == "" {
		arch = X86_64
	}
	for _, a := range table {
		if a.arch == arch {
			return a, true
		}
	}
	return info{}, false
}

// All lists every architecture, in the table's order.
func All() []string {
	out := make([]string, 0, len(table))
	for _, a := range table {
		out = append(out, a.arch)
	}
	return out
}

// Parse reads the arch a reference names after its "/" ("i686",
// "arm64"); "" is x86_64.
func Parse(name string) (string, error) {
	if name == "" {
		return X86_64, nil
	}
	var known []string
	for _, a := range table {
		for _, n := range a.names {
			if n == name {
				return a.arch, nil
			}
		}
		if a.arch != X86_64 {
			known = append(known, "/"+a.names[0])
		}
	}
	return "", fmt.Errorf("unknown arch %q (use %s, or none for x86_64)", name, strings.Join(known, ", "))
}

// Name is the name a reference gives arch ("amd64", "arm64").
func Name(arch string) string {
	if a, ok := infoOf(arch); ok {
		return a.names[0]
	}
	return arch
}

// Suffix is how a reference names arch: "/i686", "/arm64"; "" for x86_64.
func Suffix(arch string) string {
	if a, ok := infoOf(arch); ok && a.arch != X86_64 {
		return "/" + a.names[0]
	}
	return ""
}

// GOARCH is the Go architecture of the guest binaries for arch.
func GOARCH(arch string) (string, error) {
	if a, ok := infoOf(arch); ok {
		return a.goarch, nil
	}
	return "", fmt.Errorf("no guest binaries for arch %q", arch)
}

// Debian is Debian's image flavour and port for arch (x86_64's for an
// arch it does not know).
func Debian(arch string) (flavour, port string) {
	a, ok := infoOf(arch)
	if !ok {
		a = table[0]
	}
	return a.flavour, a.debian
}

// DebianFlavours is the alternation of Debian's image flavours, for
// package names.
func DebianFlavours() string {
	var f []string
	for _, a := range table {
		f = append(f, a.flavour)
	}
	return strings.Join(f, "|")
}

// DebianPorts is the alternation of Debian's port names, for file names.
func DebianPorts() string {
	var f []string
	for _, a := range table {
		f = append(f, a.debian)
	}
	return strings.Join(f, "|")
}

// RPM is the architecture RPM packages and repository folders use.
func RPM(arch string) (pkg, dir string) {
	if a, ok := infoOf(arch); ok {
		return a.rpmPkg, a.rpmDir
	}
	return arch, arch
}

// Alpine is the repository folder of an arch.
func Alpine(arch string) string {
	if a, ok := infoOf(arch); ok {
		return a.alpine
	}
	return arch
}
